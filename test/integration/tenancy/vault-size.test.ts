// How big the `Vault` resource gets with 1,000 annotated ServiceAccounts (the
// real apiserver's stored object, managedFields included), through the same
// batcher the ServiceAccount controller uses. The entries are compact
// (spec.serviceAccountRoles: namespace and name each, the role and policy
// rendered by the Vault lifecycle): the bound is 64 KiB, where rendered
// entries took 716 KB. At the operator's 900 KiB ceiling an addition is
// refused clearly and whole.
import test from 'ava';
import { SERVICE_ACCOUNT_FIELD_MANAGER } from '../../../operator/api/serviceaccount.js';
import { EntryBatcher } from '../../../operator/controllers/serviceaccount/entry-batcher.js';
import { desiredEntries, headerOf } from '../../../operator/controllers/serviceaccount/desired.js';
import { withServiceAccountRoles } from '../../../operator/controllers/serviceaccount/compact.js';
import { VAULT_SIZE_CEILING_BYTES } from '../../../operator/controllers/serviceaccount/self-service.js';
import { parseServiceAccountSettings } from '../../../operator/controllers/serviceaccount/settings.js';
import { makeKubeClients } from '../../../operator/framework/kube.js';
import { useTestEnv } from '../../harness/index.js';
import { Cluster } from '../serviceaccount/helpers.js';

const env = useTestEnv(test);
const COUNT = 1000;
const BOUND_BYTES = 64 * 1024;
const EXTERNAL = { address: 'https://vault.example.test:8200' };
const settings = parseServiceAccountSettings({});

/** `count` ServiceAccounts in batches of 50 (ten namespaces, realistic names), as a busy cluster sends them. */
async function submitMany(batcher: EntryBatcher, ns: string, count: number, prefix = 'service'): Promise<PromiseSettledResult<boolean>[]> {
  const kube = makeKubeClients(env().kubeConfig());
  const all: PromiseSettledResult<boolean>[] = [];
  for (let batch = 0; batch < count / 50; batch++) {
    const results = await Promise.allSettled(
      Array.from({ length: 50 }, (_, k) => {
        const i = batch * 50 + k;
        const namespace = `team-${String(i % 10).padStart(2, '0')}`;
        const name = `${prefix}-${String(i).padStart(4, '0')}`;
        const entries = desiredEntries(namespace, name, settings);
        return batcher.submit(kube, { namespace: ns, name: 'vault' }, { serviceAccount: `${namespace}/${name}`, roleName: entries.role.name, policyName: entries.policy.name, entries });
      }),
    );
    all.push(...results);
  }
  kube.raw.close();
  return all;
}

test.serial(`1,000 ServiceAccounts: the Vault resource stays below ${BOUND_BYTES} bytes, every role and policy rendered from it`, async (t) => {
  await env().applyCrds('crds/vault.yaml');
  const ns = await env().namespace('vault-size');
  const cluster = new Cluster(env());
  await cluster.createVault(ns, 'vault', { external: EXTERNAL, externalConfig: { auth: [{ type: 'kubernetes', path: 'kubernetes' }] }, selfService: { namespaces: { from: 'All' } } });
  const started = Date.now();
  const results = await submitMany(new EntryBatcher(SERVICE_ACCOUNT_FIELD_MANAGER, headerOf(settings)), ns, COUNT);
  const elapsed = Date.now() - started;
  t.deepEqual(results.filter((r) => r.status === 'rejected').map((r) => String((r as PromiseRejectedResult).reason)).slice(0, 3), []);
  const stored = (await cluster.getVault(ns, 'vault'))!;
  const bytes = JSON.stringify(stored).length;
  const managedFieldsBytes = JSON.stringify(stored.metadata?.managedFields ?? []).length;
  const compactBytes = JSON.stringify(stored.spec.serviceAccountRoles ?? {}).length;
  t.log(`${COUNT} ServiceAccounts held: Vault resource ${bytes} bytes stored (${Math.round(bytes / COUNT)} per ServiceAccount; managedFields ${managedFieldsBytes}, spec.serviceAccountRoles ${compactBytes}) after ${elapsed} ms; bound ${BOUND_BYTES}, ceiling ${VAULT_SIZE_CEILING_BYTES}`);
  t.true(bytes < BOUND_BYTES, `${bytes} bytes`);
  t.is(stored.spec.serviceAccountRoles?.entries.length, COUNT);
  const rendered = withServiceAccountRoles(stored.spec.externalConfig, stored.spec.serviceAccountRoles)!;
  t.is(rendered.auth?.[0]?.roles?.length, COUNT, 'the Vault lifecycle renders every role');
  t.is(rendered.policies?.length, COUNT, 'and every policy');
  t.deepEqual(rendered.auth?.[0]?.roles?.find((r) => r.name === 'sa.team-03.service-0123'), desiredEntries('team-03', 'service-0123', settings).role as never);
});

test.serial('at its ceiling the Vault resource refuses additions clearly and whole, never partially', async (t) => {
  const ns = await env().namespace('vault-full');
  const cluster = new Cluster(env());
  // hand-written configuration that leaves room for ~20 ServiceAccounts below the ceiling
  const padding = 'x'.repeat(VAULT_SIZE_CEILING_BYTES - 4_000);
  await cluster.createVault(ns, 'vault', { external: EXTERNAL, externalConfig: { policies: [{ name: 'big', rules: `# ${padding}` }] }, selfService: { namespaces: { from: 'All' } } });
  const results = await submitMany(new EntryBatcher(SERVICE_ACCOUNT_FIELD_MANAGER, headerOf(settings)), ns, 100, 'late');
  const held = results.filter((r) => r.status === 'fulfilled').length;
  const refused = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => String(r.reason));
  t.log(`${held} held, ${refused.length} refused`);
  t.true(held > 0 && refused.length > 0, 'some fit, the rest does not');
  for (const reason of refused) t.regex(reason, /VaultFullError: .*past the 921600-byte ceiling.*nothing was written/);
  const stored = (await cluster.getVault(ns, 'vault'))!;
  t.is(stored.spec.serviceAccountRoles?.entries.length, held, 'exactly the accepted ones are stored');
  t.true(JSON.stringify(stored).length < 1572864, "below etcd's limit");
});
