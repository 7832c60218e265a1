// The vocabulary every configuration concern (audit, auth, policies, secret
// engines) shares: a Change is a list of Vault writes with a human summary,
// values are compared the way Vault reads them back, and one apply() runs the
// changes, collecting failures per entry so one bad entry never stops the rest.
import { parseDuration } from '../framework/index.js';
import { VaultError, type VaultClient } from './client.js';

export type Concern = 'audit' | 'auth' | 'role' | 'policy' | 'secret' | 'config' | 'group' | 'group-alias' | 'startup-secret' | 'plugin';

export interface VaultWrite {
  method: 'PUT' | 'POST' | 'DELETE';
  path: string;
  body?: Record<string, unknown>;
  /**
   * Bank-Vaults' `save_to`: the response's `data` is written there as a kv v2
   * secret (`cas: 0`, so never over an existing one). The response may hold a
   * private key: it goes from Vault to Vault, never to a log, event or status.
   */
  saveResponseTo?: string;
}

export interface Change {
  concern: Concern;
  action: 'create' | 'update' | 'delete';
  /** The entry as a user names it: a policy name, a mount path, `<auth path>/<role>`. */
  id: string;
  writes: VaultWrite[];
  /** What changed, for events and logs (never values: they may be secret). */
  summary: string;
}

/** A spec entry that cannot be applied, found before any write. */
export interface Problem {
  concern: Concern;
  id: string;
  message: string;
}

export interface Plan {
  changes: Change[];
  problems: Problem[];
}

export interface ApplyResult {
  applied: Change[];
  failed: Array<{ change: Change; error: string }>;
}

/** Roles and policies are independent entries: a run of them may be written side by side. */
const INDEPENDENT: ReadonlySet<Concern> = new Set(['role', 'policy']);

/**
 * Run changes in order; a failing change is recorded and the next one still
 * runs. With `parallel` > 1, a run of consecutive role and policy changes is
 * written up to that many at a time (1,000 ServiceAccounts are 2,000 writes);
 * everything else stays strictly in order.
 */
export async function applyChanges(client: VaultClient, changes: Change[], parallel = 1): Promise<ApplyResult> {
  const outcomes: Array<{ change: Change; error?: string }> = [];
  const one = async (change: Change, at: number): Promise<void> => {
    try {
      for (const write of change.writes) {
        const res = await client.request<{ data?: Record<string, unknown> }>(write.method, write.path, write.body);
        if (write.saveResponseTo) await client.request('POST', write.saveResponseTo, { data: res.data?.data ?? {}, options: { cas: 0 } });
      }
      outcomes[at] = { change };
    } catch (err) {
      // an unreachable or failing Vault (5xx) is not the entry's fault: let the caller retry the reconcile
      if (err instanceof VaultError && (err.unreachable || (err.status ?? 0) >= 500)) throw err;
      outcomes[at] = { change, error: describeError(err) };
    }
  };
  for (let i = 0; i < changes.length; ) {
    let end = i + 1;
    if (parallel > 1) while (end < changes.length && INDEPENDENT.has(changes[i]!.concern) && INDEPENDENT.has(changes[end]!.concern)) end++;
    let next = i;
    const worker = async () => {
      while (next < end) {
        const at = next++;
        await one(changes[at]!, at);
      }
    };
    await Promise.all(Array.from({ length: Math.min(parallel, end - i) }, worker));
    i = end;
  }
  const result: ApplyResult = { applied: [], failed: [] };
  for (const o of outcomes) {
    if (o.error === undefined) result.applied.push(o.change);
    else result.failed.push({ change: o.change, error: o.error });
  }
  return result;
}

export function describeError(err: unknown): string {
  if (err instanceof VaultError) return err.errors.length ? err.errors.join('; ') : err.message;
  return err instanceof Error ? err.message : String(err);
}

/** `/kubernetes/` -> `kubernetes`: mount paths as users write them. */
export function trimPath(path: string): string {
  return path.replace(/^\/+|\/+$/g, '');
}

/** Go-style duration ("1h30m", "90s", "300"; the framework's one grammar) to whole seconds; undefined when it is not one. */
export function durationSeconds(value: string): number | undefined {
  const ms = parseDuration(value);
  return ms === undefined ? undefined : Math.round(ms / 1000);
}

function scalarText(value: unknown): string {
  return typeof value === 'string' ? value.trim() : String(value);
}

function asList(value: unknown): unknown[] {
  if (value === undefined || value === null || value === '') return [];
  if (Array.isArray(value)) return value;
  if (typeof value === 'string') return value.split(',').map((s) => s.trim()).filter((s) => s !== '');
  return [value];
}

/**
 * Does Vault's read-back `actual` already hold what the spec asks for?
 * Only keys the spec sets are compared (Vault fills in defaults); durations
 * compare as seconds, lists as sets, "true"/true and "2"/2 as equal.
 * A key Vault never returns (write-only, e.g. token_reviewer_jwt) cannot be
 * verified and counts as equal.
 */
export function valueSatisfied(desired: unknown, actual: unknown): boolean {
  if (desired === undefined || desired === null) return true;
  if (actual === undefined) return true;
  // {secretKeyRef}: the value lives in a Kubernetes Secret, read only when writing (secret-refs.ts)
  if (typeof desired === 'object' && !Array.isArray(desired) && Object.keys(desired).join() === 'secretKeyRef') return true;
  if (Array.isArray(desired) || Array.isArray(actual)) {
    const want = asList(desired).map(scalarText).sort();
    const have = asList(actual).map(scalarText).sort();
    return want.length === have.length && want.every((v, i) => v === have[i]);
  }
  if (typeof desired === 'object') {
    if (typeof actual !== 'object' || actual === null) return false;
    return paramsSatisfied(desired as Record<string, unknown>, actual as Record<string, unknown>);
  }
  if (typeof desired === 'string' && typeof actual === 'number') {
    const seconds = durationSeconds(desired);
    return seconds !== undefined ? seconds === actual : Number(desired) === actual;
  }
  if (actual === null) return false;
  return scalarText(desired) === scalarText(actual);
}

/** Every key of `desired` is satisfied by `actual`. */
export function paramsSatisfied(desired: Record<string, unknown>, actual: Record<string, unknown> | undefined): boolean {
  if (!actual) return Object.keys(desired).length === 0;
  return Object.entries(desired).every(([key, value]) => valueSatisfied(value, actual[key]));
}

/** Keys of `desired` that `actual` does not satisfy: named in summaries. */
export function differingKeys(desired: Record<string, unknown>, actual: Record<string, unknown> | undefined): string[] {
  return Object.keys(desired)
    .filter((key) => !valueSatisfied(desired[key], actual?.[key]))
    .sort();
}

/** Names appearing more than once: a list-map in the CRD forbids them, a hand-edited list may not. */
export function duplicates(ids: string[]): string[] {
  const seen = new Set<string>();
  const dup = new Set<string>();
  for (const id of ids) (seen.has(id) ? dup : seen).add(id);
  return [...dup];
}
