// RawKube against the REAL kube-apiserver: pooled keep-alive connections make
// a request cheaper than client-node's typed call (a TLS handshake each time).
import test from 'ava';
import { CoreV1Api } from '@kubernetes/client-node';
import { useTestEnv } from '../../harness/index.js';
import { RawKube } from '../../../operator/framework/index.js';

const env = useTestEnv(test, { vault: false, kms: false });

test.serial('sequential GETs reuse connections: faster than per-request TLS (figure logged)', async (t) => {
  const ns = await env().namespace('fw-perf');
  const raw = new RawKube(env().kubeConfig());
  t.teardown(() => raw.close());
  const core = env().kubeConfig().makeApiClient(CoreV1Api);
  const n = 100;
  const time = async (fn: () => Promise<unknown>) => {
    await fn(); // warm-up
    const started = performance.now();
    for (let i = 0; i < n; i++) await fn();
    return (performance.now() - started) / n;
  };
  const typedMs = await time(() => core.readNamespace({ name: ns }));
  const rawMs = await time(() => raw.request({ method: 'GET', path: `/api/v1/namespaces/${ns}` }));
  t.log(`per GET: RawKube ${rawMs.toFixed(2)} ms, client-node typed ${typedMs.toFixed(2)} ms`);
  t.true(rawMs < typedMs, `RawKube ${rawMs} ms vs typed ${typedMs} ms`);
});
