// The pod webhook side by side with HashiCorp's Vault Agent Injector
// (vault-k8s), both as real binaries in their own processes, driven by the
// same load generator (vegeta, its own process) with equivalent
// AdmissionReviews (the same pod; each side's own annotation prefix).
//
//   node --import=tsx test/bench/webhook/compare.ts [--rates 50,200,500,max] [--seconds 10] [--reps 3] [--workers 8] [--max-workers N] [--node-flags="..."]
//       [--operator before=dist/bundle-before/main.js ...] [--no-build]
//
// --operator adds another build of the operator as a side of its own (e.g. a
// bundle of the previous commit, built with operator/deploy/image/esbuild.ts
// into a directory under the repository): before/after in one run, same load.
// `name=entry|flags` runs that side with its own node flags instead
// (NAME=value items among them are that side's environment variables).
// Per rate and repetition the two webhooks run alternately (the order flips
// every repetition). HTTP/1.1 keep-alive; "max" = as fast as --workers
// concurrent requests go. At a fixed rate vegeta adds a worker, on a new
// connection, whenever the --workers are all waiting; --max-workers caps
// that (the connections then stay at N). Reported per side: p50/p99/max latency, CPU time
// per request (/proc utime+stime of the webhook process), peak RSS during the
// run (VmHWM, reset before each run), throughput; the median of the
// repetitions. Then the first request on a NEW TLS connection (keep-alive
// off: handshake included). Benchmarks report; nothing here fails on noise.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createVaultFixture, labelNamespace } from '../../integration/webhook/helpers/fixture.js';
import { startOperatorBinary, startVaultK8s, type Measured } from '../processes.js';
import { buildOperator, cpuMsOf, imageNodeFlags, mb, nodeFlagsAndEnv, peerBinary, rssOf, startOperatorServers, table, vegetaRateArgs } from '../support.js';
import { pod, review } from './reviews.js';

const { values } = parseArgs({
  options: {
    rates: { type: 'string', default: '50,200,500,max' },
    seconds: { type: 'string', default: '10' },
    reps: { type: 'string', default: '3' },
    workers: { type: 'string', default: '8' },
    'max-workers': { type: 'string' },
    // the operator's node flags instead of the Deployment's (e.g. --node-flags=" " for none)
    'node-flags': { type: 'string' },
    operator: { type: 'string', multiple: true, default: [] },
    'no-build': { type: 'boolean', default: false },
  },
});
const extraOperators = values.operator.map((spec) => {
  const [name, rest] = [spec.slice(0, spec.indexOf('=')), spec.slice(spec.indexOf('=') + 1)];
  const [entry, flags] = rest.split('|');
  if (!name || !entry) throw new Error(`--operator takes name=path/to/main.js[|node flags], got ${spec}`);
  if (flags === undefined) return { name, entry, flags: undefined, env: {} };
  const { nodeFlags, env } = nodeFlagsAndEnv(flags.split(/\s+/).filter(Boolean));
  return { name, entry, flags: nodeFlags, env };
});
const rates = values.rates.split(',').map((r) => r.trim());
const seconds = Number(values.seconds);
const reps = Number(values.reps);
const workers = Number(values.workers);
const maxWorkers = values['max-workers'] ? Number(values['max-workers']) : undefined;

interface Run {
  p50: number;
  p99: number;
  max: number;
  cpuPerReq: number;
  peakRss: number;
  throughput: number;
  success: number;
  requests: number;
}

interface VegetaReport {
  latencies: { '50th': number; '99th': number; max: number };
  requests: number;
  throughput: number;
  success: number;
  status_codes?: Record<string, number>;
}

class Side {
  constructor(
    readonly name: string,
    readonly proc: Measured,
    readonly targets: string,
  ) {}
}

function vegeta(bin: string, side: Side, dir: string, rate: string, durationS: number, keepalive: boolean): VegetaReport {
  const out = join(dir, 'results.bin');
  execFileSync(bin, ['attack', `-targets=${side.targets}`, ...vegetaRateArgs(rate, workers, maxWorkers), `-duration=${durationS}s`, '-insecure', '-http2=false', `-keepalive=${keepalive}`, '-timeout=10s', `-output=${out}`], { stdio: 'ignore' });
  return JSON.parse(execFileSync(bin, ['report', '-type=json', out], { encoding: 'utf8' })) as VegetaReport;
}

