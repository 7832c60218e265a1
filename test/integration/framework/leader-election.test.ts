// Two operators, one Lease on the REAL kube-apiserver: only the leader
// reconciles; when it stops it releases the lease and the standby takes over.
import test from 'ava';
import { Writable } from 'node:stream';
import { CoordinationV1Api } from '@kubernetes/client-node';
import { eventually, WITHIN, useTestEnv } from '../../harness/index.js';
import { AutopilotOperator, createLogger, createOperatorMetrics, MetricsRegistry } from '../../../operator/framework/index.js';
import { widgetController, WidgetRecorder } from './fixtures/widget-controller.js';
import { applyWidgetCrd, widgets } from './widgets.js';

const env = useTestEnv(test, { vault: false, kms: false });
const operators: AutopilotOperator[] = [];

test.after.always(async () => {
  await Promise.all(operators.map((o) => o.stop()));
});

const HAND_OVER_LEASE_MS = 60_000;

function candidate(identity: string, ns: string, recorder: WidgetRecorder, lost: string[], leaseDurationMs = 4000) {
  const op = new AutopilotOperator({
    kubeConfig: env().kubeConfig(),
    logger: createLogger({ stream: process.env.FW_DEBUG ? process.stderr : new Writable({ write: (_c, _e, cb) => cb() }) }),
    metrics: createOperatorMetrics(new MetricsRegistry()),
    leaderElection: { namespace: ns, leaseName: 'widget-operator', identity, leaseDurationMs, renewDeadlineMs: 3000, retryPeriodMs: 300, onLost: () => lost.push(identity) },
  });
  void op.registerController(widgetController(recorder, { namespace: ns }));
  operators.push(op);
  return op;
}

test.serial('only the lease holder reconciles; on stop it hands over to the standby', async (t) => {
  await applyWidgetCrd(env());
  const ns = await env().namespace('fw-leader');
  const w = widgets(env().kubeConfig(), ns);
  const lost: string[] = [];
  const recA = new WidgetRecorder();
  const recB = new WidgetRecorder();
  // a lease far longer than any test wait: taking over before it expires can only come from the release
  const a = candidate('replica-a', ns, recA, lost, HAND_OVER_LEASE_MS);
  await a.start();
  await eventually(async () => {
    if (!a.isLeader()) throw new Error('a is not leader yet');
  }, WITHIN.reconcile);
  const b = candidate('replica-b', ns, recB, lost, HAND_OVER_LEASE_MS);
  await b.start();
  t.true(b.isReady(), 'a standby is ready (nothing to sync)');

  await w.create('first', { value: '1' });
  await eventually(async () => {
    if ((await w.get('first')).status?.observedValue !== '1') throw new Error('not reconciled');
  }, WITHIN.reconcile);
  // a window of the election's own rhythm: the leader renews twice more (the standby polls at the same period)
  const coordination = env().kubeConfig().makeApiClient(CoordinationV1Api);
  const leaseVersion = async () => (await coordination.readNamespacedLease({ name: 'widget-operator', namespace: ns })).metadata!.resourceVersion!;
  const seen = new Set([await leaseVersion()]);
  await eventually(async () => {
    seen.add(await leaseVersion());
    if (seen.size < 3) throw new Error(`lease renewed ${seen.size - 1} times`);
  }, { ...WITHIN.reconcile, intervalMs: 100 });
  t.false(b.isLeader());
  t.is(recB.attempts.size, 0, 'the standby reconciled nothing');
  t.is(recA.attempts.get(`${ns}/first`), 1);

  const lease = await coordination.readNamespacedLease({ name: 'widget-operator', namespace: ns });
  t.is(lease.spec?.holderIdentity, 'replica-a');

  const stoppedAt = Date.now();
  await a.stop();
  await eventually(async () => {
    if (!b.isLeader()) throw new Error('b has not taken over');
  }, { timeoutMs: HAND_OVER_LEASE_MS - 5000 });
  const takeoverMs = Date.now() - stoppedAt;
  t.true(takeoverMs < HAND_OVER_LEASE_MS, `released lease taken over in ${takeoverMs} ms, before its ${HAND_OVER_LEASE_MS / 1000} s duration`);
  t.log(`takeover after release: ${takeoverMs} ms`);
  await w.create('second', { value: '2' });
  await eventually(async () => {
    if ((await w.get('second')).status?.observedValue !== '2') throw new Error('not reconciled');
  }, WITHIN.reconcile);
  t.is(recB.attempts.get(`${ns}/second`), 1);
  t.is(recA.attempts.get(`${ns}/second`), undefined);
  t.deepEqual(lost, []);
});

test.serial('a lease left by a dead holder is taken over only after its duration', async (t) => {
  const ns = await env().namespace('fw-leader-dead');
  const coordination = env().kubeConfig().makeApiClient(CoordinationV1Api);
  // A holder that will never renew (no renewTime: client-node 1.4 mis-serialises MicroTime).
  await coordination.createNamespacedLease({ namespace: ns, body: { metadata: { name: 'widget-operator' }, spec: { holderIdentity: 'ghost', leaseDurationSeconds: 3 } } });
  const lost: string[] = [];
  const c = candidate('replica-c', ns, new WidgetRecorder(), lost);
  const started = Date.now();
  await c.start();
  t.false(c.isLeader(), 'held by the ghost'); // and not taken before its duration: `waited` below
  await eventually(async () => {
    if (!c.isLeader()) throw new Error('not leader yet');
  }, WITHIN.reconcile);
  const waited = Date.now() - started;
  t.true(waited >= 3000, `took over after ${waited} ms`);
  const lease = await coordination.readNamespacedLease({ name: 'widget-operator', namespace: ns });
  t.is(lease.spec?.holderIdentity, 'replica-c');
  t.is(lease.spec?.leaseTransitions, 1);
});
