// filter + finalizer semantics against the REAL kube-apiserver: objects the
// filter rejects are never touched; an object that carries the finalizer but
// leaves the filter (opt-in label removed) is finalized once and released.
import test from 'ava';
import { Writable } from 'node:stream';
import { CustomObjectsApi, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { eventually, WITHIN, useTestEnv } from '../../harness/index.js';
import { AutopilotOperator, createLogger, createOperatorMetrics, MetricsRegistry } from '../../../operator/framework/index.js';
import { WIDGET, WIDGET_CRD_FILE, WIDGET_FINALIZER, type Widget } from './fixtures/widget-controller.js';
import { applyWidgetCrd, widgets } from './widgets.js';

const env = useTestEnv(test, { vault: false, kms: false });
const OPT_IN = 'fwtest.vault.autopilot.dev/managed';
let operator: AutopilotOperator;

test.after.always(async () => {
  await operator?.stop();
});

test.serial('filtered objects are ignored; leaving the filter finalizes once and removes the finalizer', async (t) => {
  await applyWidgetCrd(env());
  const ns = await env().namespace('fw-filter');
  const w = widgets(env().kubeConfig(), ns);
  const custom = env().kubeConfig().makeApiClient(CustomObjectsApi);
  const setLabels = (name: string, labels: Record<string, string | null>) =>
    custom.patchNamespacedCustomObject(
      { group: WIDGET.group, version: WIDGET.version, plural: WIDGET.plural, namespace: ns, name, body: { metadata: { labels } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
  const reconciled: string[] = [];
  const finalized: string[] = [];
  operator = new AutopilotOperator({
    kubeConfig: env().kubeConfig(),
    logger: createLogger({ stream: new Writable({ write: (_c, _e, cb) => cb() }) }),
    metrics: createOperatorMetrics(new MetricsRegistry()),
  });
  await operator.registerController<Widget>({
    ...WIDGET,
    kind: 'OptInWidget',
    namespace: ns,
    finalizer: WIDGET_FINALIZER,
    filter: (obj) => obj.metadata?.labels?.[OPT_IN] === 'true',
    reconcile: async (obj) => void reconciled.push(obj.metadata?.name ?? ''),
    finalize: async (obj) => void finalized.push(obj.metadata?.name ?? ''),
  });
  await operator.start();
  await operator.waitForSync();

  await w.create('ignored', { value: 'x' });
  await w.create('managed', { value: 'y' });
  await setLabels('managed', { [OPT_IN]: 'true' });
  await eventually(async () => {
    const obj = await w.get('managed');
    if (!obj.metadata?.finalizers?.includes(WIDGET_FINALIZER)) throw new Error('no finalizer');
    if (!reconciled.includes('managed')) throw new Error('not reconciled');
  }, WITHIN.reconcile);
  t.deepEqual((await w.get('ignored')).metadata?.finalizers ?? [], [], 'a rejected object gets no finalizer');
  t.false(reconciled.includes('ignored'));

  await setLabels('managed', { [OPT_IN]: null });
  await eventually(async () => {
    const obj = await w.get('managed');
    if (obj.metadata?.finalizers?.includes(WIDGET_FINALIZER)) throw new Error('finalizer still there');
  }, WITHIN.reconcile);
  // finalize runs before the finalizer is released, so it has been called by now
  t.deepEqual(finalized, ['managed']);
  t.is((await w.get('managed')).metadata?.name, 'managed', 'the object itself stays');
  // After release the object is out of scope: further changes are ignored.
  // Proof of the non-event: a change made AFTER it to an opted-in object is
  // reconciled, so the watch has delivered (and the filter judged) both.
  const before = reconciled.filter((n) => n === 'managed').length;
  await w.patchSpec('managed', { value: 'z' });
  await w.create('marker', { value: 'm' });
  await setLabels('marker', { [OPT_IN]: 'true' });
  await eventually(async () => {
    if (!reconciled.includes('marker')) throw new Error('marker not reconciled yet');
  }, WITHIN.reconcile);
  t.is(reconciled.filter((n) => n === 'managed').length, before);
  t.deepEqual(finalized, ['managed']);
});

test.serial('registerCustomResourceDefinition uses our client (the base class would use its own default kubeconfig)', async (t) => {
  class Registering extends AutopilotOperator {
    register(file: string) {
      return this.registerCustomResourceDefinition(file);
    }
  }
  const op = new Registering({
    kubeConfig: env().kubeConfig(),
    logger: createLogger({ stream: new Writable({ write: (_c, _e, cb) => cb() }) }),
    metrics: createOperatorMetrics(new MetricsRegistry()),
  });
  // Already present from the test above: a 409 that is ignored, as in the base class.
  const crd = await op.register(WIDGET_CRD_FILE);
  t.is(crd.group, WIDGET.group);
  t.is(crd.plural, WIDGET.plural);
  await t.throwsAsync(op.register('package.json'));
});
