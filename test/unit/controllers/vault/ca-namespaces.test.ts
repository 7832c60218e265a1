// caNamespaces: which namespaces get the Vault's CA copy (selfService decides), what the copy is, which Secrets are ours.
import test from 'ava';
import type { V1Namespace } from '@kubernetes/client-node';
import type { VaultResource } from '../../../../operator/api/vault.js';
import { caRefusalReason, caTargets, desiredCaCopy, isOwnCopy } from '../../../../operator/controllers/vault/ca-namespaces.js';

const vault = (selfService?: VaultResource['spec']['selfService']): VaultResource => ({
  apiVersion: 'vault.autopilot.dev/v1alpha1',
  kind: 'Vault',
  metadata: { name: 'vault', namespace: 'vault-system', uid: 'u1' },
  spec: { caNamespaces: ['*'], ...(selfService ? { selfService } : {}) },
});
const ns = (name: string, labels: Record<string, string> = {}, deleting = false): V1Namespace => ({
  metadata: { name, labels: { 'kubernetes.io/metadata.name': name, ...labels }, ...(deleting ? { deletionTimestamp: new Date() } : {}) },
});
const cluster = [ns('vault-system'), ns('shop', { team: 'shop' }), ns('billing', { team: 'billing' }), ns('old', {}, true)];

const platform = ['vault-system'];

test('by default (selfService Same) no other namespace gets a copy: each is refused, saying why', (t) => {
  const r = caTargets(vault(), cluster, platform);
  t.deepEqual(r.targets, []);
  t.deepEqual(r.refused.map((x) => x.namespace), ['billing', 'shop'], 'own namespace and terminating ones are skipped');
  t.regex(r.refused[0]!.why, /selfService/);
});

test('a selector admits some namespaces; All admits every one', (t) => {
  const sel = caTargets(vault({ namespaces: { from: 'Selector', selector: { matchLabels: { team: 'shop' } } } }), cluster, platform);
  t.deepEqual(sel.targets, ['shop']);
  t.deepEqual(sel.refused.map((x) => x.namespace), ['billing']);
  t.deepEqual(caTargets(vault({ namespaces: { from: 'All' } }), cluster, ['*']).targets, ['billing', 'shop']);
});

test("a tenant's Vault (namespace not listed by the platform) writes nowhere else, even admitting All", (t) => {
  for (const allowed of [[], ['other-ns']]) {
    const r = caTargets(vault({ namespaces: { from: 'All' } }), cluster, allowed);
    t.deepEqual(r.targets, []);
    t.deepEqual(r.refused.map((x) => x.namespace), ['billing', 'shop']);
    t.regex(r.refused[0]!.why, /VAULT_AUTOPILOT_CA_COPY_FROM_NAMESPACES/);
  }
});

test('the copy holds only ca.crt under the TLS Secret name, with owner labels; only those labels make it ours', (t) => {
  const copy = desiredCaCopy(vault(), 'shop', 'CERT');
  t.is(copy.metadata!.name, 'vault-tls');
  t.deepEqual(Object.keys(copy.data!), ['ca.crt']);
  t.is(Buffer.from(copy.data!['ca.crt']!, 'base64').toString(), 'CERT');
  t.true(isOwnCopy(vault(), copy));
  t.false(isOwnCopy(vault(), { metadata: { name: 'vault-tls', labels: { 'app.kubernetes.io/managed-by': 'vault-autopilot' } } }));
  const otherVault = { ...vault(), metadata: { name: 'vault', namespace: 'other', uid: 'u2' } };
  t.false(isOwnCopy(otherVault, copy), "another namespace's Vault of the same name");
  t.false(isOwnCopy(vault(), undefined));
});

test('the report names refused and foreign namespaces', (t) => {
  t.is(caRefusalReason([], []), undefined);
  const reason = caRefusalReason([{ namespace: 'billing', why: 'spec.selfService.namespaces does not admit it' }], ['shop'])!;
  t.regex(reason, /billing: spec\.selfService/);
  t.regex(reason, /shop: a Secret of that name exists/);
});
