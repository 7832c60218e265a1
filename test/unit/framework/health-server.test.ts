import test from 'ava';
import { startHealthServer } from '../../../operator/framework/health-server.js';
import { MetricsRegistry } from '../../../operator/framework/metrics.js';

test('/healthz, /readyz following isReady(), /metrics, 404 and 405', async (t) => {
  const registry = new MetricsRegistry();
  registry.counter('probe_total', 'Probes.').inc();
  let ready = false;
  const server = await startHealthServer({ port: 0, host: '127.0.0.1', isReady: () => ready, registry });
  t.teardown(() => server.close());
  const base = `http://127.0.0.1:${server.port}`;
  t.is((await fetch(`${base}/healthz`)).status, 200);
  t.is((await fetch(`${base}/readyz`)).status, 503);
  ready = true;
  t.is((await fetch(`${base}/readyz`)).status, 200);
  const metrics = await fetch(`${base}/metrics`);
  t.is(metrics.status, 200);
  t.regex(metrics.headers.get('content-type') ?? '', /text\/plain; version=0.0.4/);
  t.regex(await metrics.text(), /^probe_total 1$/m);
  t.is((await fetch(`${base}/nope`)).status, 404);
  t.is((await fetch(`${base}/healthz`, { method: 'POST' })).status, 405);
});

test('/readyz is 503 when isReady throws', async (t) => {
  const server = await startHealthServer({
    port: 0,
    host: '127.0.0.1',
    isReady: () => {
      throw new Error('x');
    },
    registry: new MetricsRegistry(),
  });
  t.teardown(() => server.close());
  t.is((await fetch(`http://127.0.0.1:${server.port}/readyz`)).status, 503);
});
