// Unseal keys between sys/init and the keys Secret write. They exist nowhere
// else, so they are never dropped on a failed write: kept here (in memory,
// per Vault resource) and written again, within a reconcile and across
// reconciles, until the Secret holds them.
import { type Clock, errorMessage } from '../../framework/index.js';
import type { StoredKeys } from '../../vault/unseal.js';

export interface PendingInit {
  keys: StoredKeys;
  /** The node that was initialised. */
  address: string;
  startedAt: string;
  attempts: number;
  lastError?: string;
  /** Recovery keys of an auto-unseal Vault (stored the same way; they cannot unseal). */
  recovery?: boolean;
}

export class PendingKeys {
  readonly #byVault = new Map<string, PendingInit>();

  get(vaultKey: string): PendingInit | undefined {
    return this.#byVault.get(vaultKey);
  }
  set(vaultKey: string, pending: PendingInit): void {
    this.#byVault.set(vaultKey, pending);
  }
  delete(vaultKey: string): void {
    this.#byVault.delete(vaultKey);
  }
  get size(): number {
    return this.#byVault.size;
  }
}

/** Pause before attempt n (1-based): 0.25 s doubling to 4 s. */
export function persistDelayMs(attempt: number): number {
  return Math.min(4000, 250 * 2 ** Math.max(0, attempt - 1));
}

/**
 * Runs `persist` until it succeeds or `budgetMs` has passed (then the caller
 * reports and tries again on the next reconcile). Every failure is counted
 * on `pending`; nothing is dropped.
 */
export async function persistWithRetry(
  pending: PendingInit,
  persist: () => Promise<void>,
  clock: Pick<Clock, 'now' | 'setTimeout'>,
  budgetMs: number,
): Promise<boolean> {
  const deadline = clock.now().getTime() + budgetMs;
  for (;;) {
    pending.attempts++;
    try {
      await persist();
      delete pending.lastError;
      return true;
    } catch (err) {
      pending.lastError = errorMessage(err);
    }
    const delay = persistDelayMs(pending.attempts);
    if (clock.now().getTime() + delay > deadline) return false;
    await new Promise<void>((resolve) => clock.setTimeout(resolve, delay));
  }
}
