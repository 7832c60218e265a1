// unsealConfig.vault (Bank-Vaults' key store in another Vault): when it is
// used, and what the operator refuses to send to an address a tenant wrote.
import test from 'ava';
import type { VaultResource } from '../../../../operator/api/vault.js';
import { keyStoreChangeDecision, keyStoreDecision, keyStoreGate, usesKeyStore } from '../../../../operator/controllers/vault/key-store.js';
import { ignoredFields } from '../../../../operator/controllers/vault/bankvaults-report.js';

const trust = { allowed: ['https://keys.example.test:8200'], allowHttp: false };
const vault = (store: Record<string, unknown>, extra: Record<string, unknown> = {}): VaultResource =>
  ({ apiVersion: 'vault.autopilot.dev/v1alpha1', kind: 'Vault', metadata: { name: 'v', namespace: 'team-a' }, spec: { unsealConfig: { vault: store, ...extra } } }) as VaultResource;
const good = { address: 'https://keys.example.test:8200', unsealKeysPath: '/secret/data/vault-keys/', token: 'hvs.tenant' };

test('a complete store on an allowed address is used, path trimmed', (t) => {
  const d = keyStoreDecision(vault(good), trust);
  t.true(d.ok);
  if (d.ok) t.deepEqual(d.store, { address: 'https://keys.example.test:8200', path: 'secret/data/vault-keys', token: 'hvs.tenant' });
  t.true(usesKeyStore(vault(good)));
  t.false(usesKeyStore(vault({})), 'an empty object is no store');
});

test('unsealConfig.aws wins over unsealConfig.vault, and the store is reported', (t) => {
  const v = vault(good, { aws: { kmsKeyId: 'k' } });
  t.false(usesKeyStore(v));
  t.true(ignoredFields(v.spec).some((f) => f.field === 'spec.unsealConfig.vault'));
  t.false(ignoredFields(vault(good).spec).some((f) => f.field === 'spec.unsealConfig.vault'), 'honoured alone');
});

test('an address the platform did not list, or http, gets nothing; the message never has the token', (t) => {
  for (const address of ['https://evil.example.test:8200', 'http://keys.example.test:8200', 'https://keys.example.test:8200/v1']) {
    const d = keyStoreDecision(vault({ ...good, address }), trust);
    t.false(d.ok, address);
    if (!d.ok) {
      t.regex(d.message, /spec\.unsealConfig\.vault\.address/);
      t.false(d.message.includes('hvs.tenant'));
    }
  }
});

test('no token: role/authPath (the operator\'s identity) and tokenPath (a file in its pod) are never used; reported', (t) => {
  const d = keyStoreDecision(vault({ address: good.address, unsealKeysPath: 'secret/data/k', role: 'unsealer', authPath: 'kubernetes', tokenPath: '/var/run/secrets/kubernetes.io/serviceaccount/token' }), trust);
  t.false(d.ok);
  if (!d.ok) {
    t.is(d.reason, 'InvalidSpec');
    t.regex(d.message, /token \(or tokenSecretRef, a Secret of this namespace labelled for this Vault\) is required/);
  }
  const names = ignoredFields(vault({ ...good, role: 'r', authPath: 'kubernetes', tokenPath: '/x' }).spec).map((f) => f.field);
  t.deepEqual(names, ['spec.unsealConfig.vault.tokenPath', 'spec.unsealConfig.vault.role', 'spec.unsealConfig.vault.authPath']);
});

test('address and path are required; a path outside a KV mount is refused', (t) => {
  for (const [store, re] of [
    [{ unsealKeysPath: 'secret/data/k', token: 't' }, /address is required/],
    [{ address: good.address, token: 't' }, /unsealKeysPath is required/],
    [{ ...good, unsealKeysPath: 'sys/policies/acl' }, /not a KV path/],
    [{ ...good, unsealKeysPath: 'secret/../auth/token' }, /not a KV path/],
    [{ ...good, unsealKeysPath: 'secret/%2e%2e/sys/seal' }, /not a KV path/],
    [{ ...good, unsealKeysPath: 'secret/data/k?list=true' }, /not a KV path/],
    [{ ...good, unsealKeysPath: 'secret/data/k#x' }, /not a KV path/],
    [{ ...good, unsealKeysPath: 'secret\\..\\sys' }, /not a KV path/],
    [{ ...good, unsealKeysPath: 'sys' }, /not a KV path/],
  ] as const) {
    const d = keyStoreDecision(vault(store), trust);
    t.false(d.ok);
    if (!d.ok) t.regex(d.message, re);
  }
});

