// The framework as a real operator PROCESS against a private kube-apiserver:
// it survives the apiserver going away and coming back (resuming its watch),
// and SIGTERM lets the reconcile in flight finish before exiting 0.
import test from 'ava';
import { eventually, WITHIN, startOperatorProcess, startServers, type OperatorProcess, type Servers } from '../../harness/index.js';
import { applyWidgetCrd, widgets } from './widgets.js';

const ENTRY = 'test/integration/framework/fixtures/operator-entry.ts';
let servers: Servers;

test.before(async () => {
  servers = await startServers({ vault: false, kms: false });
  await applyWidgetCrd(servers.env);
});
test.after.always(async () => {
  await servers?.stopAll();
});

async function startOperator(namespace: string): Promise<{ proc: OperatorProcess; exitedEarly: () => boolean }> {
  const proc = await startOperatorProcess({ entry: ENTRY, env: { KUBECONFIG: servers.env.kubeconfigPath, WIDGET_NAMESPACE: namespace } });
  let exited = false;
  void proc.exited().then(() => (exited = true));
  await proc.waitForOutput(/widget operator ready/, WITHIN.start.timeoutMs);
  return { proc, exitedEarly: () => exited };
}

const observed = (w: ReturnType<typeof widgets>, name: string, value: string, timeoutMs = 60_000) =>
  eventually(
    async () => {
      const obj = await w.get(name);
      if (obj.status?.observedValue !== value) throw new Error(`${name}: observed ${obj.status?.observedValue}`);
      return obj;
    },
    { timeoutMs, message: `${name} reconciled to ${value}` },
  );

test.serial('kube-apiserver stopped and restarted: the process stays up, reconnects its watch, reconciles what changed meanwhile', async (t) => {
  const ns = await servers.env.namespace('fw-restart');
  const w = widgets(servers.env.kubeConfig(), ns);
  const { proc, exitedEarly } = await startOperator(ns);
  await w.create('before', { value: 'one' });
  await w.create('untouched', { value: 'same' });
  await observed(w, 'before', 'one');
  await observed(w, 'untouched', 'same');

  await servers.apiserver.stop();
  // the operator's watch fails and retries meanwhile; it keeps running through that
  await proc.waitForOutput(/watch failed, retrying/, WITHIN.reconcile.timeoutMs);
  t.false(exitedEarly(), 'operator exited while the apiserver was down');
  await servers.apiserver.start();
  const backAt = Date.now();
  // Right after the apiserver is back, before the watch has reconnected.
  await w.create('during', { value: 'new' });
  await w.patchSpec('before', { value: 'two' });

  await observed(w, 'during', 'new', 60_000);
  await observed(w, 'before', 'two');
  t.log(`reconciled ${Date.now() - backAt} ms after the apiserver was back`);
  t.false(exitedEarly());
  const out = proc.output();
  t.regex(out, /watch failed, retrying/);
  // A restarted apiserver's watch cache may answer the old resourceVersion with
  // 410 Gone; then the relist replays only what changed, not every object.
  t.regex(out, new RegExp(`reconcile started ${ns}/before attempt 2`));
  t.notRegex(out, new RegExp(`reconcile started ${ns}/untouched attempt 2`));
  t.is(await proc.kill('SIGTERM'), 0);
});

test.serial('SIGTERM: the reconcile in flight finishes, then the process exits 0', async (t) => {
  const ns = await servers.env.namespace('fw-sigterm');
  const w = widgets(servers.env.kubeConfig(), ns);
  const { proc } = await startOperator(ns);
  await w.create('slow', { value: 'done', sleepMs: 3000 });
  await proc.waitForOutput(new RegExp(`reconcile started ${ns}/slow attempt 1`), WITHIN.reconcile.timeoutMs);
  const signalledAt = Date.now();
  const code = await proc.kill('SIGTERM');
  t.log(`exited ${Date.now() - signalledAt} ms after SIGTERM (reconcile in flight: 3 s sleep)`);
  t.is(code, 0);
  const out = proc.output();
  const finished = out.indexOf(`reconcile finished ${ns}/slow attempt 1`);
  const stopped = out.indexOf('"operator stopped"');
  t.true(finished > 0, 'in-flight reconcile finished');
  t.true(stopped > finished, 'stopped after the reconcile finished');
  t.regex(out, /"drained":true/);
  t.is((await w.get('slow')).status?.observedValue, 'done');
});

test.serial('started while the apiserver is down: stays up, /readyz is 503 until the watch has listed, then 200', async (t) => {
  const ns = await servers.env.namespace('fw-cold');
  const w = widgets(servers.env.kubeConfig(), ns);
  await w.create('waiting', { value: 'ok' });
  await servers.apiserver.stop();
  const proc = await startOperatorProcess({
    entry: ENTRY,
    env: { KUBECONFIG: servers.env.kubeconfigPath, WIDGET_NAMESPACE: ns, HEALTH_PORT: '0' },
  });
  let exited = false;
  void proc.exited().then(() => (exited = true));
  await proc.waitForOutput(/health server listening/, WITHIN.start.timeoutMs);
  const port = Number(/"port":(\d+)/.exec(proc.output().split('\n').find((l) => l.includes('health server listening')) ?? '')?.[1]);
  const get = async (path: string) => (await fetch(`http://127.0.0.1:${port}${path}`)).status;
  t.is(await get('/healthz'), 200);
  t.is(await get('/readyz'), 503);
  // it has tried the apiserver, failed, and keeps running to try again
  await proc.waitForOutput(/retrying/, WITHIN.reconcile.timeoutMs);
  t.false(exited, 'operator exited while the apiserver was down');
  t.is(await get('/readyz'), 503);

  await servers.apiserver.start();
  await proc.waitForOutput(/widget operator ready/, WITHIN.start.timeoutMs);
  t.is(await get('/readyz'), 200);
  await observed(w, 'waiting', 'ok');
  const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  t.regex(metrics, /vault_autopilot_reconcile_total\{kind="Widget",result="success"\} [1-9]/);
  t.regex(metrics, /vault_autopilot_watch_errors_total\{resource="widgets.fwtest.vault.autopilot.dev"\} [1-9]/);
  t.is(await proc.kill('SIGTERM'), 0);
});
