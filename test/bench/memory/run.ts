// Where the operator's memory goes, and how much it holds idle.
//
//   node --import=tsx test/bench/memory/run.ts [--idle-seconds 20] [--snapshot] [--flags="--max-semi-space-size=1;--optimize-for-size"] [--skip-tsc] [--binary-pages]
//
// 1. What each dependency costs on its own: a fresh `node` that imports only
//    it, RSS and V8 heap after a full GC, minus a bare node.
// 2. The operator binary (plain node, no tsx) against the local servers,
//    idle with nothing to manage: every lifecycle, then the webhook alone;
//    as the image runs it (the esbuild bundle, operator/deploy/image/esbuild.ts)
//    and as tsc's dist/ + node_modules (before the bundle; --skip-tsc drops
//    these); --flags "a b;c" adds bundle runs per ;-separated set of node
//    flags (NAME=value items are environment variables, e.g. MALLOC_ARENA_MAX=2).
//    RSS (VmRSS) after --idle-seconds, peak RSS (VmHWM), V8 heap after a
//    full GC, RSS split into anonymous and file-backed pages. With
//    --snapshot, the largest heap-snapshot groups too; with --binary-pages,
//    which parts of the node binary are resident (binary-pages.ts).
// 3. vault-k8s (HashiCorp's injector) idle, when it has been built
//    (bash test/harness/build-servers.sh vault-k8s): the webhook's peer.
import { execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { cpus, loadavg as osLoadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { HarnessEnv } from '../../harness/env.js';
import { REPO_ROOT } from '../../harness/versions.js';
import { startOperatorBinary, startVaultK8s } from '../processes.js';
import { binaryPages, binaryPagesTable } from './binary-pages.js';
import { buildOperator, imageNodeFlags, mb, nodeFlagsAndEnv, peerBinary, rssOf, rssSplitOf, startOperatorServers, table } from '../support.js';

const loadavg = (): string => osLoadavg().map((l) => l.toFixed(1)).join(' ');

const { values } = parseArgs({
  options: {
    'idle-seconds': { type: 'string', default: '20' },
    snapshot: { type: 'boolean', default: false },
    flags: { type: 'string' },
    'skip-imports': { type: 'boolean', default: false },
    'skip-tsc': { type: 'boolean', default: false },
    'binary-pages': { type: 'boolean', default: false },
  },
});
const idleMs = Number(values['idle-seconds']) * 1000;
const DEPENDENCIES = ['@kubernetes/client-node', '@dot-i/k8s-operator', 'hashi-vault-js', '@aws-sdk/client-kms', 'winston', 'js-yaml'];

/** RSS and heap of a fresh node that imports `specifier` (nothing for ''), after a full GC. */
function importCost(specifier: string): { rss: number; heap: number } {
  const code = `${specifier ? `await import(${JSON.stringify(specifier)});` : ''}
    globalThis.gc(); await new Promise((r) => setTimeout(r, 200)); globalThis.gc();
    const u = process.memoryUsage(); process.stdout.write(JSON.stringify({ rss: u.rss, heap: u.heapUsed }));`;
  const samples = [0, 1, 2].map(() => JSON.parse(execFileSync(process.execPath, ['--expose-gc', '--input-type=module', '-e', code], { cwd: REPO_ROOT, encoding: 'utf8' })) as { rss: number; heap: number });
  samples.sort((a, b) => a.rss - b.rss);
  return samples[1]!; // the median of three
}

function importTable(): string {
  const bare = importCost('');
  const rows = DEPENDENCIES.map((d) => {
    const c = importCost(d);
    return [d, `+${mb(c.rss - bare.rss)}`, `+${mb(c.heap - bare.heap)}`];
  });
  return table(['import (alone, fresh node)', 'RSS MB', 'V8 heap MB'], [['bare node', mb(bare.rss), mb(bare.heap)], ...rows]);
}

interface Sample {
  rss: number;
  peak: number;
  anon: number;
  file: number;
  heapUsed?: number;
  snapshotTop?: string[];
  pages?: Map<string, number>;
}

async function probe(child: ChildProcess, out: string, snapshot: boolean): Promise<{ heapUsed: number; snapshot?: string }> {
  child.kill('SIGUSR2');
  for (let i = 0; i < (snapshot ? 600 : 50); i++) {
    await new Promise((r) => setTimeout(r, 100));
    if (existsSync(out)) {
      try {
        const j = JSON.parse(readFileSync(out, 'utf8')) as { memory: NodeJS.MemoryUsage; snapshot?: string };
        return { heapUsed: j.memory.heapUsed, ...(j.snapshot ? { snapshot: j.snapshot } : {}) };
      } catch {
        // still being written
      }
    }
  }
  throw new Error('the probe did not answer');
}

/** The biggest groups of a V8 heap snapshot by self size: "type name". */
function snapshotTop(file: string, n = 10): string[] {
  const s = JSON.parse(readFileSync(file, 'utf8')) as { snapshot: { meta: { node_fields: string[]; node_types: [string[]] } }; nodes: number[]; strings: string[] };
  const fields = s.snapshot.meta.node_fields;
  const width = fields.length;
  const [typeAt, nameAt, sizeAt] = ['type', 'name', 'self_size'].map((f) => fields.indexOf(f)) as [number, number, number];
  const types = s.snapshot.meta.node_types[0];
  const groups = new Map<string, number>();
  for (let i = 0; i < s.nodes.length; i += width) {
    const type = types[s.nodes[i + typeAt]!]!;
    const name = type === 'object' || type === 'closure' || type === 'native' ? s.strings[s.nodes[i + nameAt]!]! : `(${type})`;
    const key = `${type === 'object' ? '' : `${type} `}${name}`.slice(0, 60);
    groups.set(key, (groups.get(key) ?? 0) + s.nodes[i + sizeAt]!);
  }
  return [...groups.entries()].sort((a, b) => b[1] - a[1]).slice(0, n).map(([k, v]) => `${mb(v).padStart(6)} MB  ${k}`);
}

async function runOperator(env: HarnessEnv, dir: string, name: string, entry: string, lifecycles: string, flags: string[]): Promise<Sample> {
  const { nodeFlags, env: extraEnv } = nodeFlagsAndEnv(flags);
  const out = join(dir, `probe-${name}.json`);
  const op = await startOperatorBinary(env, { lifecycles, nodeFlags, entry, extraEnv, probeOut: out, snapshot: values.snapshot });
  try {
    await new Promise((r) => setTimeout(r, idleMs));
    const { rss, peak } = rssOf(op.pid);
    const split = rssSplitOf(op.pid);
    const pages = values['binary-pages'] ? binaryPages(op.pid) : undefined;
    const p = await probe(op.child, out, values.snapshot);
    return { rss, peak, ...split, heapUsed: p.heapUsed, ...(pages ? { pages } : {}), ...(p.snapshot ? { snapshotTop: snapshotTop(p.snapshot) } : {}) };
  } finally {
    await op.stop();
  }
}

async function runPeer(env: HarnessEnv, binary: string): Promise<Sample> {
  const peer = await startVaultK8s(env, binary);
  try {
    await new Promise((r) => setTimeout(r, idleMs));
    return { ...rssOf(peer.pid), ...rssSplitOf(peer.pid) };
  } finally {
    await peer.stop();
  }
}

async function main(): Promise<void> {
  const lines: string[] = [];
  const started = new Date();
  if (!values['skip-imports']) lines.push(importTable(), '');

  const entries = { tsc: values['skip-tsc'] ? '' : buildOperator('tsc'), bundle: buildOperator('bundle') };
  const { servers, env } = await startOperatorServers();
  try {
    const imageFlags = imageNodeFlags();
    const extraFlags = (values.flags ?? '').split(';').map((set) => set.split(/\s+/).filter(Boolean)).filter((set) => set.length > 0);
    const rows: string[][] = [];
    const snapshots: string[] = [];
    const all = 'vault,kmsvaultsecret,serviceaccount,webhook';
    const image = `bundle (image)${imageFlags.length ? `, ${imageFlags.join(' ')}` : ''}`;
    const variants: Array<[string, string, string, string[]]> = [
      [`all lifecycles, ${image}`, entries.bundle, all, imageFlags],
      [`webhook only, ${image}`, entries.bundle, 'webhook', imageFlags],
      ...(entries.tsc
        ? ([
            [`all lifecycles, tsc dist/ + node_modules${imageFlags.length ? `, ${imageFlags.join(' ')}` : ''}`, entries.tsc, all, imageFlags],
            [`webhook only, tsc dist/ + node_modules${imageFlags.length ? `, ${imageFlags.join(' ')}` : ''}`, entries.tsc, 'webhook', imageFlags],
          ] as Array<[string, string, string, string[]]>)
        : []),
      ...extraFlags.flatMap(
        (set): Array<[string, string, string, string[]]> => [
          [`all lifecycles, bundle, ${set.join(' ')}`, entries.bundle, all, set],
          [`webhook only, bundle, ${set.join(' ')}`, entries.bundle, 'webhook', set],
        ],
      ),
    ];
    let webhookRss = 0;
    for (const [i, [label, entry, lifecycles, flags]] of variants.entries()) {
      process.stderr.write(`[bench] operator: ${label} (idle ${idleMs / 1000} s; load ${loadavg()})\n`);
      const s = await runOperator(env, servers.dir, `v${i}`, entry, lifecycles, flags).catch((err: Error) => err);
      if (s instanceof Error) {
        rows.push([`operator: ${label}`, `failed: ${/(\w*Error: .*)/.exec(s.message)?.[1] ?? s.message.split('\n')[0]}`, '', '', '', loadavg()]);
        continue;
      }
      if (i === 1) webhookRss = s.rss;
      rows.push([`operator: ${label}`, mb(s.rss), `${mb(s.anon)} / ${mb(s.file)}`, mb(s.peak), s.heapUsed !== undefined ? mb(s.heapUsed) : '', loadavg()]);
      if (s.pages) snapshots.push(binaryPagesTable(s.pages, label, 12), '');
      if (s.snapshotTop) snapshots.push(`heap snapshot, ${label} (largest groups by self size):`, ...s.snapshotTop.map((l) => `  ${l}`), '');
    }
    const peer = peerBinary('vault-k8s');
    if (peer) {
      process.stderr.write('[bench] vault-k8s agent-inject (idle)\n');
      const s = await runPeer(env, peer);
      rows.push(['vault-k8s v1.6.2 agent-inject', mb(s.rss), `${mb(s.anon)} / ${mb(s.file)}`, mb(s.peak), '', loadavg()]);
      rows.push(['ratio webhook only (image) / vault-k8s', (webhookRss / s.rss).toFixed(2), '', '', '', '']);
    } else {
      rows.push(['vault-k8s: not built (bash test/harness/build-servers.sh vault-k8s)', '', '', '', '', '']);
    }
    lines.push(table([`idle ${idleMs / 1000} s, nothing to manage`, 'RSS MB', 'anonymous / file MB', 'peak RSS MB', 'V8 heap MB (after GC)', 'load average'], rows), '', ...snapshots);
  } finally {
    await servers.stopAll();
  }
  lines.push(`node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? '?'}, ${mb(totalmem())} MB RAM, ${started.toISOString().slice(0, 16)}Z`);
  process.stdout.write(`\n${lines.join('\n')}\n`);
}

await main();
