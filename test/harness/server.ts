// What every harness server has in common.
import type { ManagedProcess } from './proc.js';

export interface Server {
  readonly name: string;
  /** Version as reported by the server itself (known after the first start). */
  readonly version: string;
  readonly process: ManagedProcess;
  /** Starts (again) with the same ports and data directory, and waits until it serves. */
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** Harness progress lines go to stderr; VAULT_AUTOPILOT_HARNESS_QUIET=1 silences them. */
export function note(message: string): void {
  if (process.env.VAULT_AUTOPILOT_HARNESS_QUIET === '1') return;
  process.stderr.write(`[harness ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
}

/**
 * Polls `probe` until it returns true. Fails early, with the server's last
 * output, when the process exits; fails after `timeoutMs` likewise.
 */
export async function waitUntilServing(proc: ManagedProcess, probe: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError = '';
  while (Date.now() < deadline) {
    if (!proc.running) throw new Error(`${proc.name} exited during start-up:\n${proc.tail()}`);
    try {
      if (await probe()) return;
    } catch (error) {
      lastError = error instanceof Error ? error.message : String(error);
    }
    await new Promise((resolve) => setTimeout(resolve, 150));
  }
  throw new Error(`${proc.name} not serving after ${timeoutMs} ms (${lastError}):\n${proc.tail()}`);
}

/** Starts the process and waits until it serves; reports how long that took. */
export async function startAndWait(server: Server, probe: () => Promise<boolean>, timeoutMs: number): Promise<number> {
  const started = Date.now();
  server.process.start();
  try {
    await waitUntilServing(server.process, probe, timeoutMs);
  } catch (error) {
    await server.process.stop('SIGKILL');
    throw error;
  }
  return Date.now() - started;
}
