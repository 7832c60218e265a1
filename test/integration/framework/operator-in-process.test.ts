// The framework against the REAL kube-apiserver, operator running in-process:
// retries with backoff, bounded concurrency without per-object overlap,
// finalizers, condition timestamps, no-op status writes, Events, readiness.
import test from 'ava';
import { Writable } from 'node:stream';
import { eventually, WITHIN, useTestEnv } from '../../harness/index.js';
import { AutopilotOperator, createLogger, createOperatorMetrics, markSecret, MetricsRegistry, REDACTED, type OperatorMetrics } from '../../../operator/framework/index.js';
import { widgetController, WidgetRecorder, WIDGET_FINALIZER } from './fixtures/widget-controller.js';
import { applyWidgetCrd, sleep, widgets } from './widgets.js';

const env = useTestEnv(test, { vault: false, kms: false });
const recorder = new WidgetRecorder();
const logLines: string[] = [];
const starts = new Map<string, number[]>();
let operator: AutopilotOperator;
let metrics: OperatorMetrics;
let w: ReturnType<typeof widgets>;
let ns: string;

test.before(async () => {
  await applyWidgetCrd(env());
  ns = await env().namespace('framework');
  w = widgets(env().kubeConfig(), ns);
  const stream = new Writable({
    write(chunk, _enc, cb) {
      logLines.push(...String(chunk).split('\n').filter(Boolean));
      cb();
    },
  });
  metrics = createOperatorMetrics(new MetricsRegistry());
  operator = new AutopilotOperator({
    kubeConfig: env().kubeConfig(),
    logger: createLogger({ stream, level: 'debug' }),
    concurrency: 8,
    backoff: { baseMs: 300, maxMs: 3000 },
    resyncPeriodMs: 10 * 60_000,
    metrics,
  });
  const spec = widgetController(recorder, { namespace: ns });
  const reconcile = spec.reconcile.bind(spec);
  spec.reconcile = async (obj, ctx) => {
    const key = `${obj.metadata?.namespace}/${obj.metadata?.name}`;
    starts.set(key, [...(starts.get(key) ?? []), Date.now()]);
    if (obj.metadata?.name === 'leaky') {
      // A controller that handles a secret carelessly: every framework path must still redact it.
      const value = obj.spec?.value ?? '';
      markSecret(value);
      ctx.log.info('handling a secret', { value });
      await ctx.event('Warning', 'LeakAttempt', `value is ${value}`);
      if ((starts.get(key) ?? []).length === 1) throw new Error(`cannot use ${value}`);
      return;
    }
    try {
      return await reconcile(obj, ctx);
    } catch (err) {
      await ctx.event('Warning', 'FailingOnPurpose', 'the widget was told to fail');
      throw err;
    }
  };
  await operator.registerController(spec);
  await operator.start();
  await operator.waitForSync();
});

test.after.always(async () => {
  await operator?.stop();
});

test.serial('ready once the watch has listed', (t) => {
  t.true(operator.isReady());
});

test.serial('a handler that throws twice is retried with growing backoff, then succeeds; errors are logged', async (t) => {
  await w.create('flaky', { value: 'v1', failTimes: 2 });
  const done = await eventually(
    async () => {
      const obj = await w.get('flaky');
      if (obj.status?.observedValue !== 'v1') throw new Error('not reconciled yet');
      return obj;
    },
    { timeoutMs: 30_000 },
  );
  t.is(done.status?.conditions?.[0]?.status, 'True');
  const key = `${ns}/flaky`;
  t.is(recorder.attempts.get(key), 3);
  const times = starts.get(key) ?? [];
  t.is(times.length, 3);
  const [a = 0, b = 0, c = 0] = times;
  t.true(b - a >= 280, `first retry after ${b - a} ms`);
  t.true(c - b >= 580, `second retry after ${c - b} ms`);
  t.true(c - b > b - a, 'backoff grows');
  const errors = logLines.filter((l) => l.includes('reconcile failed, will retry') && l.includes('flaky'));
  t.is(errors.length, 2);
  t.true(errors[0]?.includes(`widget ${key} failing on purpose (attempt 1)`));
  t.true(errors[1]?.includes(`widget ${key} failing on purpose (attempt 2)`));
  // Same reason+message twice: one Event with count 2, not two Events.
  const events = (await w.events('flaky')).filter((e) => e.reason === 'FailingOnPurpose');
  t.is(events.length, 1);
  t.is(events[0]?.count, 2);
  t.is(events[0]?.type, 'Warning');
  t.is(events[0]?.source?.component, 'vault-autopilot');
  t.true(metrics.reconcileErrors.get({ kind: 'Widget' }) >= 2);
});

