// What the local cluster changes on the machine, and how each change is
// undone: the bridge, the DROP rules, sysctls, iptables chains the node adds,
// mounts and container processes left in the state directory. The record of a
// run (cluster.lock) lets the next run undo a run that was SIGKILLed.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, rmdirSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { NET, RULE_COMMENT } from './cluster-config.js';
import { note } from './server.js';

/** One cluster per machine: it owns the bridge and its addresses. */
export const LOCK_FILE = '/run/vault-autopilot-cluster.lock';

/** Sysctls the kubelet or the bridge plugin change, restored on stop. */
export const SYSCTLS = ['vm/overcommit_memory', 'kernel/panic', 'kernel/panic_on_oops', 'net/ipv4/ip_forward'] as const;
/** The kubelet sets these once at start; they are restored as soon as the node is Ready. */
export const KUBELET_SYSCTLS = ['vm/overcommit_memory', 'kernel/panic', 'kernel/panic_on_oops'] as const;

export interface HostRecord {
  pid: number;
  stateDir: string;
  sysctls: Record<string, string>;
  /** `iptables-save` before the run, to remove exactly the chains and rules the node added. */
  iptables: string;
  /** cgroup directories (relative to /sys/fs/cgroup/<controller>) the kubelet creates, when absent before. */
  cgroupsCreated: boolean;
}

