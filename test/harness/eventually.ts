// Retry-until-true for assertions against servers that converge.
export interface EventuallyOptions {
  timeoutMs?: number;
  intervalMs?: number;
  message?: string;
}

/** Calls `fn` until it resolves without throwing; after `timeoutMs` rethrows its last error, prefixed by `message`. */
export async function eventually<T>(fn: () => Promise<T>, opts: EventuallyOptions = {}): Promise<T> {
  const timeoutMs = opts.timeoutMs ?? 30_000;
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