test('pinned once initialised: another address or path, or no store, is refused (AddressChanged) with the admin\'s way out; the same store passes', (t) => {
  const pinned = (store: Record<string, unknown>, extra: Record<string, unknown> = {}): VaultResource => ({
    ...vault(store, extra),
    status: { initialized: true, keyStore: { address: 'https://keys.example.test:8200', path: 'secret/data/vault-keys' } },
  });
  const trust2 = { allowed: ['https://keys.example.test:8200', 'https://other.example.test:8200'], allowHttp: false };
  t.true(keyStoreChangeDecision(pinned(good)).ok, 'same store (trailing slashes as the operator trims them)');
  t.true(keyStoreGate(pinned(good), trust2).ok);
  t.true(keyStoreChangeDecision(vault({ ...good, address: 'https://other.example.test:8200' })).ok, 'no pin yet (not initialised): free to change');
  const cases: Array<[Record<string, unknown>, Record<string, unknown>, RegExp]> = [
    [{ ...good, address: 'https://other.example.test:8200' }, {}, /to https:\/\/other\.example\.test:8200 \(secret\/data\/vault-keys\)/],
    [{ ...good, unsealKeysPath: 'secret/data/team-b' }, {}, /to https:\/\/keys\.example\.test:8200 \(secret\/data\/team-b\)/],
    [{}, {}, /to no key store/],
    [good, { aws: { kmsKeyId: 'k' } }, /to no key store/],
  ];
  for (const [store, extra, now] of cases) {
    const d = keyStoreGate(pinned(store, extra), trust2);
    t.false(d.ok);
    if (d.ok) continue;
    t.is(d.reason, 'AddressChanged');
    t.regex(d.message, /^spec\.unsealConfig\.vault changed from https:\/\/keys\.example\.test:8200 \(secret\/data\/vault-keys\)/);
    t.regex(d.message, now);
    t.regex(d.message, /refused, nothing is read from or written to another store/);
    t.regex(d.message, /kubectl patch vault v -n team-a --subresource=status --type=merge -p '\{"status":\{"keyStore":null\}\}'/);
    t.false(d.message.includes('hvs.tenant'));
  }
  // a changed store is refused as a change even where the new address is not allowed either: one thing to fix
  const unlisted = keyStoreGate(pinned({ ...good, address: 'https://evil.example:8200' }), trust2);
  t.false(unlisted.ok);
  if (!unlisted.ok) t.is(unlisted.reason, 'AddressChanged');
});

test('tokenSecretRef (an extension): a Secret of the Vault\'s own namespace only, never with token too', (t) => {
  const ref = keyStoreDecision(vault({ address: good.address, unsealKeysPath: 'secret/data/k', tokenSecretRef: { name: 'store-token' } }), trust);
  t.true(ref.ok);
  if (ref.ok) t.deepEqual(ref.store, { address: good.address, path: 'secret/data/k', tokenSecretRef: { name: 'store-token', key: 'token' } });
  const own = keyStoreDecision(vault({ address: good.address, unsealKeysPath: 'secret/data/k', tokenSecretRef: { name: 's', key: 'k', namespace: 'team-a' } }), trust);
  t.true(own.ok, 'its own namespace, spelled out');
  for (const [store, re] of [
    [{ address: good.address, unsealKeysPath: 'secret/data/k', tokenSecretRef: { name: 's', namespace: 'team-b' } }, /tokenSecretRef names a Secret in namespace "team-b": only a Secret of this Vault's namespace \(team-a\) is used/],
    [{ address: good.address, unsealKeysPath: 'secret/data/k', tokenSecretRef: {} }, /tokenSecretRef\.name is required/],
    [{ ...good, tokenSecretRef: { name: 's' } }, /set token or tokenSecretRef, not both/],
  ] as const) {
    const d = keyStoreDecision(vault(store), trust);
    t.false(d.ok);
    if (!d.ok) {
      t.is(d.reason, 'InvalidSpec');
      t.regex(d.message, re);
    }
  }
});
