// The ServiceAccount controller against the REAL kube-apiserver (in-process
// operator): what lands in the `Vault` resource on annotate / un-annotate /
// delete / retarget, refusals and their Events, missing targets, hand-written
// entries, conflicts, deletions while the operator is down (no finalizer:
// the Vault side is swept), and zero writes for a ServiceAccount in sync.
import test from 'ava';
import { FINALIZER, serviceAccountRoleName } from '../../../operator/api/naming.js';
import { ServiceAccountReason } from '../../../operator/api/serviceaccount.js';
import { eventually, WITHIN, useTestEnv } from '../../harness/index.js';
import { Cluster, entryNames, startOperator, VAULT_CRD, type RunningOperator } from './helpers.js';

const env = useTestEnv(test, { vault: false, kms: false });
const AUTO = 'vault.autopilot.dev/auto-configure';
const TARGET = 'vault.autopilot.dev/vault';
const APPLIED = 'vault.autopilot.dev/applied-vault';
const HAND_WRITTEN = {
  auth: [{ path: 'kubernetes', type: 'kubernetes', config: { kubernetes_host: 'https://example.invalid' }, roles: [{ name: 'hand-written', policies: ['ops'] }] }],
  policies: [{ name: 'ops', rules: 'path "sys/health" { capabilities = ["read"] }' }],
};
const PLACEHOLDER_VAULT = { external: { address: 'http://127.0.0.1:1' } };

let cluster: Cluster;
let ns: string;
let op: RunningOperator | undefined;

test.before(async () => {
  await env().applyCrds(VAULT_CRD);
  cluster = new Cluster(env());
  ns = await env().namespace('sa-controller');
  await cluster.createVault(ns, 'vault', { ...PLACEHOLDER_VAULT, externalConfig: HAND_WRITTEN });
  op = await startOperator(env(), { namespace: ns, env: { VAULT_AUTOPILOT_TARGET_VAULT: `${ns}/vault` } });
});

test.after.always(async () => {
  await op?.stop();
});

async function waitForEntries(name: string, present: boolean, vault = 'vault', timeoutMs: number = WITHIN.reconcile.timeoutMs): Promise<void> {
  const role = serviceAccountRoleName(ns, name);
  await eventually(
    async () => {
      const names = entryNames(await cluster.externalConfig(ns, vault));
      if (names.roles.includes(role) !== present || names.policies.includes(role) !== present) {
        throw new Error(`${role} ${present ? 'missing from' : 'still in'} ${vault}: ${JSON.stringify(names)}`);
      }
    },
    { timeoutMs, intervalMs: 100 },
  );
}

/**
 * The applied-vault record, once it is written (it follows the apply); with `expected`, once it
 * says that (a retarget's record follows its entries: an earlier record is still there meanwhile).
 */
async function recordOf(name: string, expected?: string): Promise<string> {
  return eventually(async () => {
    const value = (await cluster.getServiceAccount(ns, name))?.metadata?.annotations?.[APPLIED];
    if (value === undefined || (expected !== undefined && value !== expected)) throw new Error(`${name}'s ${APPLIED} is ${value}`);
    return value;
  }, WITHIN.reconcile);
}

async function waitForEvent(name: string, reason: string): Promise<string> {
  return eventually(
    async () => {
      const event = (await cluster.events(ns, name)).find((e) => e.reason === reason);
      if (!event) throw new Error(`no ${reason} event for ${name}`);
      return event.message ?? '';
    },
    { ...WITHIN.reconcile, intervalMs: 200 },
  );
}

test.serial('annotate: role bound to exactly the ServiceAccount and its policy land in the Vault resource; hand-written entries untouched', async (t) => {
  await cluster.createServiceAccount(ns, 'orders', { [AUTO]: 'true' });
  await waitForEntries('orders', true);
  const config = await cluster.externalConfig(ns, 'vault');
  const auth = config.auth!.find((a) => a.path === 'kubernetes')!;
  const role = auth.roles!.find((r) => r.name === serviceAccountRoleName(ns, 'orders'))!;
  t.deepEqual(role.bound_service_account_names, ['orders']);
  t.deepEqual(role.bound_service_account_namespaces, [ns]);
  t.deepEqual(role.token_policies, [serviceAccountRoleName(ns, 'orders')]);
  t.is(role.token_ttl, 300);
  const policy = config.policies!.find((p) => p.name === serviceAccountRoleName(ns, 'orders'))!;
  t.true(policy.rules.includes(`path "secret/data/${ns}/orders/*"`));
  // hand-written entries are exactly as written
  t.deepEqual(auth.config, HAND_WRITTEN.auth[0]!.config);
  t.deepEqual(auth.roles!.find((r) => r.name === 'hand-written'), HAND_WRITTEN.auth[0]!.roles[0]);
  t.deepEqual(config.policies!.find((p) => p.name === 'ops'), HAND_WRITTEN.policies[0]);
  t.is(await recordOf('orders', `${ns}/vault`), `${ns}/vault`);
  t.deepEqual((await cluster.getServiceAccount(ns, 'orders'))?.metadata?.finalizers ?? [], [], 'no finalizer: its namespace never waits for the operator');
  t.regex(await waitForEvent('orders', ServiceAccountReason.Configured), /wrote Kubernetes-auth role/);
});

