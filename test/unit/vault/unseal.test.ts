import test from 'ava';
import { secret } from '../../../operator/framework/logger.js';
import type { Decryptor, Encryptor } from '../../../operator/kms/decryptor.js';
import { decodeKeysSecretData, encodeKeysSecretData, hasStoredKeys, kmsContext, parseEncryptionContext, unsealKeyNames } from '../../../operator/vault/unseal.js';

/** Reversible stand-in for KMS that also checks the context round-trips. */
function fakeKms(): Encryptor & Decryptor & { calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    async encrypt({ plaintext, context, keyId }) {
      calls.push(`enc ${keyId} ${JSON.stringify(context)}`);
      return { ciphertext: Buffer.from(Buffer.from(plaintext).toString('utf8').split('').reverse().join('') + '|' + JSON.stringify(context)), keyId };
    },
    async decrypt({ ciphertext, context }) {
      const [body, ctx] = Buffer.from(ciphertext).toString('utf8').split('|');
      if (ctx !== JSON.stringify(context)) throw new Error('context mismatch');
      return { plaintext: Buffer.from(body!.split('').reverse().join('')), keyId: 'k' };
    },
  };
}

test('keys round-trip through the Secret layout in share order', async (t) => {
  const data = await encodeKeysSecretData({ keys: ['k0', 'k1', 'k2'].map((v) => secret(v)), rootToken: secret('root') }, undefined);
  t.deepEqual(Object.keys(data).sort(), ['vault-root', 'vault-unseal-0', 'vault-unseal-1', 'vault-unseal-2']);
  const back = await decodeKeysSecretData(data, undefined);
  t.deepEqual(back.keys.map((k) => k.reveal()), ['k0', 'k1', 'k2']);
  t.is(back.rootToken?.reveal(), 'root');
});

test('with KMS the stored values are ciphertext bound to the resource', async (t) => {
  const kms = fakeKms();
  const cipher = { kms, keyId: 'alias/vault', context: kmsContext('ns', 'v') };
  const data = await encodeKeysSecretData({ keys: [secret('plainkey')] }, cipher);
  // what is stored is exactly what KMS returned for this key id and this resource's context
  t.deepEqual(kms.calls, [`enc alias/vault ${JSON.stringify(kmsContext('ns', 'v'))}`]);
  const expected = await fakeKms().encrypt({ plaintext: Buffer.from('plainkey'), context: kmsContext('ns', 'v'), keyId: 'alias/vault' });
  t.is(data['vault-unseal-0'], Buffer.from(expected.ciphertext).toString('base64'));
  t.is((await decodeKeysSecretData(data, cipher)).keys[0]!.reveal(), 'plainkey');
  await t.throwsAsync(decodeKeysSecretData(data, { kms, context: kmsContext('ns', 'other') }), { message: /context/ });
});

test('unseal key names sort numerically and ignore other keys', (t) => {
  const data = { 'vault-unseal-10': 'a', 'vault-unseal-2': 'b', 'vault-root': 'c', 'vault-unseal-x': 'd' };
  t.deepEqual(unsealKeyNames(data), ['vault-unseal-2', 'vault-unseal-10']);
  t.true(hasStoredKeys(data));
  t.false(hasStoredKeys({}));
});

test('keys Bank-Vaults stored (no context, or its kmsEncryptionContext) are read; others still are not', async (t) => {
  const kms = fakeKms();
  const bankVaults = await encodeKeysSecretData({ keys: [secret('bv-key')], rootToken: secret('bv-root') }, { kms, keyId: 'k', context: {} });
  const ours = { kms, keyId: 'k', context: kmsContext('ns', 'v') };
  await t.throwsAsync(decodeKeysSecretData(bankVaults, ours), { message: /context/ }, 'without the fallback: refused');
  const migrated = { ...ours, fallbackContexts: [{}] };
  const back = await decodeKeysSecretData(bankVaults, migrated);
  t.is(back.keys[0]!.reveal(), 'bv-key');
  t.is(back.rootToken!.reveal(), 'bv-root');
  const withContext = await encodeKeysSecretData({ keys: [secret('bv-key2')] }, { kms, keyId: 'k', context: parseEncryptionContext('app=vault, team=a') });
  t.is((await decodeKeysSecretData(withContext, { ...ours, fallbackContexts: [{ app: 'vault', team: 'a' }] })).keys[0]!.reveal(), 'bv-key2');
  // our own ciphertext of another resource stays refused
  const other = await encodeKeysSecretData({ keys: [secret('x')] }, { kms, keyId: 'k', context: kmsContext('ns', 'other') });
  await t.throwsAsync(decodeKeysSecretData(other, migrated));
});

test('decoded keys are registered for redaction in the given scope only (the Secret\'s writer chose them)', async (t) => {
  const { clearMarkedSecrets, markedSecretCounts, objectScope, redactText, REDACTED } = await import('../../../operator/framework/logger.js');
  clearMarkedSecrets();
  t.teardown(clearMarkedSecrets);
  const data = await encodeKeysSecretData({ keys: [secret('namespace')], rootToken: secret('controller') }, undefined);
  clearMarkedSecrets();
  const scope = objectScope('Vault', 'team-a', 'v');
  const back = await decodeKeysSecretData(data, undefined, scope);
  t.is(back.keys[0]!.reveal(), 'namespace');
  t.is(markedSecretCounts().global, 0);
  t.is(redactText('namespace', scope), REDACTED);
  t.is(redactText('namespace'), 'namespace', 'other lines keep the word');
});
