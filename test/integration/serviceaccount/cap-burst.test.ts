// The per-namespace cap under a burst (issue 11): ServiceAccounts created at
// once, reconciled by 8 workers that each read the `Vault` before their
// change is batched, must not get in past the cap (256 of 250 once did). The
// cap is decided again on the copy the apply is computed from and guarded by
// (its resourceVersion), so the count is exact — also with two writers (a
// second replica during a leader change) sending at the same moment.
import test from 'ava';
import { SERVICE_ACCOUNT_FIELD_MANAGER, ServiceAccountReason } from '../../../operator/api/serviceaccount.js';
import { CapReachedError, EntryBatcher } from '../../../operator/controllers/serviceaccount/entry-batcher.js';
import { desiredEntries, headerOf } from '../../../operator/controllers/serviceaccount/desired.js';
import { parseServiceAccountSettings } from '../../../operator/controllers/serviceaccount/settings.js';
import { makeKubeClients } from '../../../operator/framework/kube.js';
import { eventually, useTestEnv } from '../../harness/index.js';
import { Cluster, entryNames, startOperator, VAULT_CRD } from './helpers.js';

const env = useTestEnv(test);
const AUTO = 'vault.autopilot.dev/auto-configure';
const CONFIGURED = ServiceAccountReason.Configured;
const REFUSED = ServiceAccountReason.SelfServiceRefused;
const PLACEHOLDER = { external: { address: 'http://127.0.0.1:1' } };

test.before(async () => {
  await env().applyCrds(VAULT_CRD);
});

test.serial('40 ServiceAccounts created at once against a cap of 20: exactly 20 configured, 20 refused with SelfServiceRefused', async (t) => {
  const ns = await env().namespace('cap-burst');
  const cluster = new Cluster(env());
  await cluster.createVault(ns, 'vault', { ...PLACEHOLDER, externalConfig: { auth: [{ type: 'kubernetes', path: 'kubernetes' }] }, selfService: { maxServiceAccountsPerNamespace: 20 } });
  const op = await startOperator(env(), { namespace: ns, env: { VAULT_AUTOPILOT_TARGET_VAULT: `${ns}/vault` } });
  t.teardown(() => op.stop());
  const names = Array.from({ length: 40 }, (_, i) => `burst-${String(i).padStart(2, '0')}`);
  await Promise.all(names.map((name) => cluster.createServiceAccount(ns, name, { [AUTO]: 'true' })));
  // every ServiceAccount ends in one of the two outcomes
  const outcomes = await eventually(
    async () => {
      const reasons = await Promise.all(names.map(async (name) => (await cluster.events(ns, name)).map((e) => e.reason)));
      const pending = names.filter((_, i) => !reasons[i]!.includes(CONFIGURED) && !reasons[i]!.includes(REFUSED));
      if (pending.length) throw new Error(`${pending.length} ServiceAccounts without an outcome yet (${pending[0]}: ${JSON.stringify(reasons[names.indexOf(pending[0]!)])})`);
      return reasons;
    },
    { timeoutMs: 120_000 },
  );
  const config = await cluster.externalConfig(ns, 'vault');
  const { roles, policies } = entryNames(config);
  t.is(roles.length, 20, 'exactly the cap');
  t.is(policies.length, 20, 'every role with its policy');
  t.is(outcomes.filter((r) => r.includes(CONFIGURED)).length, 20);
  const refused = names.filter((_, i) => outcomes[i]!.includes(REFUSED) && !outcomes[i]!.includes(CONFIGURED));
  t.is(refused.length, 20);
  const message = (await cluster.events(ns, refused[0]!)).find((e) => e.reason === REFUSED)?.message ?? '';
  t.regex(message, new RegExp(`namespace ${ns} already has 20 ServiceAccounts configured in Vault ${ns}/vault, its cap \\(spec\\.selfService\\.maxServiceAccountsPerNamespace: 20\\)`));
});

test.serial('two writers at the same moment (150 additions each, cap 250): exactly 250 held, the rest refused with the cap message', async (t) => {
  const ns = await env().namespace('cap-writers');
  const cluster = new Cluster(env());
  await cluster.createVault(ns, 'vault', { ...PLACEHOLDER, externalConfig: { auth: [{ type: 'kubernetes', path: 'kubernetes' }] }, selfService: { namespaces: { from: 'All' } } });
  const kube = makeKubeClients(env().kubeConfig());
  const settings = parseServiceAccountSettings({});
  const writers = [new EntryBatcher(SERVICE_ACCOUNT_FIELD_MANAGER, headerOf(settings)), new EntryBatcher(SERVICE_ACCOUNT_FIELD_MANAGER, headerOf(settings))];
  const results = await Promise.allSettled(
    Array.from({ length: 300 }, (_, i) => {
      const name = `service-${String(i).padStart(3, '0')}`;
      const entries = desiredEntries('team-burst', name, settings);
      const change = { serviceAccount: `team-burst/${name}`, roleName: entries.role.name, policyName: entries.policy.name, entries };
      return writers[i % 2]!.submit(kube, { namespace: ns, name: 'vault' }, change);
    }),
  );
  const rejected = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
  t.true(rejected.every((r) => r.reason instanceof CapReachedError), rejected.map((r) => String(r.reason)).slice(0, 3).join('; '));
  t.is(results.filter((r) => r.status === 'fulfilled').length, 250);
  t.is(rejected.length, 50);
  const stored = (await cluster.getVault(ns, 'vault'))!;
  const { roles, policies } = entryNames(await cluster.externalConfig(ns, 'vault'));
  t.is(roles.length, 250);
  t.is(policies.length, 250);
  t.is(stored.spec.serviceAccountRoles?.entries.length, 250, 'all of them compact entries of the ServiceAccount manager');
  t.true((stored.metadata?.managedFields ?? []).some((f) => f.manager === SERVICE_ACCOUNT_FIELD_MANAGER && JSON.stringify(f.fieldsV1).includes('f:serviceAccountRoles')));
  t.regex(String(rejected[0]!.reason), /namespace team-burst already has 250 ServiceAccounts configured in Vault .*its cap \(spec\.selfService\.maxServiceAccountsPerNamespace: 250\); nothing was written/);
});