/** The Events about `name`, each with its count and resourceVersion: any Event written or bumped changes this. */
async function eventRecord(name: string): Promise<string[]> {
  return (await cluster.events(ns, name)).map((e) => `${e.metadata?.name}#${e.count ?? 1}@${e.metadata?.resourceVersion}`).sort();
}

test.serial('a ServiceAccount already in sync costs no read of the Vault resource (the watched copy) and no write (counted by the apiserver too)', async (t) => {
  // One worker: keys run one after the other in the order queued, so a marker
  // ServiceAccount queued after `steady` runs only once steady's pass has
  // finished; an in-sync pass logs so (debug), naming its ServiceAccount.
  await op!.stop();
  op = await startOperator(env(), { namespace: ns, env: { VAULT_AUTOPILOT_TARGET_VAULT: `${ns}/vault` }, concurrency: 1 });
  try {
    await cluster.createVault(ns, 'steady-target', PLACEHOLDER_VAULT);
    await cluster.createVault(ns, 'marker-target', PLACEHOLDER_VAULT);
    await cluster.createServiceAccount(ns, 'steady', { [AUTO]: 'true', [TARGET]: `${ns}/steady-target` });
    await cluster.createServiceAccount(ns, 'marker', { [AUTO]: 'true', [TARGET]: `${ns}/marker-target` });
    for (const [name, vault] of [['steady', 'steady-target'], ['marker', 'marker-target']] as const) {
      await waitForEntries(name, true, vault);
      t.is(await recordOf(name, `${ns}/${vault}`), `${ns}/${vault}`);
      await waitForEvent(name, ServiceAccountReason.Configured);
    }
    const inSync = (name: string) => op!.logs.lines.filter((l) => l.includes('in sync (by the watched copy') && l.includes(`"name":"${name}"`)).length;
    /** Queues the marker and waits for its in-sync pass: every pass queued before it has finished. */
    const flush = async (): Promise<number> => {
      const seen = inSync('marker');
      op!.operator.enqueue('ServiceAccount', ns, 'marker');
      await eventually(async () => {
        if (inSync('marker') <= seen) throw new Error('the marker has not run yet');
      }, WITHIN.reconcile);
      return op!.kubeRequests.length;
    };
    // Settled: the operator's cache holds the ServiceAccount as the apiserver has it
    // (its own record write has come back through the watch), and nothing is queued.
    const saBefore = await cluster.getServiceAccount(ns, 'steady');
    for (const name of ['steady', 'marker']) {
      const server = (await cluster.getServiceAccount(ns, name))?.metadata?.resourceVersion;
      await eventually(async () => {
        if (op!.operator.cached('ServiceAccount', ns, name).obj?.metadata?.resourceVersion !== server) throw new Error(`the cache is behind on ${name}`);
      }, WITHIN.reconcile);
    }
    await flush();
    const vaultBefore = await cluster.getVault(ns, 'steady-target');
    const eventsBefore = await eventRecord('steady');

    const start = op!.kubeRequests.length;
    const steadyPasses = inSync('steady');
    op!.operator.enqueue('ServiceAccount', ns, 'steady');
    const end = await flush();
    t.is(inSync('steady'), steadyPasses + 1, 'steady ran, in sync');
    const pass = op!.kubeRequests.slice(start, end);
    t.deepEqual(pass, [], 'the pass of a ServiceAccount in sync: no request at all (the Vault resource from the watch)');
    // independently of the operator's client: the apiserver's resourceVersions and Events
    t.is((await cluster.getVault(ns, 'steady-target'))?.metadata?.resourceVersion, vaultBefore?.metadata?.resourceVersion, 'Vault resource not written');
    t.is((await cluster.getServiceAccount(ns, 'steady'))?.metadata?.resourceVersion, saBefore?.metadata?.resourceVersion, 'ServiceAccount not written');
    t.deepEqual(await eventRecord('steady'), eventsBefore, 'no Event written or bumped');
  } finally {
    await op!.stop();
    op = await startOperator(env(), { namespace: ns, env: { VAULT_AUTOPILOT_TARGET_VAULT: `${ns}/vault` } });
  }
});

