// Two replicas applying ServiceAccount entries into the same Vault resource at
// once (the overlap of a leader change or a rolling update): both use the one
// field manager, so an apply computed from a stale copy would drop what the
// other just added. With the resourceVersion precondition nothing is lost.
import test from 'ava';
import { CustomObjectsApi } from '@kubernetes/client-node';
import { API_GROUP, API_VERSION, serviceAccountPolicyName, serviceAccountRoleName } from '../../../operator/api/naming.js';
import { SERVICE_ACCOUNT_FIELD_MANAGER } from '../../../operator/api/serviceaccount.js';
import { EntryBatcher } from '../../../operator/controllers/serviceaccount/entry-batcher.js';
import { desiredEntries, headerOf } from '../../../operator/controllers/serviceaccount/desired.js';
import { withServiceAccountRoles } from '../../../operator/controllers/serviceaccount/compact.js';
import type { VaultResource } from '../../../operator/api/vault.js';
import { parseServiceAccountSettings } from '../../../operator/controllers/serviceaccount/settings.js';
import { makeKubeClients } from '../../../operator/framework/index.js';
import { useTestEnv } from '../../harness/index.js';
import { VAULT_CRD } from './helpers.js';

const env = useTestEnv(test);

test('two writers, 2 x 40 ServiceAccounts submitted concurrently: every role and policy is in the Vault resource', async (t) => {
  const e = env();
  await e.applyCrds(VAULT_CRD);
  const ns = await e.namespace('sa-two-writers');
  const custom = e.kubeConfig().makeApiClient(CustomObjectsApi);
  await custom.createNamespacedCustomObject({ group: API_GROUP, version: API_VERSION, namespace: ns, plural: 'vaults', body: {
    apiVersion: `${API_GROUP}/${API_VERSION}`, kind: 'Vault', metadata: { name: 'vault' }, spec: { size: 1 },
  } });
  const settings = parseServiceAccountSettings({});
  const target = { namespace: ns, name: 'vault' };
  // two replicas: separate clients, separate batchers, the same field manager
  const replicas = [0, 1].map(() => ({ kube: makeKubeClients(e.kubeConfig()), batcher: new EntryBatcher(SERVICE_ACCOUNT_FIELD_MANAGER, headerOf(settings)) }));
  const names = Array.from({ length: 80 }, (_, i) => `app-${i}`);
  const started = Date.now();
  await Promise.all(names.map((name, i) => {
    const r = replicas[i % 2]!;
    return r.batcher.submit(r.kube, target, { serviceAccount: `${ns}/${name}`, roleName: serviceAccountRoleName(ns, name), policyName: serviceAccountPolicyName(ns, name), entries: desiredEntries(ns, name, settings) });
  }));
  const vault = (await custom.getNamespacedCustomObject({ group: API_GROUP, version: API_VERSION, namespace: ns, plural: 'vaults', name: 'vault' })) as VaultResource;
  // as the Vault lifecycle renders them from the compact entries
  const rendered = withServiceAccountRoles(vault.spec.externalConfig, vault.spec.serviceAccountRoles) ?? {};
  const roles = (rendered.auth ?? []).flatMap((a) => (a.roles ?? []).map((r) => r.name)).sort();
  const policies = (rendered.policies ?? []).map((p) => p.name).sort();
  const expected = names.map((n) => serviceAccountRoleName(ns, n)).sort();
  t.log(`80 entries from two concurrent writers in ${Date.now() - started} ms: ${roles.length} roles, ${policies.length} policies`);
  t.deepEqual(roles, expected, 'no role lost or duplicated');
  t.deepEqual(policies, expected, 'no policy lost or duplicated');
  for (const r of replicas) r.kube.raw.close();
});