test.serial('50 objects reconcile concurrently while events of one object never overlap', async (t) => {
  const names = Array.from({ length: 50 }, (_, i) => `many-${i}`);
  const key = `${ns}/many-0`;
  // One slow object first; events for it arrive while it is being reconciled.
  await w.create('many-0', { value: 'a', sleepMs: 800 });
  await eventually(async () => {
    if ((recorder.activePerKey.get(key) ?? 0) < 1) throw new Error('many-0 not running yet');
  }, WITHIN.reconcile);
  const createdAt = Date.now();
  await Promise.all(names.slice(1).map((name) => w.create(name, { value: 'a', sleepMs: 150 })));
  for (const value of ['b', 'c', 'd', 'e']) {
    await w.patchSpec('many-0', { value, sleepMs: 800 });
    await sleep(100); // spreads the events over many-0's reconcile; the assertion holds for any spacing
  }
  await eventually(
    async () => {
      for (const name of names) {
        const obj = await w.get(name);
        const want = name === 'many-0' ? 'e' : 'a';
        if (obj.status?.observedValue !== want) throw new Error(`${name}: ${obj.status?.observedValue}`);
      }
    },
    { timeoutMs: 60_000, intervalMs: 500 },
  );
  t.log(`50 objects (150 ms handler each, concurrency 8) all reconciled ${Date.now() - createdAt} ms after creation; max in flight ${recorder.maxActive}`);
  t.true(recorder.maxActive > 1, `max concurrency ${recorder.maxActive}`);
  t.true(recorder.maxActive <= 8, `bounded by 8, saw ${recorder.maxActive}`);
  t.deepEqual(recorder.overlaps, []);
  // Per object, starts and ends alternate strictly; the events during the
  // first run caused a second run after it (coalesced, not one per event).
  const mine = recorder.timeline.filter(([k]) => k === key).map(([, e]) => e);
  t.true(mine.length >= 4);
  mine.forEach((e, i) => t.is(e, i % 2 === 0 ? 'start' : 'end'));
});

test.serial('finalizer is added; on delete the cleanup runs exactly once and the object disappears', async (t) => {
  await w.create('fin', { value: 'x' });
  await eventually(async () => {
    const obj = await w.get('fin');
    if (!obj.metadata?.finalizers?.includes(WIDGET_FINALIZER)) throw new Error('no finalizer yet');
    if (obj.status?.observedValue !== 'x') throw new Error('not reconciled yet');
  }, WITHIN.reconcile);
  t.is(recorder.cleanups.get(`${ns}/fin`), undefined);
  await w.delete('fin');
  await eventually(async () => {
    try {
      await w.get('fin');
    } catch (err) {
      if ((err as { code?: number }).code === 404) return;
      throw err;
    }
    throw new Error('still there');
  }, WITHIN.reconcile);
  // the operator's cache saw the deletion and nothing runs for it: no later cleanup can start
  await eventually(async () => {
    if (operator.cached('Widget', ns, 'fin').obj) throw new Error('deletion not seen yet');
    if (recorder.activePerKey.get(`${ns}/fin`)) throw new Error('still running');
  }, WITHIN.reconcile);
  t.is(recorder.cleanups.get(`${ns}/fin`), 1);
});

