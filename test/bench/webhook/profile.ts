// Where the operator's webhook spends its CPU: the real binary (the image's
// bundle and node flags) under V8's sampling profiler (--cpu-prof), driven by
// vegeta at one rate, plus its first admissions after a start.
//
//   node --import=tsx test/bench/webhook/profile.ts [--rate 50] [--seconds 10] [--top 25] [--max-workers N] [--node-flags="..."] [--keep-profile FILE] [--entry dist/x/main.js]
//
// Reported, each from the samples of its own time window (the profile's
// clock is CLOCK_MONOTONIC, like process.hrtime here):
// 1. the first --first admissions after /readyz, each on a new TLS
//    connection: wall time, and per request what ran (JavaScript, GC,
//    compilation) and how long the process sat idle (waiting on I/O);
// 2. idle: CPU of the process with no requests for --seconds;
// 3. load: CPU per request at --rate, and the functions with the most
//    self time (by function and by file of the bundle), GC included;
// 4. the main thread's longest busy stretches under load (no idle sample
//    between): a request that arrives during one waits for its end, so these
//    are where the p99 and max come from. Each with what filled it.
// A diagnostic: it prints what it saw and fails only when the webhook does.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { parseArgs } from 'node:util';
import { createVaultFixture, labelNamespace } from '../../integration/webhook/helpers/fixture.js';
import { startOperatorBinary } from '../processes.js';
import { buildOperator, cpuMsOf, imageNodeFlags, peerBinary, startOperatorServers, table, vegetaRateArgs } from '../support.js';
import { pod, postReview, review } from './reviews.js';

const { values } = parseArgs({
  options: {
    rate: { type: 'string', default: '50' },
    seconds: { type: 'string', default: '10' },
    first: { type: 'string', default: '3' },
    top: { type: 'string', default: '25' },
    // vegeta opens a connection (a TLS handshake) per extra worker when the 8 are busy; a cap shows what that costs
    'max-workers': { type: 'string' },
    'node-flags': { type: 'string' },
    'keep-profile': { type: 'string' },
    // an operator build to profile instead of building the bundle (e.g. one of an earlier commit)
    entry: { type: 'string' },
  },
});

interface CpuProfile {
  nodes: Array<{ id: number; callFrame: { functionName: string; url: string; lineNumber: number }; children?: number[] }>;
  startTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** Samples (node id, timestamp in µs, weight in µs) of a profile, with each node's frame and parent. */
function loadProfile(path: string) {
  const p = JSON.parse(readFileSync(path, 'utf8')) as CpuProfile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const samples: Array<{ id: number; at: number; us: number }> = [];
  let t = p.startTime;
  for (let i = 0; i < p.samples.length; i++) {
    t += p.timeDeltas[i]!;
    const next = p.timeDeltas[i + 1] ?? 0;
    samples.push({ id: p.samples[i]!, at: t, us: next });
  }
  const frame = (id: number) => byId.get(id)!.callFrame;
  const label = (id: number) => {
    const f = frame(id);
    return `${f.functionName || '(anonymous)'} ${f.url ? `${basename(f.url)}:${f.lineNumber + 1}` : ''}`.trim();
  };
  /** The innermost frame of the stack that is not Node's or V8's own (where our code or a dependency called in). */
  const caller = (id: number): string => {
    for (let n: number | undefined = id; n !== undefined; n = parent.get(n)) {
      const url = frame(n).url;
      if (url.startsWith('file:') || url.startsWith('/')) return label(n);
    }
    return label(id);
  };
  return { samples, frame, label, caller };
}

type Profile = ReturnType<typeof loadProfile>;
const SPECIAL = new Set(['(idle)', '(program)', '(garbage collector)', '(root)']);

function windowOf(profile: Profile, fromUs: number, toUs: number) {
  return profile.samples.filter((s) => s.at >= fromUs && s.at < toUs);
}

/** Milliseconds per category: idle, GC, V8/Node internals without a JS frame, JavaScript. */
function categories(profile: Profile, samples: Profile['samples']): Record<string, number> {
  const out: Record<string, number> = { idle: 0, gc: 0, program: 0, js: 0 };
  for (const s of samples) {
    const name = profile.frame(s.id).functionName;
    const key = name === '(idle)' ? 'idle' : name === '(garbage collector)' ? 'gc' : name === '(program)' ? 'program' : 'js';
    out[key]! += s.us / 1000;
  }
  return out;
}

function topBy(profile: Profile, samples: Profile['samples'], key: (id: number) => string, n: number): Array<[string, number]> {
  const sums = new Map<string, number>();
  for (const s of samples) {
    if (profile.frame(s.id).functionName === '(idle)') continue;
    const k = key(s.id);
    sums.set(k, (sums.get(k) ?? 0) + s.us / 1000);
  }
  return [...sums.entries()].sort((a, b) => b[1] - a[1]).slice(0, n);
}

/** Runs of consecutive non-idle samples, longest first: the waits a request arriving mid-run sits out. */
function busyStretches(profile: Profile, samples: Profile['samples'], n: number) {
  const stretches: Array<Profile['samples']> = [];
  let current: Profile['samples'] = [];
  for (const s of samples) {
    if (profile.frame(s.id).functionName === '(idle)') {
      if (current.length) stretches.push(current);
      current = [];
    } else current.push(s);
  }
  if (current.length) stretches.push(current);
  const span = (run: Profile['samples']) => run.at(-1)!.at + run.at(-1)!.us - run[0]!.at;
  return stretches
    .sort((a, b) => span(b) - span(a))
    .slice(0, n)
    .map((run) => ({ startUs: run[0]!.at, ms: span(run) / 1000, categories: categories(profile, run), callers: topBy(profile, run, profile.caller, 3) }));
}

/**
 * The slowest requests of a vegeta run (its CSV: unix ns, code, latency ns,
 * ...), each with when it was sent, in ms after the attack began, and how many
 * of the slowest 1% were sent in its first 200 ms, while vegeta's connections
 * open (one TLS handshake each).
 */
function slowestRequests(csv: string, startEpochMs: number) {
  const requests = csv
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [ts, , latency] = line.split(',');
      return { atMs: Number(ts) / 1e6 - startEpochMs, ms: Number(latency) / 1e6 };
    })
    .sort((a, b) => b.ms - a.ms);
  const tail = requests.slice(0, Math.max(1, Math.floor(requests.length / 100)));
  const early = tail.filter((r) => r.atMs < 200).length;
  return {
    summary: `slowest 1% (${tail.length} requests, >= ${f(tail.at(-1)!.ms)} ms): ${early} sent in the first 200 ms`,
    rows: requests.slice(0, 8).map((r) => [f(r.atMs, 0), f(r.ms)]),
  };
}