test.serial('an entry deleted from the Vault resource by hand comes back at the next periodic resync', async (t) => {
  const RESYNC_MS = 3000; // the README's 10 minutes, shortened
  await op!.stop();
  op = await startOperator(env(), { namespace: ns, env: { VAULT_AUTOPILOT_TARGET_VAULT: `${ns}/vault` }, resyncPeriodMs: RESYNC_MS });
  try {
    await cluster.createServiceAccount(ns, 'resynced', { [AUTO]: 'true' });
    await waitForEntries('resynced', true);
    // by hand, as `kubectl edit` would: its compact entry taken out of the resource (a full update)
    const role = serviceAccountRoleName(ns, 'resynced');
    const vault = (await cluster.getVault(ns, 'vault'))!;
    const compact = vault.spec.serviceAccountRoles!;
    compact.entries = compact.entries.filter((e) => e.name !== 'resynced');
    await cluster.kube.raw.request({ method: 'PUT', path: cluster.vaultPath(ns, 'vault'), body: vault });
    const names = entryNames(await cluster.externalConfig(ns, 'vault'));
    t.false(names.roles.includes(role) || names.policies.includes(role), 'taken out');
    t.true(names.roles.includes('hand-written'), 'the rest is untouched');
    const removedAt = Date.now();
    await waitForEntries('resynced', true, 'vault', 5 * 60_000);
    t.log(`restored ${Date.now() - removedAt} ms after the hand edit (resync period ${RESYNC_MS} ms)`);
  } finally {
    await op!.stop();
    op = await startOperator(env(), { namespace: ns, env: { VAULT_AUTOPILOT_TARGET_VAULT: `${ns}/vault` } });
  }
});

test.serial('un-annotate: entries, record and finalizer go; the ServiceAccount stays', async (t) => {
  await cluster.createServiceAccount(ns, 'leaver', { [AUTO]: 'true' });
  await waitForEntries('leaver', true);
  await cluster.annotate(ns, 'leaver', { [AUTO]: null });
  await waitForEntries('leaver', false);
  const sa = await eventually(async () => {
    const current = await cluster.getServiceAccount(ns, 'leaver');
    if (current?.metadata?.finalizers?.length || current?.metadata?.annotations?.[APPLIED]) throw new Error('finalizer/record still there');
    return current;
  }, WITHIN.reconcile);
  t.truthy(sa);
  t.regex(await waitForEvent('leaver', ServiceAccountReason.Removed), /removed Kubernetes-auth role/);
  // other ServiceAccounts' and hand-written entries stay
  const names = entryNames(await cluster.externalConfig(ns, 'vault'));
  t.true(names.roles.includes('hand-written'));
  t.true(names.roles.includes(serviceAccountRoleName(ns, 'orders')));
  t.true(names.policies.includes('ops'));
});

test.serial('delete: the ServiceAccount goes at once, its entries follow within seconds', async (t) => {
  await cluster.createServiceAccount(ns, 'doomed', { [AUTO]: 'true' });
  await waitForEntries('doomed', true);
  await cluster.deleteServiceAccount(ns, 'doomed');
  t.is(await cluster.getServiceAccount(ns, 'doomed'), undefined, 'nothing holds the deletion');
  const started = Date.now();
  await waitForEntries('doomed', false);
  t.log(`ServiceAccount deleted -> entries gone: ${Date.now() - started} ms`);
  t.true(entryNames(await cluster.externalConfig(ns, 'vault')).roles.includes(serviceAccountRoleName(ns, 'orders')), 'the others stay');
});

