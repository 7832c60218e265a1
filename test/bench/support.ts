// Small shared pieces of the benchmarks (test/bench/*/run.ts).
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { CoreV1Api } from '@kubernetes/client-node';
import { ENTRYPOINT_NODE_FLAGS, NODE_FLAGS } from '../../operator/deploy/deployment.js';
import type { HarnessEnv } from '../harness/env.js';
import { eventually, WITHIN } from '../harness/eventually.js';
import { startServers, type Servers } from '../harness/servers.js';
import { REPO_ROOT } from '../harness/versions.js';

/** Plain HTTP calls to a test Vault as its root token (or `token`), with the answer's JSON; `list` is [] unless 200. */
export function vaultHttp(address: string, root: string) {
  const api = async (method: string, path: string, body?: unknown, token = root): Promise<{ status: number; json: Record<string, any> }> => {
    const res = await fetch(`${address}/v1/${path}`, { method, headers: { 'x-vault-token': token, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await res.text();
    return { status: res.status, json: text ? (JSON.parse(text) as Record<string, any>) : {} };
  };
  const list = async (path: string): Promise<string[]> => {
    const res = await api('LIST', path);
    return res.status === 200 ? ((res.json.data?.keys ?? []) as string[]) : [];
  };
  /** Mounts a KV v2 engine and waits until its upgrade is done (reads before then fail). */
  const mountKv2 = async (mount: string): Promise<void> => {
    await api('POST', `sys/mounts/${mount}`, { type: 'kv', options: { version: '2' } });
    await eventually(async () => {
      if ((await api('GET', `${mount}/config`)).status !== 200) throw new Error('kv upgrading');
    }, WITHIN.reconcile);
  };
  return { api, list, mountKv2 };
}

export const mb = (bytes: number): string => (bytes / 1048576).toFixed(1);

/** VmRSS and VmHWM (peak) of a running process, in bytes. */
export function rssOf(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024;
  return { rss: kb('VmRSS'), peak: kb('VmHWM') };
}

/**
 * Resident memory of a running process split into anonymous (heap, stacks,
 * malloc) and file-backed pages (mostly the `node` binary's own code), in
 * bytes, from /proc/<pid>/smaps_rollup. File pages are clean: the kernel can
 * drop them and replicas on one node share them, but RSS counts them.
 */
export function rssSplitOf(pid: number): { anon: number; file: number } {
  const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(rollup)?.[1] ?? NaN) * 1024;
  const anon = kb('Anonymous');
  return { anon, file: kb('Rss') - anon };
}

/** A benchmark's flag list split: `-`-items are node flags, NAME=value items the process's environment (e.g. MALLOC_ARENA_MAX=2). */
export function nodeFlagsAndEnv(items: readonly string[]): { nodeFlags: string[]; env: Record<string, string> } {
  const env = Object.fromEntries(items.filter((f) => !f.startsWith('-')).map((f) => [f.slice(0, f.indexOf('=')), f.slice(f.indexOf('=') + 1)]));
  return { nodeFlags: items.filter((f) => f.startsWith('-')), env };
}

/**
 * vegeta's rate arguments: "max" = as fast as `workers` concurrent requests
 * go; a fixed rate starts `workers` and adds one (on a new connection)
 * whenever all wait, up to `maxWorkers` when given.
 */
export function vegetaRateArgs(rate: string, workers: number, maxWorkers?: number): string[] {
  if (rate === 'max') return ['-rate=0', `-max-workers=${workers}`, `-workers=${workers}`];
  return [`-rate=${rate}/1s`, `-workers=${workers}`, ...(maxWorkers ? [`-max-workers=${maxWorkers}`] : [])];
}

/** User + system CPU time of a running process, in ms (from /proc/<pid>/stat). */
export function cpuMsOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14 and 15 of the whole line)
  return (ticks * 1000) / 100; // USER_HZ is 100 on Linux
}

/** A plain-text table: first column left-aligned, the rest right-aligned. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ').trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

/** How the operator binary is built: `bundle` = the image's (operator/deploy/image/esbuild.ts), `tsc` = dist/ + node_modules. */
export type OperatorBuild = 'bundle' | 'tsc';

/** Builds the operator the given way and returns its entry point, relative to the repository root. */
export function buildOperator(kind: OperatorBuild): string {
  if (kind === 'tsc') {
    process.stderr.write('[bench] building dist/ (npm run build)\n');
    execFileSync('npm', ['run', 'build', '--silent'], { cwd: REPO_ROOT, stdio: 'inherit' });
    return 'dist/operator/main.js';
  }
  process.stderr.write('[bench] building the production bundle (dist/bundle/)\n');
  execFileSync(process.execPath, ['--import=tsx', 'operator/deploy/image/esbuild.ts', '--outdir', 'dist/bundle'], { cwd: REPO_ROOT, stdio: 'inherit' });
  return 'dist/bundle/main.js';
}

/** The node flags the operator runs with in the cluster (the Deployment's NODE_OPTIONS and the image's command line). */
export function imageNodeFlags(): string[] {
  return [...NODE_FLAGS, ...ENTRYPOINT_NODE_FLAGS];
}

/** Path of a benchmark peer built by test/harness/build-servers.sh (vault-k8s, vegeta), or undefined when not built. */
export function peerBinary(name: 'vault-k8s' | 'vegeta'): string | undefined {
  const script = readFileSync(join(REPO_ROOT, 'test/harness/build-servers.sh'), 'utf8');
  const variable = name === 'vault-k8s' ? 'VAULT_K8S_VERSION' : 'VEGETA_VERSION';
  const version = new RegExp(`^${variable}=(\\S+)`, 'm').exec(script)?.[1];
  const goVersion = execFileSync('go', ['env', 'GOVERSION'], { encoding: 'utf8' }).trim();
  const cache = process.env.VAULT_AUTOPILOT_CACHE ?? join(homedir(), '.cache/vault-autopilot');
  const path = join(cache, 'bin', goVersion, `${name}-${version}`);
  return existsSync(path) ? path : undefined;
}

/** Polls `url` until it answers 2xx; `failed()` returning a message aborts early (e.g. the process exited). */
export async function waitHttp(url: string, timeoutMs: number, failed: () => string | undefined, insecure = false): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const mod = url.startsWith('https:') ? await import('node:https') : await import('node:http');
  for (;;) {
    const why = failed();
    if (why) throw new Error(why);
    const ok = await new Promise<boolean>((resolve) => {
      const req = mod.get(url, { rejectUnauthorized: !insecure, timeout: 2000 }, (res) => {
        res.resume();
        resolve((res.statusCode ?? 500) < 300);
      });
      req.on('error', () => resolve(false));
      req.on('timeout', () => req.destroy());
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`${url} not ready after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** The servers an operator benchmark runs against (dev Vault, local-kms, apiserver) with the CRDs applied and the operator's namespace made. */
export async function startOperatorServers(): Promise<{ servers: Servers; env: HarnessEnv }> {
  const servers = await startServers({ vault: 'dev', kms: true, apiserver: true });
  try {
    const env = servers.env as HarnessEnv;
    const crds = readdirSync(join(REPO_ROOT, 'crds')).filter((f) => /\.ya?ml$/.test(f)).map((f) => join('crds', f));
    await env.applyCrds(...crds);
    await env.kubeConfig().makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: 'vault-autopilot' } } });
    return { servers, env };
  } catch (err) {
    await servers.stopAll();
    throw err;
  }
}
