// The framework's pieces for objects a controller depends on but does not own,
// against the REAL kube-apiserver: watchRelated (a label-selected watch that
// enqueues the owner on every change, deletion included), addFinalizer:false
// (never added, a pre-existing one still finalized and released), onDeleted,
// and cached(); watchOwned (only the owners that use the changed object,
// from the owners' cache). Owners are ConfigMaps, related objects Secrets.
import test from 'ava';
import { Writable } from 'node:stream';
import { CoreV1Api, type KubernetesObject } from '@kubernetes/client-node';
import { AutopilotOperator, createLogger, createOperatorMetrics, MetricsRegistry } from '../../../operator/framework/index.js';
import { eventually, WITHIN, useTestEnv } from '../../harness/index.js';

const env = useTestEnv(test, { vault: false, kms: false });
const FINALIZER = 'test.vault.autopilot.dev/legacy';
const OWNER_LABEL = 'test.vault.autopilot.dev/owner';
const OWNED_LABEL = 'test.vault.autopilot.dev/owned';
const USES = 'test.vault.autopilot.dev/uses';
let operator: AutopilotOperator;
let core: CoreV1Api;
let ns: string;
const reconciled: string[] = [];
const finalized: string[] = [];
const deleted: string[] = [];

test.before(async () => {
  ns = await env().namespace('related');
  core = env().kubeConfig().makeApiClient(CoreV1Api);
  operator = new AutopilotOperator({
    kubeConfig: env().kubeConfig(),
    logger: createLogger({ stream: new Writable({ write: (_c, _e, cb) => cb() }) }),
    resyncPeriodMs: 10 * 60_000,
    metrics: createOperatorMetrics(new MetricsRegistry()),
  });
  await operator.registerController<KubernetesObject>({
    kind: 'Owner',
    group: '',
    version: 'v1',
    plural: 'configmaps',
    namespace: ns,
    finalizer: FINALIZER,
    addFinalizer: false,
    reconcile: async (obj) => void reconciled.push(obj.metadata!.name!),
    finalize: async (obj) => void finalized.push(obj.metadata!.name!),
    onDeleted: (obj) => void deleted.push(obj.metadata!.name!),
  });
  await operator.watchRelated<KubernetesObject>({
    group: '',
    version: 'v1',
    plural: 'secrets',
    namespace: ns,
    labelSelector: `${OWNER_LABEL}`,
    map: (secret) => [{ kind: 'Owner', namespace: secret.metadata?.namespace, name: secret.metadata!.labels![OWNER_LABEL]! }],
  });
  // an owner uses the Secrets its annotation lists (as a KMSVaultSecret includes partials)
  await operator.watchOwned<KubernetesObject, KubernetesObject>({
    group: '',
    version: 'v1',
    plural: 'secrets',
    namespace: ns,
    labelSelector: OWNED_LABEL,
    ownerKind: 'Owner',
    owns: (owner, secret) => (owner.metadata?.annotations?.[USES] ?? '').split(',').includes(secret.metadata!.name!),
  });
  await operator.start();
  await operator.waitForSync();
});

test.after.always(async () => {
  await operator?.stop();
});

const count = (list: string[], name: string) => list.filter((n) => n === name).length;

test.serial('a labelled related object enqueues its owner on create, change and delete; unlabelled ones do not', async (t) => {
  await core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'owner' } } });
  await eventually(async () => {
    if (count(reconciled, 'owner') < 1) throw new Error('owner not reconciled');
  }, WITHIN.reconcile);
  const base = count(reconciled, 'owner');
  await core.createNamespacedSecret({ namespace: ns, body: { metadata: { name: 'related', labels: { [OWNER_LABEL]: 'owner' } } } });
  await eventually(async () => {
    if (count(reconciled, 'owner') < base + 1) throw new Error('not enqueued by the related create');
  }, WITHIN.reconcile);
  const secret = await core.readNamespacedSecret({ namespace: ns, name: 'related' });
  await core.replaceNamespacedSecret({ namespace: ns, name: 'related', body: { ...secret, data: { k: Buffer.from('v').toString('base64') } } });
  await eventually(async () => {
    if (count(reconciled, 'owner') < base + 2) throw new Error('not enqueued by the related change');
  }, WITHIN.reconcile);
  await core.deleteNamespacedSecret({ namespace: ns, name: 'related' });
  await eventually(async () => {
    if (count(reconciled, 'owner') < base + 3) throw new Error('not enqueued by the related delete');
  }, WITHIN.reconcile);
  // the non-event: an unlabelled Secret, then a labelled marker for another owner on the same watch;
  // watch events come in order, so once the marker's owner is reconciled the unlabelled one was passed over
  await core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'marker' } } });
  await eventually(async () => {
    if (count(reconciled, 'marker') < 1) throw new Error('marker owner not reconciled');
  }, WITHIN.reconcile);
  const before = count(reconciled, 'owner');
  const markerBefore = count(reconciled, 'marker');
  await core.createNamespacedSecret({ namespace: ns, body: { metadata: { name: 'unrelated' } } });
  await core.createNamespacedSecret({ namespace: ns, body: { metadata: { name: 'marker-related', labels: { [OWNER_LABEL]: 'marker' } } } });
  await eventually(async () => {
    if (count(reconciled, 'marker') < markerBefore + 1) throw new Error('marker not enqueued by its related create');
  }, WITHIN.reconcile);
  t.is(count(reconciled, 'owner'), before, 'an object outside the label selector is not seen');
});

