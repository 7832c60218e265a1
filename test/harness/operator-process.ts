// Runs an operator entry point as a real child process (node + tsx), for
// tests of signals, exit codes and restarts that an in-process run cannot show.
import { WITHIN } from './eventually.js';
import { ManagedProcess } from './proc.js';
import { REPO_ROOT } from './versions.js';

export interface OperatorProcessOptions {
  /** Entry file, repo-relative or absolute, e.g. 'operator/main.ts'. */
  entry: string;
  /** Added to this process's environment (KUBECONFIG, VAULT_AUTOPILOT_* ...). */
  env?: Record<string, string>;
  args?: string[];
}

export interface OperatorProcess {
  /** stdout and stderr so far, interleaved as they arrived. */
  output(): string;
  /** Resolves once `re` matches the output; rejects on timeout (default WITHIN.start) or if the process exits first. */
  waitForOutput(re: RegExp, timeoutMs?: number): Promise<void>;
  /** Sends `signal` (default SIGTERM) and resolves with the exit code, null if it died of a signal. SIGKILL after 15 s. */
  kill(signal?: NodeJS.Signals): Promise<number | null>;
  readonly pid: number | undefined;
  /** Resolves with the exit code when the process exits by itself. */
  exited(): Promise<number | null>;
}

const running = new Set<ManagedProcess>();

export async function startOperatorProcess(opts: OperatorProcessOptions): Promise<OperatorProcess> {
  const proc = new ManagedProcess('operator', process.execPath, ['--import=tsx', opts.entry, ...(opts.args ?? [])], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...opts.env },
  });
  proc.start();
  running.add(proc);
  void proc.exited().then(() => running.delete(proc));
  return {
    output: () => proc.output(),
    waitForOutput: (re, timeoutMs = WITHIN.start.timeoutMs) => proc.waitForOutput(re, timeoutMs),
    kill: (signal = 'SIGTERM') => proc.stop(signal, 15_000),
    get pid() {
      return proc.pid;
    },
    exited: () => proc.exited(),
  };
}

/** Kills operator processes a test left running (called by useTestEnv's after.always). */
export async function stopOperatorProcesses(): Promise<void> {
  await Promise.all([...running].map((proc) => proc.stop('SIGKILL')));
}
