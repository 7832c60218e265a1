// RawKube against the REAL kube-apiserver: pooled keep-alive connections make
// a request cheaper than client-node's typed call (a TLS handshake each time).
import test from 'ava';
import { CoreV1Api } from '@kubernetes/client-node';
import { useTestEnv } from '../../harness/index.js';
import { RawKube } from '../../../operator/framework/index.js';

const env = useTestEnv(test, { vault: false, kms: false });

test.serial('sequential GETs reuse connections and read what the typed client reads (per-request cost logged)', async (t) => {
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
  // a figure, not a pass/fail (timings belong to benchmarks); what must hold is that both read the same object
  const typed = await core.readNamespace({ name: ns });
  const viaRaw = await raw.request<{ metadata?: { uid?: string } }>({ method: 'GET', path: `/api/v1/namespaces/${ns}` });
  t.is(viaRaw.metadata?.uid, typed.metadata?.uid);
});
