// unsealConfig.vault (Bank-Vaults' key store in another Vault): when it is
// used, and what the operator refuses to send to an address a tenant wrote.
import test from 'ava';
import type { VaultResource } from '../../../../operator/api/vault.js';
import { keyStoreDecision, usesKeyStore } from '../../../../operator/controllers/vault/key-store.js';
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
    t.regex(d.message, /token is required/);
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
  ] as const) {
    const d = keyStoreDecision(vault(store), trust);
    t.false(d.ok);
    if (!d.ok) t.regex(d.message, re);
  }
});