test.serial('addFinalizer false: never added; onDeleted and cached() see the deletion', async (t) => {
  await core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'plain' } } });
  await eventually(async () => {
    if (!operator.cached('Owner', ns, 'plain').obj) throw new Error('not cached yet');
  }, WITHIN.reconcile);
  t.true(operator.cached('Owner', ns, 'plain').synced);
  await eventually(async () => {
    if (count(reconciled, 'plain') < 1) throw new Error('not reconciled');
  }, WITHIN.reconcile);
  t.deepEqual((await core.readNamespacedConfigMap({ namespace: ns, name: 'plain' })).metadata?.finalizers ?? [], []);
  await core.deleteNamespacedConfigMap({ namespace: ns, name: 'plain' });
  await eventually(async () => {
    if (!deleted.includes('plain')) throw new Error('onDeleted not called');
  }, WITHIN.reconcile);
  t.is(operator.cached('Owner', ns, 'plain').obj, undefined);
  t.is(count(finalized, 'plain'), 0, 'nothing to finalize without the finalizer');
});

test.serial('a finalizer that is already there (an earlier version added it) is finalized and released', async (t) => {
  await core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'legacy', finalizers: [FINALIZER] } } });
  await eventually(async () => {
    if (count(reconciled, 'legacy') < 1) throw new Error('not reconciled');
  }, WITHIN.reconcile);
  await core.deleteNamespacedConfigMap({ namespace: ns, name: 'legacy' });
  await eventually(async () => {
    try {
      await core.readNamespacedConfigMap({ namespace: ns, name: 'legacy' });
    } catch {
      return;
    }
    throw new Error('still there');
  }, WITHIN.reconcile);
  t.is(count(finalized, 'legacy'), 1);
  t.true(deleted.includes('legacy'));
});

test.serial('watchOwned: a changed secondary object enqueues only the owners that use it', async (t) => {
  await core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'user', annotations: { [USES]: 'shared,mine' } } } });
  await core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'bystander', annotations: { [USES]: 'theirs' } } } });
  await eventually(async () => {
    if (count(reconciled, 'user') < 1 || count(reconciled, 'bystander') < 1) throw new Error('owners not reconciled');
  }, WITHIN.reconcile);
  const user = count(reconciled, 'user');
  const bystander = count(reconciled, 'bystander');
  const owned = (name: string) => core.createNamespacedSecret({ namespace: ns, body: { metadata: { name, labels: { [OWNED_LABEL]: 'true' } } } });
  // one at a time, each waited for: watch events come in order, so a wrong enqueue would show as an extra reconcile
  await owned('shared');
  await eventually(async () => {
    if (count(reconciled, 'user') < user + 1) throw new Error('user not enqueued by the Secret it uses');
 }, WITHIN.reconcile);
  await owned('theirs');
  await eventually(async () => {
    if (count(reconciled, 'bystander') < bystander + 1) throw new Error('bystander not enqueued by the Secret it uses');
 }, WITHIN.reconcile);
  await owned('mine');
  await eventually(async () => {
    if (count(reconciled, 'user') < user + 2) throw new Error('user not enqueued by its second Secret');
 }, WITHIN.reconcile);
  t.is(count(reconciled, 'user'), user + 2, 'enqueued by the two Secrets it uses, not by the other one');
  t.is(count(reconciled, 'bystander'), bystander + 1, 'enqueued by the one Secret it uses only');
});
