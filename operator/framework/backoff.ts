// Capped exponential backoff: base * 2^(attempt-1), never above max.

export interface BackoffPolicy {
  baseMs: number;
  maxMs: number;
  /** 0..1: spread each delay up to this fraction upwards (still capped); 0 in tests. */
  jitter?: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { baseMs: 1000, maxMs: 5 * 60_000, jitter: 0.1 };

/** Delay before retry number `attempt` (1 = first retry). `random` is injectable for tests. */
export function backoffDelay(attempt: number, policy: BackoffPolicy, random: () => number = Math.random): number {
  const n = Math.max(1, Math.floor(attempt));
  // 2^n overflows to Infinity for large n, which the cap handles.
  const raw = policy.baseMs * Math.pow(2, n - 1);
  const capped = Math.min(policy.maxMs, raw);
  const jitter = policy.jitter ?? 0;
  if (jitter <= 0) return capped;
  return Math.min(policy.maxMs, Math.round(capped * (1 + jitter * random())));
}
