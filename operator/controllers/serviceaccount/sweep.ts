// Vault-side cleanup, instead of a finalizer on ServiceAccounts: a finalizer
// there would keep every annotated ServiceAccount (and so its namespace) in
// Terminating once the operator is uninstalled. Instead the ServiceAccounts a
// `Vault` resource serves (spec.serviceAccountRoles) are compared with
// the ServiceAccounts that exist: an entry whose ServiceAccount is gone or no
// longer asks for a role is removed (a ServiceAccount that moved to another
// Vault is moved by its own reconcile, from its applied-vault record). Runs when a
// ServiceAccount is deleted, when the operator starts (deletions while it was
// down) and every resync. Pure; the controller does the I/O.
import { cappedMessages } from '../../framework/index.js';
import { parseEntryName } from './compact.js';
import { decideIntent, heldRoleNames, type EntryChange, type ServiceAccountLike, type VaultResourceLike } from './desired.js';
import type { ServiceAccountSettings } from './settings.js';

export { parseEntryName } from './compact.js';

/**
 * Removals for the entries of ServiceAccounts that no longer want them in
 * this `Vault`. `lookup` answers from the operator's ServiceAccount cache
 * (only call this once that cache has listed); `inScope` leaves out
 * namespaces this operator does not watch.
 */
export function orphanedEntries(
  vault: VaultResourceLike,
  manager: string,
  settings: ServiceAccountSettings,
  lookup: (namespace: string, name: string) => ServiceAccountLike | undefined,
  inScope: (namespace: string) => boolean,
): EntryChange[] {
  const names = heldRoleNames(vault, manager);
  const out: EntryChange[] = [];
  for (const entry of [...names].sort()) {
    const who = parseEntryName(entry);
    if (!who || !inScope(who.namespace)) continue;
    const sa = lookup(who.namespace, who.name);
    if (sa && decideIntent(sa, settings).kind === 'configure') continue;
    out.push({ serviceAccount: `${who.namespace}/${who.name}`, roleName: entry, policyName: entry, entries: null });
  }
  return out;
}

/** Removed Events naming one removal each, per sweep; the rest are counted in one more. */
export const MAX_REMOVAL_EVENTS = 20;

/** Pure: the Removed Events of one sweep of a `Vault` resource (the framework's cappedMessages). */
export function removalEventMessages(messages: readonly string[], max = MAX_REMOVAL_EVENTS): string[] {
  return cappedMessages(messages, max, (m) => m, (others) => `and the roles and policies of ${others.length} more ServiceAccounts, which no longer ask for them here (the operator's log names each)`);
}