test.serial('lastTransitionTime stays put when the same status is set again, moves when it changes', async (t) => {
  await w.create('cond', { value: 'one' });
  const first = await eventually(async () => {
    const obj = await w.get('cond');
    if (obj.status?.observedValue !== 'one') throw new Error('not yet');
    return obj;
  }, WITHIN.reconcile);
  const ltt = first.status?.conditions?.[0]?.lastTransitionTime;
  t.truthy(ltt);
  // wall clock is the property: timestamps have second precision, a refreshed one would now differ
  while (Date.now() < Date.parse(ltt!) + 1000) await sleep(50);
  await w.patchSpec('cond', { value: 'two' });
  const second = await eventually(async () => {
    const obj = await w.get('cond');
    if (obj.status?.observedValue !== 'two') throw new Error('not yet');
    return obj;
  }, WITHIN.reconcile);
  t.is(second.status?.conditions?.[0]?.message, 'value is two');
  t.is(second.status?.conditions?.[0]?.lastTransitionTime, ltt);
  t.is(second.status?.conditions?.[0]?.observedGeneration, second.metadata?.generation);

  await w.patchSpec('cond', { value: 'two', conditionStatus: 'False' });
  const third = await eventually(async () => {
    const obj = await w.get('cond');
    if (obj.status?.conditions?.[0]?.status !== 'False') throw new Error('not yet');
    return obj;
  }, WITHIN.reconcile);
  t.not(third.status?.conditions?.[0]?.lastTransitionTime, ltt);
});

test.serial('a reconcile of an object already in sync writes nothing', async (t) => {
  await w.create('steady', { value: 's' });
  const synced = await eventually(async () => {
    const obj = await w.get('steady');
    if (obj.status?.observedValue !== 's') throw new Error('not yet');
    return obj;
  }, WITHIN.reconcile);
  const key = `${ns}/steady`;
  const before = recorder.attempts.get(key) ?? 0;
  // two more passes, one after the other (never overlapping per object): once the second has
  // started, the first one and everything the framework does after it have finished
  operator.enqueue('Widget', ns, 'steady');
  await eventually(async () => {
    if ((recorder.attempts.get(key) ?? 0) <= before) throw new Error('not reconciled again');
  }, WITHIN.reconcile);
  operator.enqueue('Widget', ns, 'steady');
  await eventually(async () => {
    if ((recorder.attempts.get(key) ?? 0) <= before + 1) throw new Error('not reconciled a second time');
    if (recorder.activePerKey.get(key)) throw new Error('still running');
  }, WITHIN.reconcile);
  const after = await w.get('steady');
  t.is(after.metadata?.resourceVersion, synced.metadata?.resourceVersion);
});

test.serial('a secret handled by a reconcile reaches no log line and no Event (logs, events, retry errors)', async (t) => {
  const value = 's.leaky-token-5f2a9c';
  await w.create('leaky', { value });
  const key = `${ns}/leaky`;
  await eventually(async () => {
    if ((starts.get(key) ?? []).length < 2) throw new Error('not retried yet');
    if (logLines.filter((l) => l.includes('handling a secret')).length < 2) throw new Error('second attempt not logged yet');
    if ((await w.events('leaky')).filter((e) => e.reason === 'LeakAttempt').length < 1) throw new Error('no Event yet');
  }, WITHIN.reconcile);
  const all = logLines.join('\n');
  t.false(all.includes(value));
  t.true(logLines.some((l) => l.includes('reconcile failed, will retry') && l.includes(`cannot use ${REDACTED}`)));
  t.true(logLines.some((l) => l.includes('handling a secret') && l.includes(REDACTED)));
  const events = (await w.events('leaky')).filter((e) => e.reason === 'LeakAttempt');
  t.true(events.length >= 1);
  for (const e of events) {
    t.false((e.message ?? '').includes(value));
    t.is(e.message, `value is ${REDACTED}`);
  }
});

test.serial('metrics count reconciles per kind', (t) => {
  t.true(metrics.reconcileTotal.get({ kind: 'Widget', result: 'success' }) >= 50);
  const text = metrics.registry.render();
  t.regex(text, /vault_autopilot_reconcile_duration_seconds_count\{kind="Widget"\} \d+/);
  t.regex(text, /vault_autopilot_queue_depth\{kind="Widget"\} \d+/);
});