test.serial('the finalizer an earlier version added is released, and its deletion still cleans up', async (t) => {
  await cluster.kube.core.createNamespacedServiceAccount({ namespace: ns, body: { metadata: { name: 'legacy', annotations: { [AUTO]: 'true' }, finalizers: [FINALIZER] } } });
  await waitForEntries('legacy', true);
  await eventually(async () => {
    if ((await cluster.getServiceAccount(ns, 'legacy'))?.metadata?.finalizers?.length) throw new Error('finalizer still there');
  }, WITHIN.reconcile);
  await cluster.kube.core.createNamespacedServiceAccount({ namespace: ns, body: { metadata: { name: 'legacy-gone', annotations: { [AUTO]: 'true' }, finalizers: [FINALIZER] } } });
  await waitForEntries('legacy-gone', true);
  await cluster.deleteServiceAccount(ns, 'legacy-gone');
  await waitForEntries('legacy-gone', false);
  await eventually(async () => {
    if (await cluster.getServiceAccount(ns, 'legacy-gone')) throw new Error('still there');
  }, WITHIN.reconcile);
  t.pass();
});

test.serial('other values of the annotation: Warning Event naming the accepted value, nothing written', async (t) => {
  await cluster.createServiceAccount(ns, 'typo', { [AUTO]: 'yes' });
  const message = await waitForEvent('typo', ServiceAccountReason.InvalidAnnotation);
  t.regex(message, /only accepted value is "true"/);
  const names = entryNames(await cluster.externalConfig(ns, 'vault'));
  t.false(names.roles.includes(serviceAccountRoleName(ns, 'typo')));
  // fixing the value configures it
  await cluster.annotate(ns, 'typo', { [AUTO]: 'true' });
  await waitForEntries('typo', true);
  // and breaking it again removes the entries (the value is the state)
  await cluster.annotate(ns, 'typo', { [AUTO]: 'false' });
  await waitForEntries('typo', false);
});

test.serial('a malformed target annotation: InvalidTargetVault Warning naming the expected form, nothing written anywhere', async (t) => {
  const vaultBefore = await cluster.getVault(ns, 'vault');
  await cluster.createServiceAccount(ns, 'misaimed', { [AUTO]: 'true', [TARGET]: 'not a reference' });
  const message = await waitForEvent('misaimed', ServiceAccountReason.InvalidTargetVault);
  t.regex(message, /vault\.autopilot\.dev\/vault is "not a reference"; it must be <namespace>\/<name> of a Vault resource/);
  t.false(entryNames(await cluster.externalConfig(ns, 'vault')).roles.includes(serviceAccountRoleName(ns, 'misaimed')));
  t.is((await cluster.getServiceAccount(ns, 'misaimed'))?.metadata?.annotations?.[APPLIED], undefined, 'no record of an applied Vault');
  t.is((await cluster.getVault(ns, 'vault'))?.metadata?.resourceVersion, vaultBefore?.metadata?.resourceVersion, 'the default Vault was not written');
});

test.serial('the default ServiceAccount is refused with a Warning Event', async (t) => {
  await cluster.createServiceAccount(ns, 'default', { [AUTO]: 'true' }).catch(async () => cluster.annotate(ns, 'default', { [AUTO]: 'true' }));
  const message = await waitForEvent('default', ServiceAccountReason.DefaultServiceAccountRefused);
  t.regex(message, /every pod of the namespace/);
  t.regex(message, /VAULT_AUTOPILOT_ALLOW_DEFAULT_SERVICEACCOUNT=true/);
  t.false(entryNames(await cluster.externalConfig(ns, 'vault')).roles.includes(serviceAccountRoleName(ns, 'default')));
});

test.serial('a missing target Vault: Warning Event, applied the moment it appears (not at the next backoff); never created by the controller', async (t) => {
  // an operator whose retry backoff is two minutes: only the watch on Vault resources can be quicker
  const BACKOFF_MS = 120_000;
  await op!.stop();
  op = await startOperator(env(), { namespace: ns, env: { VAULT_AUTOPILOT_TARGET_VAULT: `${ns}/vault` }, backoff: { baseMs: BACKOFF_MS, maxMs: BACKOFF_MS } });
  try {
    await cluster.createServiceAccount(ns, 'early', { [AUTO]: 'true', [TARGET]: `${ns}/later` });
    const message = await waitForEvent('early', ServiceAccountReason.TargetVaultNotFound);
    t.regex(message, new RegExp(`Vault ${ns}/later does not exist`));
    t.is(await cluster.getVault(ns, 'later'), undefined, 'server-side apply must not create the Vault resource');
    // The test's own create (a POST: 409 if anything had made `later` meanwhile)
    // is the marker: nothing created it between the refusal and now.
    const created = Date.now();
    const later = await cluster.createVault(ns, 'later', PLACEHOLDER_VAULT);
    await waitForEntries('early', true, 'later', BACKOFF_MS);
    const latency = Date.now() - created;
    // the retry would come after the backoff less its 10 % jitter: anything sooner is the watch
    t.true(latency < BACKOFF_MS * 0.9, `applied ${latency} ms after the Vault appeared: before the ${BACKOFF_MS} ms backoff`);
    t.log(`applied ${latency} ms after the Vault resource appeared`);
    t.is((await cluster.getVault(ns, 'later'))?.metadata?.uid, later.metadata?.uid, 'the entries went into the Vault resource the test made');
    t.is(await recordOf('early', `${ns}/later`), `${ns}/later`);
  } finally {
    await op!.stop();
    op = await startOperator(env(), { namespace: ns, env: { VAULT_AUTOPILOT_TARGET_VAULT: `${ns}/vault` } });
  }
});

