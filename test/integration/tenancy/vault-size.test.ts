// How big the `Vault` resource gets with 1,000 annotated ServiceAccounts (the
// real apiserver's stored object, managedFields included), through the same
// batcher the ServiceAccount controller uses — far below etcd's 1.5 MiB limit
// and below the operator's own 900 KiB ceiling, which refuses additions whole.
import test from 'ava';
import { SERVICE_ACCOUNT_FIELD_MANAGER } from '../../../operator/api/serviceaccount.js';
import { EntryBatcher } from '../../../operator/controllers/serviceaccount/entry-batcher.js';
import { desiredEntries } from '../../../operator/controllers/serviceaccount/desired.js';
import { VAULT_SIZE_CEILING_BYTES } from '../../../operator/controllers/serviceaccount/self-service.js';
import { parseServiceAccountSettings } from '../../../operator/controllers/serviceaccount/settings.js';
import { makeKubeClients } from '../../../operator/framework/kube.js';
import { useTestEnv } from '../../harness/index.js';
import { Cluster } from '../serviceaccount/helpers.js';

const env = useTestEnv(test);
const COUNT = 1000;

test('1,000 ServiceAccounts: the Vault resource stays below etcd\'s limit and refuses clearly, never partially, at its ceiling', async (t) => {
  await env().applyCrds('crds/vault.yaml');
  const ns = await env().namespace('vault-size');
  const cluster = new Cluster(env());
  await cluster.createVault(ns, 'vault', { external: { address: 'https://vault.example.test:8200' }, externalConfig: { auth: [{ type: 'kubernetes', path: 'kubernetes' }] }, selfService: { namespaces: { from: 'All' } } });
  const kube = makeKubeClients(env().kubeConfig());
  const settings = parseServiceAccountSettings({});
  const batcher = new EntryBatcher(SERVICE_ACCOUNT_FIELD_MANAGER);
  const started = Date.now();
  // ten namespaces of 100, realistic names; one ServiceAccount at a time in batches of 50, as a busy cluster would send them
  let refusedAt: number | undefined;
  let refusal = '';
  for (let batch = 0; batch < COUNT / 50 && refusedAt === undefined; batch++) {
    const results = await Promise.allSettled(
      Array.from({ length: 50 }, (_, k) => {
        const i = batch * 50 + k;
        const namespace = `team-${String(i % 10).padStart(2, '0')}`;
        const name = `service-${String(i).padStart(4, '0')}`;
        const entries = desiredEntries(namespace, name, settings);
        return batcher.submit(kube, { namespace: ns, name: 'vault' }, { serviceAccount: `${namespace}/${name}`, roleName: entries.role.name, policyName: entries.policy.name, entries });
      }),
    );
    const failed = results.find((r) => r.status === 'rejected');
    if (failed) {
      refusedAt = batch * 50;
      refusal = String((failed as PromiseRejectedResult).reason);
    }
  }
  const stored = await cluster.getVault(ns, 'vault');
  const bytes = JSON.stringify(stored).length;
  const roles = stored?.spec.externalConfig?.auth?.[0]?.roles?.length ?? 0;
  const managedFieldsBytes = JSON.stringify(stored?.metadata?.managedFields ?? []).length;
  const rolesBytes = JSON.stringify(stored?.spec.externalConfig?.auth ?? []).length;
  const policiesBytes = JSON.stringify(stored?.spec.externalConfig?.policies ?? []).length;
  t.log(`of which: managedFields ${managedFieldsBytes}, auth roles ${rolesBytes}, policies ${policiesBytes}`);
  t.log(`${roles} ServiceAccounts held: Vault resource ${bytes} bytes stored (${Math.round(bytes / Math.max(roles, 1))} per ServiceAccount, managedFields included) after ${Date.now() - started} ms; ceiling ${VAULT_SIZE_CEILING_BYTES}, etcd limit 1572864${refusedAt !== undefined ? `; refused from ~${refusedAt}: ${refusal}` : ''}`);
  t.true(bytes < 1572864, 'below etcd\'s limit, whatever was asked');
  if (refusedAt !== undefined) {
    t.regex(refusal, /VaultFullError: .*past the 921600-byte ceiling.*nothing was written/, 'refused clearly');
    t.is(stored?.spec.externalConfig?.policies?.length, roles, 'never partially: every role has its policy');
  } else {
    t.is(roles, COUNT);
  }
});
