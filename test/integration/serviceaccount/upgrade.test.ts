// Upgrade: a `Vault` resource written by the previous version (rendered roles
// and policies in externalConfig, owned by the ServiceAccount field manager
// through server-side apply) becomes compact entries in the first apply of
// this version. No ServiceAccount is lost, the rendered role and policy are
// the very same, hand-written entries stay.
import test from 'ava';
import { API_GROUP_VERSION } from '../../../operator/api/naming.js';
import { SERVICE_ACCOUNT_FIELD_MANAGER } from '../../../operator/api/serviceaccount.js';
import { EntryBatcher } from '../../../operator/controllers/serviceaccount/entry-batcher.js';
import { desiredEntries, headerOf, holdsEntries, ownedEntries } from '../../../operator/controllers/serviceaccount/desired.js';
import { withServiceAccountRoles } from '../../../operator/controllers/serviceaccount/compact.js';
import { parseServiceAccountSettings } from '../../../operator/controllers/serviceaccount/settings.js';
import { makeKubeClients } from '../../../operator/framework/kube.js';
import { useTestEnv } from '../../harness/index.js';
import { Cluster, VAULT_CRD } from './helpers.js';

const env = useTestEnv(test);
const settings = parseServiceAccountSettings({});

test('rendered entries of the previous version migrate to compact entries in one apply, none lost', async (t) => {
  await env().applyCrds(VAULT_CRD);
  const ns = await env().namespace('sa-upgrade');
  const cluster = new Cluster(env());
  const hand = { name: 'hand-written', bound_service_account_names: ['x'], bound_service_account_namespaces: ['x'] };
  await cluster.createVault(ns, 'vault', {
    external: { address: 'https://vault.example.test:8200' },
    externalConfig: { auth: [{ type: 'kubernetes', path: 'kubernetes', roles: [hand] }], policies: [{ name: 'ops', rules: 'path "ops/*" { capabilities = ["read"] }' }] },
    selfService: { namespaces: { from: 'All' } },
  });
  // what the previous version applied: every role and policy rendered, under the same field manager
  const old = ['orders', 'cart', 'web.v2'].map((name) => desiredEntries('shop', name, settings));
  const kube = makeKubeClients(env().kubeConfig());
  await kube.raw.request({
    method: 'PATCH',
    path: cluster.vaultPath(ns, 'vault'),
    query: { fieldManager: SERVICE_ACCOUNT_FIELD_MANAGER, force: false },
    body: { apiVersion: API_GROUP_VERSION, kind: 'Vault', metadata: { name: 'vault', namespace: ns }, spec: { externalConfig: { auth: [{ path: 'kubernetes', type: 'kubernetes', roles: old.map((e) => e.role) }], policies: old.map((e) => e.policy) } } },
    contentType: 'application/apply-patch+yaml',
  });
  const before = (await cluster.getVault(ns, 'vault'))!;
  t.is(ownedEntries(before, SERVICE_ACCOUNT_FIELD_MANAGER).policies.size, 3, 'the previous version\'s shape');
  t.false(holdsEntries(before, old[0]!, SERVICE_ACCOUNT_FIELD_MANAGER), 'not in sync until migrated: the next reconcile applies');
  const renderedBefore = withServiceAccountRoles(before.spec.externalConfig, before.spec.serviceAccountRoles)!;

  // this version's first apply (one more ServiceAccount arriving)
  const added = desiredEntries('shop', 'new', settings);
  await new EntryBatcher(SERVICE_ACCOUNT_FIELD_MANAGER, headerOf(settings)).submit(kube, { namespace: ns, name: 'vault' }, { serviceAccount: 'shop/new', roleName: added.role.name, policyName: added.policy.name, entries: added });

  const after = (await cluster.getVault(ns, 'vault'))!;
  t.deepEqual(after.spec.serviceAccountRoles?.entries.map((e) => e.name), ['cart', 'new', 'orders', 'web.v2']);
  t.deepEqual(after.spec.externalConfig?.auth?.[0]?.roles?.map((r) => r.name), ['hand-written'], 'rendered roles taken out of externalConfig; the hand-written one stays');
  t.deepEqual(after.spec.externalConfig?.policies?.map((p) => p.name), ['ops']);
  t.is(ownedEntries(after, SERVICE_ACCOUNT_FIELD_MANAGER).policies.size, 0, 'nothing left to migrate');
  const renderedAfter = withServiceAccountRoles(after.spec.externalConfig, after.spec.serviceAccountRoles)!;
  for (const e of old) {
    t.deepEqual(renderedAfter.auth![0]!.roles!.find((r) => r.name === e.role.name), renderedBefore.auth![0]!.roles!.find((r) => r.name === e.role.name), `${e.role.name}: the same role`);
    t.deepEqual(renderedAfter.policies!.find((p) => p.name === e.policy.name), renderedBefore.policies!.find((p) => p.name === e.policy.name), `${e.policy.name}: the same policy`);
    t.true(holdsEntries(after, e, SERVICE_ACCOUNT_FIELD_MANAGER), `${e.role.name} in sync: nothing more to write`);
  }
  kube.raw.close();
});