test.serial('changing the target moves the entries: out of the old Vault resource, into the new one', async (t) => {
  await cluster.createVault(ns, 'second', PLACEHOLDER_VAULT);
  await cluster.createServiceAccount(ns, 'mover', { [AUTO]: 'true' });
  await waitForEntries('mover', true, 'vault');
  await cluster.annotate(ns, 'mover', { [TARGET]: `${ns}/second` });
  await waitForEntries('mover', true, 'second');
  await waitForEntries('mover', false, 'vault');
  t.is(await recordOf('mover', `${ns}/second`), `${ns}/second`);
});

test.serial('a hand-written role of the same name is not taken over: ApplyConflict Warning', async (t) => {
  const role = serviceAccountRoleName(ns, 'squatted');
  await cluster.createVault(ns, 'squat', {
    ...PLACEHOLDER_VAULT,
    externalConfig: { auth: [{ path: 'kubernetes', type: 'kubernetes', roles: [{ name: role, token_ttl: 1 }] }] },
  });
  await cluster.createServiceAccount(ns, 'squatted', { [AUTO]: 'true', [TARGET]: `${ns}/squat` });
  const message = await waitForEvent('squatted', ServiceAccountReason.ApplyConflict);
  t.true(message.includes(`roles[name="${role}"]`), message);
  const kept = (await cluster.externalConfig(ns, 'squat')).auth![0]!.roles!.find((r) => r.name === role);
  t.is(kept?.token_ttl, 1);
});

test.serial('deleted while the operator is down (or uninstalled): nothing hangs; the restarted operator sweeps its entries', async (t) => {
  await cluster.createServiceAccount(ns, 'orphan', { [AUTO]: 'true' });
  await waitForEntries('orphan', true);
  await op!.stop();
  op = undefined;
  await cluster.deleteServiceAccount(ns, 'orphan');
  t.is(await cluster.getServiceAccount(ns, 'orphan'), undefined, 'gone at once: no finalizer waits for the operator');
  t.true(entryNames(await cluster.externalConfig(ns, 'vault')).roles.includes(serviceAccountRoleName(ns, 'orphan')));
  op = await startOperator(env(), { namespace: ns, env: { VAULT_AUTOPILOT_TARGET_VAULT: `${ns}/vault` } });
  await waitForEntries('orphan', false);
  const names = entryNames(await cluster.externalConfig(ns, 'vault'));
  t.true(names.roles.includes(serviceAccountRoleName(ns, 'orders')), 'a live ServiceAccount keeps its entries');
  t.true(names.roles.includes('hand-written'), 'hand-written entries stay');
});

test.serial('annotation taken off while the operator is down: the restarted operator removes the entries and the record', async (t) => {
  await cluster.createServiceAccount(ns, 'quitter', { [AUTO]: 'true' });
  await waitForEntries('quitter', true);
  await recordOf('quitter');
  await op!.stop();
  op = undefined;
  await cluster.annotate(ns, 'quitter', { [AUTO]: null });
  op = await startOperator(env(), { namespace: ns, env: { VAULT_AUTOPILOT_TARGET_VAULT: `${ns}/vault` } });
  await waitForEntries('quitter', false);
  const sa = await eventually(async () => {
    const current = await cluster.getServiceAccount(ns, 'quitter');
    if (current?.metadata?.finalizers?.length || current?.metadata?.annotations?.[APPLIED]) throw new Error('finalizer/record still there');
    return current;
  }, WITHIN.reconcile);
  t.truthy(sa, 'the ServiceAccount itself stays');
});