function measure(bin: string, side: Side, dir: string, rate: string, durationS: number, keepalive = true): Run {
  writeFileSync(`/proc/${side.proc.pid}/clear_refs`, '5'); // reset VmHWM: this run's peak only
  const cpuBefore = cpuMsOf(side.proc.pid);
  const r = vegeta(bin, side, dir, rate, durationS, keepalive);
  const cpu = cpuMsOf(side.proc.pid) - cpuBefore;
  return {
    p50: r.latencies['50th'] / 1e6,
    p99: r.latencies['99th'] / 1e6,
    max: r.latencies.max / 1e6,
    cpuPerReq: cpu / Math.max(1, r.requests),
    peakRss: rssOf(side.proc.pid).peak,
    throughput: r.throughput,
    success: r.success,
    requests: r.requests,
  };
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const summarise = (runs: Run[]): Run => {
  const keys = Object.keys(runs[0]!) as Array<keyof Run>;
  return Object.fromEntries(keys.map((k) => [k, median(runs.map((r) => r[k]))])) as unknown as Run;
};

async function main(): Promise<void> {
  const vegetaBin = peerBinary('vegeta');
  const peerBin = peerBinary('vault-k8s');
  if (!vegetaBin || !peerBin) throw new Error('build the peers first: bash test/harness/build-servers.sh vault-k8s vegeta');
  const started = new Date();
  const entry = values['no-build'] ? 'dist/bundle/main.js' : buildOperator('bundle');
  const { servers, env } = await startOperatorServers();
  const dir = mkdtempSync(join(tmpdir(), 'bench-webhook-'));
  const stops: Array<() => Promise<void>> = [];
  try {
    const vault = await createVaultFixture(env, 'bench-vault');
    const appNs = await env.namespace('bench-app');
    await labelNamespace(env.kubeConfig(), appNs, 'bench'); // the fixture's Vault serves namespaces with the injection label
    const flags = values['node-flags'] !== undefined ? values['node-flags'].split(/\s+/).filter(Boolean) : imageNodeFlags();
    const operators: Array<[string, Measured]> = [];
    for (const o of [{ name: 'vault-autopilot', entry, flags: undefined, env: {} }, ...extraOperators]) {
      const proc = await startOperatorBinary(env, { lifecycles: 'webhook', nodeFlags: o.flags ?? flags, entry: o.entry, extraEnv: { ...o.env, VAULT_AUTOPILOT_TARGET_VAULT: `${vault.namespace}/${vault.name}` } });
      stops.push(proc.stop);
      operators.push([o.name, proc]);
    }
    const theirs = await startVaultK8s(env, peerBin);
    stops.push(theirs.stop);

    const sides: Side[] = [];
    for (const [name, proc, object] of [
      ...operators.map(([name, proc]) => [name, proc, pod('vault.autopilot.dev', {})] as const),
      ['vault-k8s', theirs, pod('vault.hashicorp.com', { 'vault.hashicorp.com/role': 'app' })] as const,
    ]) {
      const body = join(dir, `${name}.json`);
      writeFileSync(body, review(object, appNs));
      const targets = join(dir, `${name}.targets`);
      writeFileSync(targets, `POST ${proc.webhookUrl}${proc.webhookPath}\nContent-Type: application/json\n@${body}\n`);
      const side = new Side(name, proc, targets);
      // warm-up, and proof that the answer is a real mutation
      const check = join(dir, 'check.bin');
      execFileSync(vegetaBin, ['attack', `-targets=${targets}`, '-rate=20/1s', '-duration=2s', '-insecure', '-http2=false', `-output=${check}`], { stdio: 'ignore' });
      const dump = execFileSync(vegetaBin, ['encode', '--to=json', check], { encoding: 'utf8' }).trim().split('\n').at(-1)!;
      const answer = JSON.parse(Buffer.from((JSON.parse(dump) as { body: string }).body, 'base64').toString()) as { response?: { allowed?: boolean; patch?: string } };
      if (!answer.response?.allowed || !answer.response.patch) throw new Error(`${name} did not mutate the pod: ${JSON.stringify(answer).slice(0, 300)}`);
      sides.push(side);
    }

    // what each process costs with no request at all (timers, GC, its own
    // apiserver traffic): at low rates it weighs on the CPU per request
    const idleBefore = sides.map((side) => cpuMsOf(side.proc.pid));
    const idleStarted = performance.now();
    await new Promise((r) => setTimeout(r, seconds * 1000));
    const idleS = (performance.now() - idleStarted) / 1000;
    const idleCpu = sides.map((side, i) => (cpuMsOf(side.proc.pid) - idleBefore[i]!) / idleS);

    const results = new Map<string, Run[]>(); // `${side}|${rate}`
    const newConn = new Map<string, Run[]>();
    for (let rep = 0; rep < reps; rep++) {
      const order = rep % 2 === 0 ? sides : [...sides].reverse();
      for (const rate of rates) {
        for (const side of order) {
          process.stderr.write(`[bench] rep ${rep + 1}/${reps} ${side.name} rate ${rate} (${seconds} s)\n`);
          const key = `${side.name}|${rate}`;
          results.set(key, [...(results.get(key) ?? []), measure(vegetaBin, side, dir, rate, seconds)]);
        }
      }
      for (const side of order) {
        process.stderr.write(`[bench] rep ${rep + 1}/${reps} ${side.name} new TLS connection per request (20/s, 5 s)\n`);
        newConn.set(side.name, [...(newConn.get(side.name) ?? []), measure(vegetaBin, side, dir, '20', 5, false)]);
      }
    }

    const fmt = (n: number, d = 2) => (Number.isFinite(n) ? n.toFixed(d) : '-');
    const rateLabel = (r: string) => (r === 'max' ? `max (${workers} workers)` : `${r}/s`);
    const rows: string[][] = [];
    for (const rate of rates) {
      for (const side of sides) {
        const s = summarise(results.get(`${side.name}|${rate}`)!);
        rows.push([`${rateLabel(rate)} ${side.name}`, fmt(s.p50), fmt(s.p99), fmt(s.max), fmt(s.cpuPerReq, 3), mb(s.peakRss), fmt(s.throughput, 0), `${fmt(s.success * 100, 1)}%`]);
      }
    }
    const ratio = (ours: string, rate: string, k: keyof Run) => {
      const a = summarise(results.get(`${ours}|${rate}`)!)[k];
      const b = summarise(results.get(`vault-k8s|${rate}`)!)[k];
      return fmt(a / b);
    };
    const ratioRows = (ours: string) =>
      (['p50', 'p99', 'max', 'cpuPerReq', 'peakRss', 'throughput'] as const).map((k) => [
        { p50: 'p50', p99: 'p99', max: 'max', cpuPerReq: 'CPU per request', peakRss: 'peak RSS', throughput: 'throughput' }[k],
        ...rates.map((r) => ratio(ours, r, k)),
      ]);
    const ratioTables = operators.flatMap(([name]) => ['', `ratio ${name} / vault-k8s (below 1 = ours lower)`, table(['', ...rates.map(rateLabel)], ratioRows(name))]);
    const connRows = sides.map((side) => {
      const s = summarise(newConn.get(side.name)!);
      const warm = results.get(`${side.name}|${rates[0]}`) ? summarise(results.get(`${side.name}|${rates[0]}`)!) : undefined;
      return [side.name, fmt(s.p50), fmt(s.p99), fmt(s.max), warm ? fmt(warm.p50) : '-'];
    });
    const lines = [
      `webhook side by side: ${seconds} s per run, ${reps} repetitions alternating, median shown; vegeta ${workers} workers${maxWorkers ? ` (at most ${maxWorkers})` : ' (more, each on a new connection, when all are waiting)'}, HTTP/1.1 keep-alive; operator node flags: ${flags.join(' ') || '(none)'}`,
      '',
      table(['rate, webhook', 'p50 ms', 'p99 ms', 'max ms', 'CPU ms/req', 'peak RSS MB', 'req/s', 'success'], rows),
      ...ratioTables,
      '',
      'first request on a new TLS connection (keep-alive off, 20/s for 5 s; handshake included)',
      table(['webhook', 'p50 ms', 'p99 ms', 'max ms', `keep-alive p50 at ${rateLabel(rates[0]!)}`], connRows),
      '',
      `CPU with no requests (${seconds} s after the warm-up): ${sides.map((side, i) => `${side.name} ${fmt(idleCpu[i]!)} ms/s`).join(', ')}`,
      '',
      `node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? '?'}, ${mb(totalmem())} MB RAM, shared machine; ${started.toISOString().slice(0, 16)}Z`,
    ];
    process.stdout.write(`\n${lines.join('\n')}\n`);
  } finally {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
    await servers.stopAll();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
