// What the operator knows Vault holds, so a pass does not read back every
// role and policy. Measured before: each pass read all of them (one GET
// each: 2,000 at 1,000 ServiceAccounts), a burst cost several such passes,
// and 1,000 removals took 282 s.
//
// The ledger holds, per role and policy of a `Vault` resource, a digest of
// what the operator last wrote or read back there. A pass LISTs the role and
// policy names once and reads (GET) only entries that are new to the ledger
// or whose desired content differs from it: a name missing from the LIST is
// written again (a role deleted by hand is back at the next resync), a
// removed one is deleted without reading it first. Every drift-check
// interval a pass reads everything, so an entry edited by hand is repaired
// within it. The ledger lives in memory; across a restart only a digest of
// the configuration last applied in full survives (status.configDigest, no
// values): with the same configuration, every listed entry counts as
// applied and the restarted operator lists Vault instead of reading it.
// Pure but for the map.
import { createHash } from 'node:crypto';
import { canonicalJson } from '../../framework/index.js';
import { keyOf, roleId } from '../../vault/auth.js';
import type { ApplyResult, Plan } from '../../vault/config-plan.js';
import type { DesiredVaultConfig } from './configure.js';

/** The digest of a configuration (keys sorted: the record read back from the apiserver has its keys in another order than the one just written). */
export function configDigest(parts: unknown): string {
  return createHash('sha256').update(canonicalJson(parts)).digest('hex');
}

/** What the operator knows Vault holds for a Vault resource: entry key -> digest of its content, and when Vault was last read in full. */
export interface ConfigLedger {
  entries: Map<string, string>;
  fullReadAt: number;
}

/** The ledger's key of a role (its roleId, `<auth path>/<entry key>`) or a policy. */
export const ledgerKey = (concern: 'role' | 'policy', id: string): string => `${concern}\u0000${id}`;

/** Whether this pass reads every entry: no ledger, no interval, or the interval passed. */
export function fullReadDue(ledger: ConfigLedger | undefined, nowMs: number, intervalMs: number | undefined): boolean {
  return !ledger || !intervalMs || nowMs - ledger.fullReadAt >= intervalMs;
}

/** Ledger key -> digest of the desired content, for every role and policy. */
export function entryDigests(desired: DesiredVaultConfig): Map<string, string> {
  const out = new Map<string, string>();
  for (const auth of desired.auth) for (const role of auth.roles) out.set(ledgerKey('role', roleId(auth.path, keyOf(role))), configDigest([auth.type, role.params]));
  for (const policy of desired.policies) out.set(ledgerKey('policy', policy.name), configDigest(policy.rules));
  return out;
}

/** Keys a pass did not settle: entries with a problem, failed changes, the roles of an auth mount with a problem. */
export function unsettledKeys(desired: DesiredVaultConfig, plan: Plan, result: ApplyResult): Set<string> {
  const out = new Set<string>();
  const mark = (concern: string, id: string) => {
    if (concern === 'role' || concern === 'policy') out.add(ledgerKey(concern, id));
    if (concern === 'auth') for (const role of desired.auth.find((a) => a.path === id)?.roles ?? []) out.add(ledgerKey('role', roleId(id, keyOf(role))));
  };
  for (const p of plan.problems) mark(p.concern, p.id);
  for (const f of result.failed) mark(f.change.concern, f.change.id);
  return out;
}

/** The ledger after a pass: every desired entry it settled (wrote, or read back satisfied, or listed and known). */
export function nextLedger(digests: ReadonlyMap<string, string>, unsettled: ReadonlySet<string>, fullReadAt: number): ConfigLedger {
  const entries = new Map<string, string>();
  for (const [key, digest] of digests) if (!unsettled.has(key)) entries.set(key, digest);
  return { entries, fullReadAt };
}

const ledgers = new WeakMap<object, Map<string, ConfigLedger>>();

/** One set of ledgers per controller (keyed by its deps object), one ledger per `Vault` uid. */
export function ledgersFor(owner: object): Map<string, ConfigLedger> {
  let map = ledgers.get(owner);
  if (!map) ledgers.set(owner, (map = new Map()));
  return map;
}
