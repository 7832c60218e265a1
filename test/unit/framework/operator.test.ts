// Unit-level checks of AutopilotOperator that need no apiserver.
import test from 'ava';
import { Writable } from 'node:stream';
import { KubeConfig, type KubernetesObject } from '@kubernetes/client-node';
import { AutopilotOperator, isRelevantChange } from '../../../operator/framework/operator.js';
import { FakeClock } from '../../../operator/framework/clock.js';
import { createLogger } from '../../../operator/framework/logger.js';
import { createOperatorMetrics, MetricsRegistry } from '../../../operator/framework/metrics.js';
import type { AdmissionHandler, AdmissionWebhookHost } from '../../../operator/framework/admission.js';

function kubeConfig(): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'c', server: 'https://127.0.0.1:1' }],
    users: [{ name: 'u', token: 't' }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  });
  return kc;
}
const quiet = () => createLogger({ stream: new Writable({ write: (_c, _e, cb) => cb() }) });

test.serial('constructing does not depend on the default kubeconfig (a broken KUBECONFIG is fine) and restores the env', (t) => {
  const saved = process.env.KUBECONFIG;
  process.env.KUBECONFIG = '/nonexistent/kubeconfig';
  try {
    const op = new AutopilotOperator({ kubeConfig: kubeConfig(), logger: quiet(), metrics: createOperatorMetrics(new MetricsRegistry()) });
    t.truthy(op.kube.core);
    t.is(process.env.KUBECONFIG, '/nonexistent/kubeconfig');
  } finally {
    if (saved === undefined) delete process.env.KUBECONFIG;
    else process.env.KUBECONFIG = saved;
  }
});

test.serial('registerMutatingWebhook registers on the webhook host; readiness follows isServing(); start/stop drive the host', async (t) => {
  const calls: string[] = [];
  let serving = false;
  const host: AdmissionWebhookHost = {
    register: (path: string, _h: AdmissionHandler) => void calls.push(`register ${path}`),
    start: async () => {
      calls.push('start');
      serving = true;
    },
    stop: async () => {
      calls.push('stop');
      serving = false;
    },
    isServing: () => serving,
  };
  const op = new AutopilotOperator({ kubeConfig: kubeConfig(), logger: quiet(), webhookServer: host, metrics: createOperatorMetrics(new MetricsRegistry()) });
  op.registerMutatingWebhook('/mutate-pods', async () => ({ allowed: true }));
  t.false(op.isReady());
  await op.start();
  t.true(op.isReady(), 'no watches, webhook serving');
  serving = false;
  t.false(op.isReady());
  serving = true;
  await op.stop();
  t.false(op.isReady());
  t.deepEqual(calls, ['register /mutate-pods', 'start', 'stop']);
});

test.serial('without a webhook host, registerMutatingWebhook says what is missing', (t) => {
  const op = new AutopilotOperator({ kubeConfig: kubeConfig(), logger: quiet(), metrics: createOperatorMetrics(new MetricsRegistry()) });
  t.throws(() => op.registerMutatingWebhook('/x', async () => ({ allowed: true })), { message: /webhookServer/ });
});

test.serial('registering a kind twice is an error', async (t) => {
  const op = new AutopilotOperator({ kubeConfig: kubeConfig(), logger: quiet(), metrics: createOperatorMetrics(new MetricsRegistry()) });
  const spec = { kind: 'Thing', group: 'g', version: 'v1', plural: 'things', reconcile: async () => {} };
  await op.registerController(spec);
  await t.throwsAsync(op.registerController(spec), { message: /already registered/ });
});

const obj = (meta: NonNullable<KubernetesObject['metadata']>): KubernetesObject => ({ metadata: { name: 'a', ...meta } });
const relevance: Array<[string, KubernetesObject | undefined, KubernetesObject, boolean]> = [
  ['first sight', undefined, obj({ generation: 1 }), true],
  ['status-only write (same generation)', obj({ generation: 1, resourceVersion: '1' }), obj({ generation: 1, resourceVersion: '2' }), false],
  ['spec change bumps generation', obj({ generation: 1 }), obj({ generation: 2 }), true],
  ['annotation change', obj({ generation: 1, annotations: { a: '1' } }), obj({ generation: 1, annotations: { a: '2' } }), true],
  ['label change', obj({ generation: 1 }), obj({ generation: 1, labels: { x: 'y' } }), true],
  ['finalizer removed', obj({ generation: 1, finalizers: ['f'] }), obj({ generation: 1 }), true],
  ['deletion requested', obj({ generation: 1 }), obj({ generation: 1, deletionTimestamp: new Date(0) }), true],
  ['kinds without generation are always relevant', obj({ resourceVersion: '1' }), obj({ resourceVersion: '2' }), true],
];
for (const [name, before, after, expected] of relevance) {
  test(`isRelevantChange: ${name}`, (t) => t.is(isRelevantChange(before, after), expected));
}

test.serial('every(): a background loop on the framework clock and queue; first run after one period, a failure retried with backoff, none after stop', async (t) => {
  const clock = new FakeClock();
  const op = new AutopilotOperator({ kubeConfig: kubeConfig(), logger: quiet(), clock, backoff: { baseMs: 1000, maxMs: 1000 }, metrics: createOperatorMetrics(new MetricsRegistry()) });
  const runs: number[] = [];
  let fail = false;
  op.every('loop', 60_000, async () => {
    runs.push(clock.now().getTime());
    if (fail) throw new Error('transient');
  });
  t.throws(() => op.every('loop', 1000, async () => {}), { message: /already registered/ });
  await op.start();
  const t0 = clock.now().getTime();
  await clock.advance(59_999);
  t.is(runs.length, 0, 'not at start');
  await clock.advance(1);
  t.deepEqual(runs, [t0 + 60_000]);
  fail = true;
  await clock.advance(60_000);
  await clock.advance(1000);
  t.deepEqual(runs.slice(1), [t0 + 120_000, t0 + 121_000], 'retried after the backoff');
  fail = false;
  await clock.advance(1000);
  await clock.advance(60_000);
  t.deepEqual(runs.slice(3), [t0 + 122_000, t0 + 182_000], 'back on its period after a success');
  await op.stop();
  await clock.advance(120_000);
  t.is(runs.length, 5);
});
