// Shared by the long-running harness commands (test-env, demo, the
// integration runner): PATH lookups and stopping cleanly on Ctrl-C.
import { spawnSync } from 'node:child_process';
import { note } from './server.js';

export function onPath(command: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;
}

/** Runs `stop` once on SIGINT/SIGTERM/SIGHUP, then exits with `code`. */
export function stopOnSignals(stop: () => Promise<void>, code = 0): void {
  let stopping = false;
  const handler = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    note(`${signal}: stopping servers`);
    stop().then(
      () => process.exit(code),
      (error: unknown) => {
        note(`stop failed: ${String(error)}`);
        process.exit(1);
      },
    );
  };
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, handler);
}
