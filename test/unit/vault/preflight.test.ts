import test from 'ava';
import { KmsError, KmsFailure } from '../../../operator/kms/decryptor.js';
import { describeKmsPreFlightFailure, keysNotStoredMessage, kmsRoundTrip, preFlightChecksEnabled } from '../../../operator/vault/preflight.js';
import { FakeKms } from '../cli/fake-kms.js';

const context = { 'vault.autopilot.dev/vault': 'ns/v' };

test('preFlightChecks is on unless set to false (Bank-Vaults default)', (t) => {
  t.true(preFlightChecksEnabled(undefined));
  t.true(preFlightChecksEnabled({ options: {} }));
  t.true(preFlightChecksEnabled({ options: { preFlightChecks: true } }));
  t.false(preFlightChecksEnabled({ options: { preFlightChecks: false } }));
});

test('KMS round trip: ok with a working key, and it used the same key and context both ways', async (t) => {
  const kms = new FakeKms();
  t.deepEqual(await kmsRoundTrip({ kms, keyId: 'alias/good', context }), { ok: true });
  const [stored] = [...kms.store.values()];
  t.is(stored?.keyId, 'alias/good');
  t.is(stored?.context, JSON.stringify(Object.entries(context)));
});

test('KMS round trip: a missing key and an outage are told apart; only the outage is transient', async (t) => {
  const kms = new FakeKms();
  const missing = await kmsRoundTrip({ kms, keyId: 'alias/missing', context });
  t.false(missing.ok);
  if (!missing.ok) {
    t.false(missing.transient);
    t.regex(missing.message, /alias\/missing.*no such key.*kmsKeyId/);
  }
  kms.down = true;
  const down = await kmsRoundTrip({ kms, keyId: 'alias/good', context });
  t.false(down.ok);
  if (!down.ok) {
    t.true(down.transient);
    t.regex(down.message, /could not be reached.*will retry/);
  }
});

test('KMS round trip: a decrypt that returns other bytes fails', async (t) => {
  const kms = {
    encrypt: async () => ({ ciphertext: Buffer.from('x'), keyId: 'k' }),
    decrypt: async () => ({ plaintext: Buffer.alloc(32, 1), keyId: 'k' }),
  };
  const out = await kmsRoundTrip({ kms, keyId: 'k', context });
  t.false(out.ok);
  if (!out.ok) t.regex(out.message, /differs/);
});

test('access denied names the permissions needed', (t) => {
  t.regex(describeKmsPreFlightFailure(new KmsError(KmsFailure.AccessDenied, 'AccessDeniedException', 'no'), 'arn:k'), /kms:Encrypt and kms:Decrypt/);
  t.regex(describeKmsPreFlightFailure(new KmsError(KmsFailure.KeyUnusable, 'DisabledException', 'no'), 'k'), /disabled/);
});

test('keys not stored: said for managed Vaults, and for adopted ones only when the operator started the init', (t) => {
  const base = { keysSecretName: 'v-unseal-keys', address: 'https://v-0:8200', volumeClaims: ['data-v-0'] };
  t.is(keysNotStoredMessage({ ...base, managed: false, initStartedAt: undefined, volumeClaims: [] }), undefined);
  const managed = keysNotStoredMessage({ ...base, managed: true, initStartedAt: undefined })!;
  t.regex(managed, /holds no unseal keys/);
  t.regex(managed, /PersistentVolumeClaims data-v-0/);
  t.regex(managed, /put the existing keys into Secret v-unseal-keys/);
  const crashed = keysNotStoredMessage({ ...base, managed: false, initStartedAt: '2026-01-01T00:00:00.000Z', volumeClaims: [] })!;
  t.regex(crashed, /started initialising it at 2026-01-01T00:00:00.000Z/);
  t.regex(crashed, /empty its storage backend/);
});
