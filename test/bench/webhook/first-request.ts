// The first admissions a freshly started webhook answers, each on a new TLS
// connection (what the apiserver sends after the operator starts or
// restarts), next to the peer (vault-k8s) started the same way.
//
//   node --import=tsx test/bench/webhook/first-request.ts [--starts 3] [--requests 6] [--node-flags="..."]
//       [--operator before=dist/bundle-before/main.js ...] [--no-build]
//
// --operator adds another build of the operator, started the same way (before/after in one run).
// Per start: the process is ready (/readyz; vault-k8s /health/ready), then
// --requests AdmissionReviews one after another, each on its own connection
// (TCP + TLS handshake included; a Node https client in this process), then
// as many on one kept-alive connection. Reported: the first request, the
// median of the later new-connection ones, the keep-alive median; the median
// over the starts. Benchmarks report; nothing here fails on noise.
import https from 'node:https';
import { cpus, loadavg, totalmem } from 'node:os';
import { parseArgs } from 'node:util';
import { createVaultFixture, labelNamespace } from '../../integration/webhook/helpers/fixture.js';
import { startOperatorBinary, startVaultK8s, type Measured } from '../processes.js';
import { buildOperator, imageNodeFlags, mb, peerBinary, startOperatorServers, table } from '../support.js';
import { pod, postReview, review } from './reviews.js';

const { values } = parseArgs({
  options: {
    starts: { type: 'string', default: '3' },
    requests: { type: 'string', default: '6' },
    'node-flags': { type: 'string' },
    operator: { type: 'string', multiple: true, default: [] },
    'no-build': { type: 'boolean', default: false },
  },
});
const extraOperators = values.operator.map((spec) => {
  const [name, entry] = spec.split('=');
  if (!name || !entry) throw new Error(`--operator takes name=path/to/main.js, got ${spec}`);
  return { name, entry };
});
const starts = Number(values.starts);
const requests = Number(values.requests);

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

interface Start {
  first: number;
  laterNew: number;
  keepAlive: number;
  load: number;
}

async function measure(proc: Measured, body: string): Promise<Start> {
  const load = loadavg()[0]!;
  const fresh: number[] = [];
  for (let i = 0; i < requests; i++) fresh.push(await postReview(proc, body, false));
  const agent = new https.Agent({ keepAlive: true, maxSockets: 1 });
  const kept: number[] = [];
  try {
    await postReview(proc, body, agent); // opens the connection
    for (let i = 0; i < requests; i++) kept.push(await postReview(proc, body, agent));
  } finally {
    agent.destroy();
  }
  return { first: fresh[0]!, laterNew: median(fresh.slice(1)), keepAlive: median(kept), load };
}

async function main(): Promise<void> {
  const peerBin = peerBinary('vault-k8s');
  const started = new Date();
  const entry = values['no-build'] ? 'dist/bundle/main.js' : buildOperator('bundle');
  const { servers, env } = await startOperatorServers();
  try {
    const vault = await createVaultFixture(env, 'bench-vault');
    const appNs = await env.namespace('bench-app');
    await labelNamespace(env.kubeConfig(), appNs, 'bench');
    const flags = values['node-flags'] !== undefined ? values['node-flags'].split(/\s+/).filter(Boolean) : imageNodeFlags();
    const sides: Array<[string, () => Promise<Measured>, string]> = [
      ...[{ name: 'vault-autopilot', entry }, ...extraOperators].map(
        (o) =>
          [
            o.name,
            () => startOperatorBinary(env, { lifecycles: 'webhook', nodeFlags: flags, entry: o.entry, extraEnv: { VAULT_AUTOPILOT_TARGET_VAULT: `${vault.namespace}/${vault.name}` } }),
            review(pod('vault.autopilot.dev', {}), appNs),
          ] as [string, () => Promise<Measured>, string],
      ),
      ...(peerBin ? [['vault-k8s', () => startVaultK8s(env, peerBin), review(pod('vault.hashicorp.com', { 'vault.hashicorp.com/role': 'app' }), appNs)] as [string, () => Promise<Measured>, string]] : []),
    ];
    const results = new Map<string, Start[]>();
    for (let s = 0; s < starts; s++) {
      for (const [name, start, body] of s % 2 === 0 ? sides : [...sides].reverse()) {
        process.stderr.write(`[bench] start ${s + 1}/${starts}: ${name} (load ${loadavg()[0]!.toFixed(1)})\n`);
        const proc = await start();
        try {
          results.set(name, [...(results.get(name) ?? []), await measure(proc, body)]);
        } finally {
          await proc.stop();
        }
      }
    }
    const f = (n: number) => n.toFixed(2);
    const rows = [...results.entries()].map(([name, runs]) => [
      name,
      f(median(runs.map((r) => r.first))),
      f(median(runs.map((r) => r.laterNew))),
      f(median(runs.map((r) => r.keepAlive))),
      runs.map((r) => f(r.first)).join(' / '),
      runs.map((r) => r.load.toFixed(1)).join(' / '),
    ]);
    const lines = [
      `first admissions after a start, ${requests} each on a new TLS connection, then ${requests} on one kept-alive connection; median of ${starts} starts; operator node flags: ${flags.join(' ') || '(none)'}`,
      '',
      table(['webhook', 'first ms', 'later new-connection ms', 'keep-alive ms', 'first, each start', 'load average'], rows),
      '',
      `node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? '?'}, ${mb(totalmem())} MB RAM, shared machine; ${started.toISOString().slice(0, 16)}Z`,
    ];
    process.stdout.write(`\n${lines.join('\n')}\n`);
  } finally {
    await servers.stopAll();
  }
}

await main();
