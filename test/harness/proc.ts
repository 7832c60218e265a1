// Child processes of the harness: each runs in its own process group (so a
// stop reaches everything it forked), its output is kept in memory and in a
// log file, and it is killed when this process ends — on a normal exit by the
// exit hook, on a crash or SIGKILL by the reaper (reaper.ts).
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import type { Writable } from 'node:stream';
import { HARNESS_DIR, REPO_ROOT } from './versions.js';

const MAX_OUTPUT_CHARS = 8 * 1024 * 1024;

let reaper: ChildProcess | undefined;
const liveGroups = new Set<number>();

function tellReaper(line: string): void {
  if (!reaper) {
    reaper = spawn(process.execPath, ['--import=tsx', join(HARNESS_DIR, 'reaper.ts')], {
      cwd: REPO_ROOT,
      detached: true,
      stdio: ['pipe', 'ignore', 'ignore'],
    });
    reaper.unref();
    (reaper.stdin as Writable & { unref?: () => void }).unref?.();
    reaper.stdin!.on('error', () => undefined);
  }
  reaper.stdin!.write(`${line}\n`);
}

/** Directories removed by the reaper should this process die before removing them itself. */
export function registerTempDir(dir: string): void {
  tellReaper(`+dir ${dir}`);
}
export function unregisterTempDir(dir: string): void {
  if (reaper) tellReaper(`-dir ${dir}`);
}

process.on('exit', () => {
  for (const pgid of liveGroups) {
    try {
      process.kill(-pgid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
});

export interface ProcessOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Output is appended here as well as kept in memory. */
  logFile?: string;
  /** Lines are also written here as they arrive (e.g. process.stderr for a demo). */
  echo?: NodeJS.WritableStream;
  /** Run as this user and group (a server that refuses root, e.g. postgres). */
  uid?: number;
  gid?: number;
}

export class ManagedProcess {
  private child: ChildProcess | undefined;
  private log: WriteStream | undefined;
  private captured = '';
  private listeners = new Set<() => void>();
  private exitPromise: Promise<number | null> = Promise.resolve(null);
  private exitCode: number | null | undefined;

  constructor(
    readonly name: string,
    readonly command: string,
    readonly args: readonly string[],
    private readonly options: ProcessOptions = {},
  ) {}

  get running(): boolean {
    return this.child !== undefined && this.exitCode === undefined;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Everything the process wrote to stdout and stderr, across restarts. */
  output(): string {
    return this.captured;
  }

  tail(lines = 40): string {
    return this.captured.split('\n').slice(-lines).join('\n');
  }

  start(): void {
    if (this.running) throw new Error(`${this.name} is already running`);
    if (this.options.logFile && !this.log) this.log = createWriteStream(this.options.logFile, { flags: 'a' });
    const child = spawn(this.command, [...this.args], {
      cwd: this.options.cwd ?? REPO_ROOT,
      env: this.options.env ?? process.env,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      ...(this.options.uid !== undefined ? { uid: this.options.uid } : {}),
      ...(this.options.gid !== undefined ? { gid: this.options.gid } : {}),
    });
    this.child = child;
    this.exitCode = undefined;
    const pid = child.pid;
    if (pid !== undefined) {
      liveGroups.add(pid);
      tellReaper(`+pg ${pid}`);
    }
    const onData = (chunk: Buffer) => this.record(chunk.toString('utf8'));
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    this.exitPromise = new Promise((resolve) => {
      const finish = (code: number | null) => {
        if (this.exitCode !== undefined) return;
        this.exitCode = code;
        if (pid !== undefined) {
          liveGroups.delete(pid);
          tellReaper(`-pg ${pid}`);
        }
        this.notify();
        resolve(code);
      };
      child.once('error', (err) => {
        this.record(`[harness] cannot start ${this.command}: ${err.message}\n`);
        finish(null);
      });
      child.once('exit', (code, signal) => {
        if (signal) this.record(`[harness] ${this.name} killed by ${signal}\n`);
        finish(code);
      });
    });
  }

  /** Resolves with the exit code (null when killed by a signal) once the process has exited. */
  exited(): Promise<number | null> {
    return this.exitPromise;
  }

  /** SIGTERM (or `signal`) to the whole group; SIGKILL if it has not exited after `graceMs`. */
  async stop(signal: NodeJS.Signals = 'SIGTERM', graceMs = 10_000): Promise<number | null> {
    const pid = this.child?.pid;
    if (!this.running || pid === undefined) return this.exitCode ?? null;
    this.signalGroup(pid, signal);
    const timer = setTimeout(() => this.signalGroup(pid, 'SIGKILL'), graceMs);
    const code = await this.exitPromise;
    clearTimeout(timer);
    // Children the leader left behind in its group.
    this.signalGroup(pid, 'SIGKILL');
    return code;
  }

  async closeLog(): Promise<void> {
    const log = this.log;
    this.log = undefined;
    if (log) await new Promise<void>((resolve) => log.end(resolve));
  }

  /** Resolves when `re` matches the captured output; rejects on timeout or exit. */
  waitForOutput(re: RegExp, timeoutMs = 30_000, from = 0): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = () => {
        if (re.test(this.captured.slice(from))) return done(resolve);
        if (!this.running) return done(() => reject(new Error(`${this.name} exited (${this.exitCode}) before printing ${re}:\n${this.tail()}`)));
      };
      const timer = setTimeout(
        () => done(() => reject(new Error(`${this.name} did not print ${re} within ${timeoutMs} ms:\n${this.tail()}`))),
        timeoutMs,
      );
      const done = (fn: () => void) => {
        clearTimeout(timer);
        this.listeners.delete(check);
        fn();
      };
      this.listeners.add(check);
      check();
    });
  }

  private signalGroup(pgid: number, signal: NodeJS.Signals): void {
    try {
      process.kill(-pgid, signal);
    } catch {
      // already gone
    }
  }

  private record(text: string): void {
    this.captured += text;
    if (this.captured.length > MAX_OUTPUT_CHARS) this.captured = this.captured.slice(-MAX_OUTPUT_CHARS / 2);
    this.log?.write(text);
    this.options.echo?.write(text);
    this.notify();
  }

  private notify(): void {
    for (const listener of [...this.listeners]) listener();
  }
}
