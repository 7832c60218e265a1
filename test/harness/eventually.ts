// Retry-until-true for assertions against servers that converge.
export interface EventuallyOptions {
  /** Required: every wait says what bounds it (a WITHIN budget or a figure derived from what it waits for). */
  timeoutMs: number;
  intervalMs?: number;
  message?: string;
}

/**
 * Budgets named by what a wait waits for. There is no default: a wait picks
 * one of these or derives its own (e.g. from a resync period). They bound the
 * wait on this project's loaded 2-core test machine (load average up to ~21
 * measured during whole-suite passes), several times what the step takes idle.
 */
export const WITHIN = {
  /** A real server that is up answering as expected again (after its restart, unseal, or a write it must show). */
  server: { timeoutMs: 30_000 },
  /** A process the test started (an operator, a harness child) printing that it is up: tsx compiles it first. */
  start: { timeoutMs: 60_000 },
  /** A change reaching the operator (or framework) under test through its watch, and the reconcile that acts on it. */
  reconcile: { timeoutMs: 60_000 },
} as const satisfies Record<string, Pick<EventuallyOptions, 'timeoutMs'>>;

/** `n` periodic passes of a resync loop with period `periodMs`, plus the reconcile that each pass runs. */
export function withinResyncs(n: number, periodMs: number): Pick<EventuallyOptions, 'timeoutMs'> {
  return { timeoutMs: (n + 1) * periodMs + WITHIN.reconcile.timeoutMs };
}

/** Calls `fn` until it resolves without throwing; after `timeoutMs` rethrows its last error, prefixed by `message`. */
export async function eventually<T>(fn: () => Promise<T>, opts: EventuallyOptions): Promise<T> {
  const timeoutMs = opts.timeoutMs;
  const intervalMs = opts.intervalMs ?? 250;
  const deadline = Date.now() + timeoutMs;
  let attempts = 0;
  for (;;) {
    attempts++;
    try {
      return await fn();
    } catch (error) {
      if (Date.now() + intervalMs > deadline) {
        const last = error instanceof Error ? error.message : String(error);
        const wrapped = new Error(`${opts.message ?? 'condition not met'} after ${attempts} attempts in ${timeoutMs} ms: ${last}`);
        (wrapped as Error & { cause?: unknown }).cause = error;
        throw wrapped;
      }
      await new Promise((resolve) => setTimeout(resolve, intervalMs));
    }
  }
}

/** Waits until `read` fails with 404: the object is gone (other errors count as not yet). */
export async function eventuallyGone(read: () => Promise<unknown>, what: string, opts: EventuallyOptions): Promise<void> {
  await eventually(async () => {
    try {
      await read();
    } catch (err) {
      if ((err as { code?: number }).code === 404) return;
      throw err;
    }
    throw new Error(`${what} still there`);
  }, opts);
}