const nowUs = () => Number(process.hrtime.bigint() / 1000n);
const f = (n: number, d = 2) => n.toFixed(d);


async function main(): Promise<void> {
  const vegetaBin = peerBinary('vegeta');
  if (!vegetaBin) throw new Error('build the peers first: make bench-peers');
  const seconds = Number(values.seconds);
  const entry = values.entry ?? buildOperator('bundle');
  const { servers, env } = await startOperatorServers();
  const dir = mkdtempSync(join(tmpdir(), 'bench-profile-'));
  const profDir = join(dir, 'prof');
  try {
    const vault = await createVaultFixture(env, 'bench-vault');
    const appNs = await env.namespace('bench-app');
    await labelNamespace(env.kubeConfig(), appNs, 'bench');
    const base = values['node-flags'] !== undefined ? values['node-flags'].split(/\s+/).filter(Boolean) : imageNodeFlags();
    const flags = [...base, '--cpu-prof', `--cpu-prof-dir=${profDir}`, '--cpu-prof-interval=250'];
    const body = review(pod('vault.autopilot.dev', {}), appNs);
    const ours = await startOperatorBinary(env, { lifecycles: 'webhook', nodeFlags: flags, entry, extraEnv: { VAULT_AUTOPILOT_TARGET_VAULT: `${vault.namespace}/${vault.name}` } });
    const windows: Array<{ name: string; from: number; to: number; requests: number; cpuMs: number }> = [];
    let epochAtFromMs = 0;
    let slowest: ReturnType<typeof slowestRequests> | undefined;
    try {
      for (let i = 0; i < Number(values.first); i++) {
        const cpu = cpuMsOf(ours.pid);
        const from = nowUs();
        const ms = await postReview(ours, body);
        windows.push({ name: `request ${i + 1} (${f(ms)} ms wall)`, from, to: nowUs(), requests: 1, cpuMs: cpuMsOf(ours.pid) - cpu });
      }
      await new Promise((r) => setTimeout(r, 1000));
      let cpu = cpuMsOf(ours.pid);
      let from = nowUs();
      await new Promise((r) => setTimeout(r, seconds * 1000));
      windows.push({ name: `idle ${seconds} s`, from, to: nowUs(), requests: 0, cpuMs: cpuMsOf(ours.pid) - cpu });
      const bodyFile = join(dir, 'body.json');
      writeFileSync(bodyFile, body);
      const targets = join(dir, 'targets');
      writeFileSync(targets, `POST ${ours.webhookUrl}${ours.webhookPath}\nContent-Type: application/json\n@${bodyFile}\n`);
      const load = loadavg()[0]!;
      cpu = cpuMsOf(ours.pid);
      from = nowUs();
      epochAtFromMs = Date.now();
      const out = join(dir, 'results.bin');
      execFileSync(vegetaBin, ['attack', `-targets=${targets}`, ...vegetaRateArgs(values.rate, 8, values['max-workers'] ? Number(values['max-workers']) : undefined), `-duration=${seconds}s`, '-insecure', '-http2=false', '-keepalive=true', '-timeout=10s', `-output=${out}`], { stdio: 'ignore' });
      const to = nowUs();
      const report = JSON.parse(execFileSync(vegetaBin, ['report', '-type=json', out], { encoding: 'utf8' })) as { requests: number; success: number; latencies: { '50th': number; '99th': number } };
      slowest = slowestRequests(execFileSync(vegetaBin, ['encode', '-to=csv', out], { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 }), epochAtFromMs);
      windows.push({ name: `rate ${values.rate} for ${seconds} s (load ${f(load, 1)}; p50 ${f(report.latencies['50th'] / 1e6)} ms, p99 ${f(report.latencies['99th'] / 1e6)} ms, success ${f(report.success * 100, 1)}%)`, from, to, requests: report.requests, cpuMs: cpuMsOf(ours.pid) - cpu });
    } finally {
      await ours.stop();
    }
    const file = readdirSync(profDir).find((n) => n.endsWith('.cpuprofile'));
    if (!file) throw new Error('the operator wrote no CPU profile');
    if (values['keep-profile']) execFileSync('cp', [join(profDir, file), values['keep-profile']]);
    const profile = loadProfile(join(profDir, file));
    const top = Number(values.top);
    for (const w of windows) {
      const samples = windowOf(profile, w.from, w.to);
      const c = categories(profile, samples);
      const perReq = w.requests ? ` = ${f(w.cpuMs / w.requests, 3)} ms/request` : ` = ${f(w.cpuMs / ((w.to - w.from) / 1e6), 1)} ms/s`;
      process.stdout.write(`\n== ${w.name}: process CPU ${f(w.cpuMs, 0)} ms${perReq}; main thread: JS ${f(c.js!)} ms, GC ${f(c.gc!)} ms, program ${f(c.program!)} ms, idle ${f(c.idle!)} ms\n`);
      if (w.requests === 1) {
        // the sequence of what ran, consecutive samples of one caller merged
        const runs: Array<[string, number]> = [];
        for (const s of samples) {
          const name = profile.frame(s.id).functionName;
          const k = SPECIAL.has(name) ? name : profile.caller(s.id);
          const last = runs.at(-1);
          if (last && last[0] === k) last[1] += s.us / 1000;
          else runs.push([k, s.us / 1000]);
        }
        process.stdout.write(`${table(['what ran, in order (runs >= 0.5 ms)', 'ms'], runs.filter(([, ms]) => ms >= 0.5).map(([k, ms]) => [k, f(ms)]))}\n\n`);
        process.stdout.write(`${table(['self time by function', 'ms'], topBy(profile, samples, profile.label, top).map(([k, ms]) => [k, f(ms)]))}\n\n`);
        process.stdout.write(`${table(['by caller (innermost frame of ours or a dependency)', 'ms'], topBy(profile, samples, profile.caller, top).map(([k, ms]) => [k, f(ms)]))}\n`);
      } else if (w.requests > 1) {
        process.stdout.write(`${table(['self time by function', 'ms', 'per request µs'], topBy(profile, samples, profile.label, top).map(([k, ms]) => [k, f(ms), f((ms * 1000) / w.requests, 1)]))}\n\n`);
        process.stdout.write(`${table(['by caller (innermost frame of ours or a dependency)', 'ms', 'per request µs'], topBy(profile, samples, profile.caller, top).map(([k, ms]) => [k, f(ms), f((ms * 1000) / w.requests, 1)]))}\n\n`);
        const rows = busyStretches(profile, samples, 8).map((b) => [
          f((b.startUs - w.from) / 1000, 0),
          f(b.ms),
          f(b.categories.gc!),
          f(b.categories.js!),
          f(b.categories.program!),
          b.callers.map(([k, ms]) => `${k} ${f(ms, 1)}`).join('; '),
        ]);
        if (slowest) process.stdout.write(`${slowest.summary}\n${table(['slowest requests: sent at ms', 'latency ms'], slowest.rows)}\n\n`);
        process.stdout.write(`${table(['longest busy stretches: at ms', 'ms', 'GC', 'JS', 'program', 'top callers (ms)'], rows)}\n`);
      }
    }
  } finally {
    await servers.stopAll();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
