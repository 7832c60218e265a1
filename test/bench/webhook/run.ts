// Smoke check only (the comparison with vault-k8s is test/bench/webhook/compare.ts,
// `make bench-webhook`). Admission latency of the in-process pod webhook at a fixed request rate (open loop:
// requests are sent on schedule whether or not earlier ones have returned, so
// a slow response cannot hide the ones queued behind it).
//
//   node --import=tsx test/bench/webhook/run.ts [--rate 50] [--seconds 10] [--api-rate 20]
//
// 1. direct:    AdmissionReview POSTs to the webhook's HTTPS endpoint (keep-alive, like the apiserver)
// 2. apiserver: pod create with dryRun=All through the real kube-apiserver, which calls the webhook
//               over TLS; compared with the same request in a namespace the webhook does not select.
import * as https from 'node:https';
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { AdmissionregistrationV1Api, CoreV1Api, type V1Pod } from '@kubernetes/client-node';
import { startServers } from '../../harness/index.js';
import type { AdmissionReview } from '../../../operator/framework/admission.js';
import { createVaultFixture, injectedNamespace, startPodWebhook } from '../../integration/webhook/helpers/fixture.js';

const { values } = parseArgs({
  options: {
    rate: { type: 'string', default: '50' },
    seconds: { type: 'string', default: '10' },
    'api-rate': { type: 'string', default: '20' },
  },
});
const rate = Number(values.rate);
const seconds = Number(values.seconds);
const apiRate = Number(values['api-rate']);

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

async function openLoop(ratePerSecond: number, durationS: number, send: (i: number) => Promise<void>): Promise<{ latencies: number[]; errors: number; achievedRate: number }> {
  const latencies: number[] = [];
  let errors = 0;
  const total = Math.round(ratePerSecond * durationS);
  const intervalMs = 1000 / ratePerSecond;
  const start = performance.now();
  const inflight: Promise<void>[] = [];
  for (let i = 0; i < total; i++) {
    const due = start + i * intervalMs;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    inflight.push(
      (async () => {
        // Latency from the scheduled time, not from when we got round to sending.
        try {
          await send(i);
          latencies.push(performance.now() - due);
        } catch {
          errors++;
        }
      })(),
    );
  }
  await Promise.all(inflight);
  const elapsed = (performance.now() - start) / 1000;
  return { latencies: latencies.sort((a, b) => a - b), errors, achievedRate: total / elapsed };
}

function report(name: string, r: { latencies: number[]; errors: number; achievedRate: number }, target: number): string {
  const f = (n: number): string => n.toFixed(2).padStart(8);
  return `${name.padEnd(34)} rate ${target}/s (achieved ${r.achievedRate.toFixed(1)}/s)  n=${String(r.latencies.length).padStart(5)}  errors=${r.errors}  p50=${f(percentile(r.latencies, 50))} ms  p99=${f(percentile(r.latencies, 99))} ms  max=${f(r.latencies.at(-1) ?? NaN)} ms`;
}

const annotated = (name: string): V1Pod => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: {
    name,
    annotations: {
      'vault.autopilot.dev/agent-inject': 'true',
      'vault.autopilot.dev/agent-inject-secret-config': 'secret/data/bench/config',
      'vault.autopilot.dev/inject-env': 'app',
    },
  },
  spec: { containers: [{ name: 'app', image: 'busybox:1.36' }, { name: 'other', image: 'busybox:1.36' }] },
});

async function main(): Promise<void> {
  const servers = await startServers({ vault: false, kms: false });
  const runId = randomBytes(4).toString('hex');
  let stop: (() => Promise<void>) | undefined;
  try {
    const env = servers.env;
    const vault = await createVaultFixture(env, 'bench-vault');
    const operatorNs = await env.namespace('bench-operator');
    const ns = await injectedNamespace(env, 'bench-app', runId);
    const plainNs = await env.namespace('bench-plain');
    const webhook = await startPodWebhook(env, { vault, runId, operatorNamespace: operatorNs, extraEnv: { VAULT_AUTOPILOT_LOG_LEVEL: 'info' } });
    stop = webhook.stop;
    const kc = env.kubeConfig();
    const core = kc.makeApiClient(CoreV1Api);
    const cfg = await kc.makeApiClient(AdmissionregistrationV1Api).readMutatingWebhookConfiguration({ name: webhook.settings.configurationName });
    const ca = Buffer.from(cfg.webhooks![0]!.clientConfig.caBundle!, 'base64').toString();
    // Warm-up: ConfigMap created, Vault lookup cached, connections open.
    await core.createNamespacedPod({ namespace: ns, body: annotated('warm'), dryRun: 'All' }).catch(() => undefined);
    await core.createNamespacedPod({ namespace: ns, body: annotated('warm-real') });

    const agent = new https.Agent({ keepAlive: true, maxSockets: 16, ca });
    const review = (i: number): string =>
      JSON.stringify({
        apiVersion: 'admission.k8s.io/v1',
        kind: 'AdmissionReview',
        request: {
          uid: `bench-${i}`,
          kind: { group: '', version: 'v1', kind: 'Pod' },
          resource: { group: '', version: 'v1', resource: 'pods' },
          operation: 'CREATE',
          namespace: ns,
          object: annotated(`b-${i}`) as unknown as Record<string, unknown>,
        },
      } satisfies AdmissionReview);
    const post = (i: number): Promise<void> =>
      new Promise((resolve, reject) => {
        const body = review(i);
        const req = https.request(
          { host: '127.0.0.1', port: webhook.port, path: '/mutate-pods', method: 'POST', agent, headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) } },
          (res) => {
            let text = '';
            res.on('data', (c) => (text += c));
            res.on('end', () => {
              const answer = JSON.parse(text) as AdmissionReview;
              if (res.statusCode === 200 && answer.response?.allowed && answer.response.patch) resolve();
              else reject(new Error(`status ${res.statusCode}`));
            });
          },
        );
        req.on('error', reject);
        req.end(body);
      });
    await post(-1);

    const lines: string[] = [];
    const direct = await openLoop(rate, seconds, post);
    lines.push(report('direct HTTPS AdmissionReview', direct, rate));
    const viaApi = await openLoop(apiRate, seconds, async (i) => {
      const out = await core.createNamespacedPod({ namespace: ns, body: annotated(`api-${i}`), dryRun: 'All' });
      if (!out.spec!.initContainers?.length) throw new Error('not mutated');
    });
    lines.push(report('apiserver dryRun create (webhook)', viaApi, apiRate));
    const baseline = await openLoop(apiRate, seconds, async (i) => {
      await core.createNamespacedPod({ namespace: plainNs, body: annotated(`base-${i}`), dryRun: 'All' });
    });
    lines.push(report('apiserver dryRun create (no hook)', baseline, apiRate));
    agent.destroy();
    console.log(`\nwebhook admission latency (${seconds} s per row; Node ${process.version}; ${(await import('node:os')).cpus().length} CPUs)`);
    for (const l of lines) console.log(l);
    console.log(`webhook share through the apiserver: p50 +${(percentile(viaApi.latencies, 50) - percentile(baseline.latencies, 50)).toFixed(2)} ms, p99 +${(percentile(viaApi.latencies, 99) - percentile(baseline.latencies, 99)).toFixed(2)} ms`);
  } finally {
    await stop?.();
    await servers.stopAll();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