function run(cmd: string, args: string[], opts: { allowFail?: boolean; input?: string } = {}): string {
  const res = spawnSync(cmd, args, { encoding: 'utf8', input: opts.input, stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
  if (res.status !== 0 && !opts.allowFail) {
    throw new Error(`${cmd} ${args.join(' ')} failed (${res.status}): ${res.stderr || res.error?.message || ''}`.trim());
  }
  return res.stdout ?? '';
}

export function readSysctl(name: string): string {
  return readFileSync(`/proc/sys/${name}`, 'utf8').trim();
}

export function writeSysctl(name: string, value: string): void {
  try {
    if (readSysctl(name) !== value) writeFileSync(`/proc/sys/${name}`, `${value}\n`);
  } catch (error) {
    note(`cannot restore ${name}=${value}: ${String(error)}`);
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export function readRecord(): HostRecord | undefined {
  try {
    return JSON.parse(readFileSync(LOCK_FILE, 'utf8')) as HostRecord;
  } catch {
    return undefined;
  }
}

/**
 * Takes the machine's cluster lock. Waits (up to `waitMs`) while another live
 * process holds it; undoes what a dead holder left behind.
 */
export async function acquireHost(stateDir: string, waitMs: number): Promise<HostRecord> {
  const deadline = Date.now() + waitMs;
  let told = false;
  for (;;) {
    const holder = readRecord();
    if (holder && holder.pid !== process.pid && pidAlive(holder.pid)) {
      if (Date.now() > deadline) {
        throw new Error(`another local cluster is running (pid ${holder.pid}, state ${holder.stateDir}); one per machine — stop it first`);
      }
      if (!told) note(`waiting for the local cluster of pid ${holder.pid} (state ${holder.stateDir}) to stop`);
      told = true;
      await new Promise((r) => setTimeout(r, 2000));
      continue;
    }
    if (holder) {
      note(`cleaning up after a local cluster that did not stop (pid ${holder.pid}, state ${holder.stateDir})`);
      undoHost(holder);
      if (holder.stateDir.includes('vault-autopilot-cluster-')) rmSync(holder.stateDir, { recursive: true, force: true });
      rmLock();
    } else if (unreadableLockIsStale()) {
      // e.g. `flock` on the path made an empty file: nobody holds it
      note(`removing an unreadable ${LOCK_FILE} that no cluster wrote`);
      rmLock();
    } else if (existsSync(`/sys/class/net/${NET.bridge}`)) {
      throw new Error(`bridge ${NET.bridge} exists but no cluster holds ${LOCK_FILE}; something else uses it — remove it by hand`);
    }
    const record: HostRecord = {
      pid: process.pid,
      stateDir,
      sysctls: Object.fromEntries(SYSCTLS.map((s) => [s, readSysctl(s)])),
      iptables: run('iptables-save', [], { allowFail: true }),
      cgroupsCreated: !existsSync('/sys/fs/cgroup/memory/kubepods'),
    };
    try {
      writeFileSync(LOCK_FILE, JSON.stringify(record), { flag: 'wx', mode: 0o600 });
      const orphans = killOrphanShims();
      if (orphans > 0) note(`killed ${orphans} containerd shims left by earlier runs`);
      return record;
    } catch {
      // someone else got it between our read and write: go round again
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

/** A lock file with no record in it, older than a writer's create-then-write window. */
function unreadableLockIsStale(): boolean {
  try {
    return Date.now() - statSync(LOCK_FILE).mtimeMs > 5000;
  } catch {
    return false;
  }
}

function rmLock(): void {
  try {
    unlinkSync(LOCK_FILE);
  } catch {
    // gone already
  }
}

export function releaseHost(record: HostRecord): void {
  undoHost(record);
  if (readRecord()?.pid === record.pid) rmLock();
}

/** The bridge with the node's fixed address, created before any pod exists. */
export function createBridge(): void {
  run('ip', ['link', 'add', NET.bridge, 'type', 'bridge']);
  run('ip', ['addr', 'add', `${NET.nodeIP}/16`, 'dev', NET.bridge]);
  run('ip', ['link', 'set', NET.bridge, 'up']);
}

/** Pure: the DROP rules (iptables argument lists, without the -I/-A chain part's position). */
export function dropRules(publicPorts: number[]): Array<{ chain: string; args: string[] }> {
  const fromOutside = ['!', '-i', NET.bridge, '-m', 'addrtype', '!', '--src-type', 'LOCAL'];
  const tag = ['-m', 'comment', '--comment', RULE_COMMENT, '-j', 'DROP'];
  return [
    // pod traffic never leaves through another interface
    { chain: 'FORWARD', args: ['-s', NET.podCIDR, '!', '-o', NET.bridge, ...tag] },
    { chain: 'FORWARD', args: ['-d', NET.podCIDR, '!', '-i', NET.bridge, ...tag] },
    // nothing from another machine reaches the bridge address (weak host model) ...
    { chain: 'INPUT', args: ['-d', NET.podCIDR, ...fromOutside, ...tag] },
    // ... nor the listeners bound to every address (apiserver, local-kms)
    { chain: 'INPUT', args: ['-p', 'tcp', '-m', 'multiport', '--dports', publicPorts.join(','), ...fromOutside, ...tag] },
  ];
}

export function addDropRules(publicPorts: number[]): void {
  for (const rule of dropRules(publicPorts)) run('iptables', ['-w', '-I', rule.chain, '1', ...rule.args]);
}

/** Pure: user-defined chains and `-A` lines of an iptables-save dump, per table. */
export function parseIptablesSave(dump: string): Map<string, { chains: Set<string>; rules: string[] }> {
  const tables = new Map<string, { chains: Set<string>; rules: string[] }>();
  let current: { chains: Set<string>; rules: string[] } | undefined;
  for (const line of dump.split('\n')) {
    if (line.startsWith('*')) {
      current = { chains: new Set(), rules: [] };
      tables.set(line.slice(1).trim(), current);
    } else if (current && line.startsWith(':')) {
      // user-defined chains only (built-in ones have a policy, not '-')
      const [chain, policy] = line.slice(1).split(' ');
      if (policy === '-') current.chains.add(chain!);
    } else if (current && line.startsWith('-A ')) {
      current.rules.push(line);
    }
  }
  return tables;
}

/** Pure: what to delete so that `now` is `before` again (rules first, then the chains that were new). */
export function iptablesUndo(before: string, now: string): Array<{ table: string; args: string[] }> {
  const was = parseIptablesSave(before);
  const steps: Array<{ table: string; args: string[] }> = [];
  const flushes: Array<{ table: string; args: string[] }> = [];
  const deletes: Array<{ table: string; args: string[] }> = [];
  for (const [table, state] of parseIptablesSave(now)) {
    const old = was.get(table) ?? { chains: new Set<string>(), rules: [] };
    const newChains = [...state.chains].filter((c) => !old.chains.has(c));
    for (const chain of newChains) {
      flushes.push({ table, args: ['-F', chain] });
      deletes.push({ table, args: ['-X', chain] });
    }
    const oldRules = new Set(old.rules);
    for (const rule of state.rules) {
      const chain = rule.split(' ')[1]!;
      // rules inside new chains go with the flush
      if (!oldRules.has(rule) && !newChains.includes(chain)) steps.push({ table, args: ['-D', ...splitRule(rule.slice(3))] });
    }
  }
  return [...steps, ...flushes, ...deletes];
}

/** Pure: an iptables-save rule line into arguments (double-quoted strings kept whole). */
export function splitRule(line: string): string[] {
  const out: string[] = [];
  const re = /"((?:[^"\\]|\\.)*)"|(\S+)/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(line))) out.push(m[1] !== undefined ? m[1].replace(/\\(.)/g, '$1') : m[2]!);
  return out;
}

/** Pure: the undo steps as one iptables-restore --noflush input (one process instead of one per rule and chain). */
export function restoreScript(steps: Array<{ table: string; args: string[] }>): string {
  const tables = [...new Set(steps.map((s) => s.table))];
  const quote = (arg: string) => (/^[\w.:/,!=+-]+$/.test(arg) ? arg : `"${arg.replace(/(["\\])/g, '\\$1')}"`);
  return tables
    .map((table) => [`*${table}`, ...steps.filter((s) => s.table === table).map((s) => s.args.map(quote).join(' ')), 'COMMIT'].join('\n'))
    .join('\n') + '\n';
}

function undoIptables(before: string): void {
  const now = run('iptables-save', [], { allowFail: true });
  const steps = iptablesUndo(before, now);
  if (steps.length > 0 && spawnSync('iptables-restore', ['-w', '--noflush'], { input: restoreScript(steps), stdio: ['pipe', 'ignore', 'pipe'] }).status !== 0) {
    // something changed meanwhile: step by step, skipping what is gone
    for (const step of iptablesUndo(before, run('iptables-save', [], { allowFail: true }))) {
      run('iptables', ['-w', '-t', step.table, ...step.args], { allowFail: true });
    }
  }
  // anything still tagged with our comment (e.g. the snapshot was taken after a stale rule)
  for (const line of run('iptables-save', [], { allowFail: true }).split('\n')) {
    if (line.startsWith('-A ') && line.includes(RULE_COMMENT)) run('iptables', ['-w', '-D', ...splitRule(line.slice(3))], { allowFail: true });
  }
}

/** Mount points at or below `dir`, deepest first. */
export function mountsUnder(dir: string, mountinfo = readFileSync('/proc/self/mountinfo', 'utf8')): string[] {
  const prefix = dir.endsWith('/') ? dir : `${dir}/`;
  const points = mountinfo
    .split('\n')
    .map((line) => line.split(' ')[4])
    .filter((p): p is string => !!p)
    .map((p) => p.replace(/\\040/g, ' '))
    .filter((p) => p === dir || p.startsWith(prefix));
  return [...new Set(points)].sort((a, b) => b.length - a.length);
}

export function unmountUnder(dir: string): void {
  for (let round = 0; round < 3; round++) {
    const points = mountsUnder(dir);
    if (points.length === 0) return;
    for (const point of points) run('umount', ['-l', point], { allowFail: true });
  }
}

/** Pure: the state dir a containerd shim belongs to, from its command line (`-address <state>/containerd/containerd.sock`). */
export function shimStateDir(cmdline: string[]): string | undefined {
  if (!cmdline[0]?.includes('containerd-shim')) return undefined;
  const address = cmdline[cmdline.indexOf('-address') + 1];
  const m = address && /^(.*\/vault-autopilot-cluster-[^/]+)\/containerd\/containerd\.sock$/.exec(address);
  return m ? m[1] : undefined;
}

/** PIDs of the containerd shims of the local cluster's runs, with the state dir each belongs to. */
function clusterShims(): Array<{ pid: number; stateDir: string }> {
  const shims: Array<{ pid: number; stateDir: string }> = [];
  for (const entry of safeReaddir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stateDir = shimStateDir(safeRead(`/proc/${entry}/cmdline`).split('\0'));
    if (stateDir) shims.push({ pid: Number(entry), stateDir });
  }
  return shims;
}

/**
 * Kills what containerd started for pods (the shims and the containers'
 * processes live outside our process groups): the containers' init PIDs from
 * containerd's state dir, and the shims whose socket address is in it.
 */
export function killContainerProcesses(stateDir: string): void {
  const tasks = join(stateDir, 'containerd', 'state', 'io.containerd.runtime.v2.task');
  const pids: number[] = [];
  for (const ns of safeReaddir(tasks)) {
    for (const id of safeReaddir(join(tasks, ns))) {
      const pid = Number(safeRead(join(tasks, ns, id, 'init.pid')));
      if (pid > 1) pids.push(pid);
    }
  }
  pids.push(...clusterShims().filter((s) => s.stateDir === stateDir).map((s) => s.pid));
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
}

/** Direct children of a process (a shim's children are its containers' init processes). */
function childrenOf(parent: number): number[] {
  return safeReaddir('/proc')
    .filter((e) => /^\d+$/.test(e))
    .filter((e) => Number(/^\d+ \(.*\) \S+ (\d+)/.exec(safeRead(`/proc/${e}/stat`))?.[1]) === parent)
    .map(Number);
}

/** Shims of earlier runs whose state dir is gone (they outlived a stop that missed them), and their containers: killed. */
export function killOrphanShims(): number {
  const orphans = clusterShims().filter((s) => !existsSync(s.stateDir));
  for (const pid of orphans.flatMap((o) => childrenOf(o.pid))) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
  for (const { pid } of orphans) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
  return orphans.length;
}

function safeReaddir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

function safeRead(file: string): string {
  try {
    return readFileSync(file, 'utf8').trim();
  } catch {
    return '';
  }
}

/** Empty cgroup directories the kubelet made (kubepods, ...), deepest first; busy ones stay. */
function removeKubeletCgroups(): void {
  for (const controller of safeReaddir('/sys/fs/cgroup')) {
    const top = join('/sys/fs/cgroup', controller, 'kubepods');
    if (!existsSync(top)) continue;
    const dirs: string[] = [];
    const walk = (d: string) => {
      dirs.push(d);
      for (const entry of safeReaddir(d)) {
        const child = join(d, entry);
        try {
          if (readdirSync(child)) walk(child);
        } catch {
          // a file
        }
      }
    };
    walk(top);
    for (const d of dirs.sort((a, b) => b.length - a.length)) {
      try {
        rmdirSync(d);
      } catch {
        // still in use or not a directory
      }
    }
  }
}

/** libcni caches each pod's result in /var/lib/cni/results; the entries of our network (vabr) and their loopback twins go. */
function removeCniCache(): void {
  const dir = '/var/lib/cni/results';
  const files = safeReaddir(dir);
  const ids = new Set(files.map((f) => /^vabr-([0-9a-f]+)-/.exec(f)?.[1]).filter((id): id is string => !!id));
  for (const file of files) {
    const id = /^(?:vabr|cni-loopback)-([0-9a-f]+)-/.exec(file)?.[1];
    if (id && ids.has(id)) rmSync(join(dir, file), { force: true });
  }
}

/** Everything the run changed on the machine, undone; safe to call twice. */
export function undoHost(record: HostRecord): void {
  killContainerProcesses(record.stateDir);
  removeCniCache();
  unmountUnder(record.stateDir);
  undoIptables(record.iptables);
  if (existsSync(`/sys/class/net/${NET.bridge}`)) run('ip', ['link', 'delete', NET.bridge], { allowFail: true });
  if (record.cgroupsCreated) removeKubeletCgroups();
  for (const [name, value] of Object.entries(record.sysctls)) writeSysctl(name, value);
}

/** Resident memory (kB) of a process and its descendants, from /proc. */
export function rssKb(pid: number): number {
  const status = safeRead(`/proc/${pid}/status`);
  const m = /VmRSS:\s+(\d+)/.exec(status);
  return m ? Number(m[1]) : 0;
}

export function hasCommand(command: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
