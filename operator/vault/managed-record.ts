// The record of what the operator applied to Vault, so that entries removed
// from the spec are removed from Vault and nothing else ever is.
//
// Where it lives: the Vault resource's `status.managed` (names only, never
// values). It survives operator restarts and leader changes (it is in etcd),
// it goes away with the resource, and `kubectl get vault -o yaml` shows it.
// The controller writes it twice around an apply: before (the union of what
// was managed and what is about to be created, so a crash between the Vault
// write and the status write cannot orphan an entry) and after (what is
// desired plus removals that failed, so they are retried).
import type { ManagedRecord } from '../api/vault.js';
import type { ApplyResult, Concern, Problem } from './config-plan.js';

export const RECORD_KEYS = ['policies', 'auth', 'roles', 'secrets', 'audit', 'engineConfig', 'groups', 'groupAliases', 'startupSecrets', 'plugins'] as const;
export type RecordKey = (typeof RECORD_KEYS)[number];

const CONCERN_KEY: Partial<Record<Concern, RecordKey>> = { policy: 'policies', auth: 'auth', role: 'roles', secret: 'secrets', audit: 'audit', config: 'engineConfig', group: 'groups', 'group-alias': 'groupAliases', 'startup-secret': 'startupSecrets', plugin: 'plugins' };

export type RecordSets = Record<RecordKey, Set<string>>;

function emptySets(): RecordSets {
  return { policies: new Set(), auth: new Set(), roles: new Set(), secrets: new Set(), audit: new Set(), engineConfig: new Set(), groups: new Set(), groupAliases: new Set(), startupSecrets: new Set(), plugins: new Set() };
}

export function toSets(record: ManagedRecord | undefined): RecordSets {
  const sets = emptySets();
  for (const key of RECORD_KEYS) for (const id of record?.[key] ?? []) sets[key].add(id);
  return sets;
}

/** Sorted lists, empty lists left out: the same content always serialises the same. */
export function fromSets(sets: RecordSets): ManagedRecord {
  const record: ManagedRecord = {};
  for (const key of RECORD_KEYS) if (sets[key].size) record[key] = [...sets[key]].sort();
  return record;
}

export function union(a: ManagedRecord | undefined, b: ManagedRecord | undefined): ManagedRecord {
  const sets = toSets(a);
  for (const key of RECORD_KEYS) for (const id of b?.[key] ?? []) sets[key].add(id);
  return fromSets(sets);
}

/**
 * Desired ids minus entries with problems (a problem often means the path
 * belongs to someone else), plus previously managed entries that still have a
 * problem, plus removals that failed.
 */
export function nextRecord(previous: ManagedRecord | undefined, desired: ManagedRecord, problems: Problem[], result: ApplyResult): ManagedRecord {
  const prev = toSets(previous);
  const sets = toSets(desired);
  for (const problem of problems) {
    const key = CONCERN_KEY[problem.concern];
    if (key && !prev[key].has(problem.id)) sets[key].delete(problem.id);
  }
  for (const { change } of result.failed) {
    const key = CONCERN_KEY[change.concern];
    if (key && change.action === 'delete') sets[key].add(change.id);
  }
  return fromSets(sets);
}

export function sameRecord(a: ManagedRecord | undefined, b: ManagedRecord | undefined): boolean {
  return JSON.stringify(fromSets(toSets(a))) === JSON.stringify(fromSets(toSets(b)));
}
