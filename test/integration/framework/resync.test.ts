// Periodic resync against the REAL kube-apiserver: an unchanged object is
// reconciled again every resyncPeriodMs, and (being in sync) nothing is written.
import test from 'ava';
import { Writable } from 'node:stream';
import { eventually, WITHIN, useTestEnv, withinResyncs } from '../../harness/index.js';
import { AutopilotOperator, createLogger, createOperatorMetrics, MetricsRegistry } from '../../../operator/framework/index.js';
import { widgetController, WidgetRecorder } from './fixtures/widget-controller.js';
import { applyWidgetCrd, widgets } from './widgets.js';

const env = useTestEnv(test, { vault: false, kms: false });
let operator: AutopilotOperator;

test.after.always(async () => {
  await operator?.stop();
});

const RESYNC_MS = 700;

test.serial('every object is resynced periodically; an in-sync resync writes nothing', async (t) => {
  await applyWidgetCrd(env());
  const ns = await env().namespace('fw-resync');
  const w = widgets(env().kubeConfig(), ns);
  const recorder = new WidgetRecorder();
  operator = new AutopilotOperator({
    kubeConfig: env().kubeConfig(),
    logger: createLogger({ stream: new Writable({ write: (_c, _e, cb) => cb() }) }),
    metrics: createOperatorMetrics(new MetricsRegistry()),
    resyncPeriodMs: RESYNC_MS,
  });
  await operator.registerController(widgetController(recorder, { namespace: ns }));
  await operator.start();
  await w.create('r1', { value: 'v' });
  const synced = await eventually(async () => {
    const obj = await w.get('r1');
    if (obj.status?.observedValue !== 'v') throw new Error('not yet');
    return obj;
  }, WITHIN.reconcile);
  const key = `${ns}/r1`;
  const before = recorder.attempts.get(key) ?? 0;
  // two more passes with nothing changed: only the resync can cause them
  const after = await eventually(async () => {
    const now = recorder.attempts.get(key) ?? 0;
    if (now - before < 2) throw new Error(`resynced ${now - before} times so far`);
    return now;
  }, withinResyncs(2, RESYNC_MS));
  t.true(after - before >= 2);
  t.is((await w.get('r1')).metadata?.resourceVersion, synced.metadata?.resourceVersion, 'no write while in sync');
});
