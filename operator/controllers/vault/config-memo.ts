// Idle Vaults are not re-read every resync. After a pass that applied
// everything, the digest of what was applied (the rendered externalConfig,
// the managed record, the cluster defaults) is kept in memory per `Vault`;
// a later pass with the same digest skips reading Vault until the drift
// check interval has passed. Measured before: 1,000 ServiceAccount roles
// cost 2,404 Vault reads a minute with nothing changed. A change of the
// resource (or of what it renders) is applied at once as before; a change
// made by hand in Vault is undone within the interval. Pure but for the map.
import { createHash } from 'node:crypto';
import type { VaultCondition } from '../../api/vault.js';
import { canonicalJson } from '../../framework/index.js';

export interface ConfigMemoEntry {
  digest: string;
  checkedAt: number;
  /** the Configured condition that pass reported, reported again while skipping */
  condition: Pick<VaultCondition, 'type' | 'status' | 'reason' | 'message'>;
}

/** Keys sorted: the record read back from the apiserver has its keys in another order than the one just written. */
export function configDigest(parts: unknown): string {
  return createHash('sha256').update(canonicalJson(parts)).digest('hex');
}

/** Whether this pass may skip reading Vault: the same digest, checked less than `intervalMs` ago. */
export function maySkip(entry: ConfigMemoEntry | undefined, digest: string, nowMs: number, intervalMs: number | undefined): entry is ConfigMemoEntry {
  if (!entry || !intervalMs) return false;
  return entry.digest === digest && nowMs - entry.checkedAt < intervalMs;
}

/** One memo per controller (keyed by its deps object), one entry per `Vault` uid. */
const memos = new WeakMap<object, Map<string, ConfigMemoEntry>>();

export function memoFor(owner: object): Map<string, ConfigMemoEntry> {
  let memo = memos.get(owner);
  if (!memo) memos.set(owner, (memo = new Map()));
  return memo;
}
