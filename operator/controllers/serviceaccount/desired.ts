// The plan of one ServiceAccount reconcile: which `Vault` resources to read,
// what to remove where, what to apply, and what to record — from the intent
// (intent.ts), what the resources hold (vault-entries.ts) and the one apply
// per resource (collective-apply.ts). Pure; no I/O here.
import { serviceAccountPolicyName, serviceAccountRoleName } from '../../api/naming.js';
import { ServiceAccountAnnotation } from '../../api/serviceaccount.js';
import { databasePolicyRules, desiredDatabase, type DatabaseProblem } from './database.js';
import type { EntryChange } from './collective-apply.js';
import { annotationName, decideIntent, removalTargets, type Intent, type ServiceAccountEntries, type ServiceAccountLike } from './intent.js';
import { capRefusal, countNamespaceRoles, namespaceRefusal, type Refusal } from './self-service.js';
import { formatVaultRef, type ServiceAccountSettings, type VaultRef } from './settings.js';
import { heldRoleNames } from './collective-apply.js';
import { holdsEntries, type VaultResourceLike } from './vault-entries.js';

// the plan's parts live in their own modules; importers keep using this one
export * from './collective-apply.js';
// withServiceAccountRoles has one import path, compact.js (the Vault controller renders with it)
export { compactEntry, headerOf, parseEntryName, renderEntry, storedEntries, withDatabaseRules, type RolesHeader } from './compact.js';
export * from './intent.js';
export * from './vault-entries.js';

/** The `Vault` resources a reconcile must read before planning: removal targets, then the target. */
export function vaultsToRead(
  sa: ServiceAccountLike,
  intent: Intent,
  settings: ServiceAccountSettings,
  finalizerName: string,
  lastApplied?: VaultRef,
): VaultRef[] {
  const refs = removalTargets(sa, intent, settings, finalizerName, lastApplied);
  if (intent.kind === 'configure') refs.push(intent.target);
  return refs;
}

/** Everything one reconcile of a ServiceAccount should do, in order. */
export interface ServiceAccountPlan {
  intent: Intent;
  /**
   * ServiceAccounts carry no finalizer (their namespace must never wait for the
   * operator; sweep.ts cleans up the Vault side instead): one an earlier
   * version added is removed once this pass succeeded
   */
  finalizer: 'remove' | undefined;
  /** resources to take this ServiceAccount's entries out of (the manager owns some there) */
  removals: EntryChangeAt[];
  /** the change that puts its entries into the target; absent when already there or impossible */
  apply: EntryChangeAt | undefined;
  /** the target `Vault` resource does not exist (or is being deleted): retry later */
  targetMissing: VaultRef | undefined;
  /** new value of the applied-vault annotation: a ref, `null` to remove it, `undefined` to leave it */
  appliedVault: string | null | undefined;
  /** database credentials were asked for and refused: said in a Warning Event; the rest goes ahead */
  databaseRefused?: DatabaseProblem;
  /** the target Vault does not serve this namespace, or its cap is reached: nothing is written there */
  selfServiceRefused?: Refusal;
}

/**
 * The entries with the database role the target Vault grants (and the policy
 * line to read its credentials), or the entries alone and why not.
 */
export function withDatabase(
  sa: ServiceAccountLike,
  entries: ServiceAccountEntries,
  settings: ServiceAccountSettings,
  vault: VaultResourceLike,
  vaultRef: string,
): { entries: ServiceAccountEntries; refused?: DatabaseProblem } {
  const meta = sa.metadata ?? {};
  const decision = desiredDatabase(meta.namespace ?? '', meta.name ?? '', meta.annotations, settings, vault, vaultRef);
  if (!decision) return { entries };
  if ('problem' in decision) return { entries, refused: decision.problem };
  const policy = { ...entries.policy, rules: `${entries.policy.rules.replace(/\n*$/, '\n')}${databasePolicyRules(decision.entry)}` };
  return { entries: { ...entries, policy, database: decision.entry } };
}

export interface EntryChangeAt {
  target: VaultRef;
  change: EntryChange;
}

/**
 * Plan one reconcile from the ServiceAccount and the `Vault` resources read
 * for it (`null` = not found). Every step is skipped when its effect is
 * already there, so a ServiceAccount in sync plans nothing.
 */
export function planServiceAccount(
  sa: ServiceAccountLike,
  settings: ServiceAccountSettings,
  vaults: ReadonlyMap<string, VaultResourceLike | null>,
  finalizerName: string,
  manager: string,
  /** labels of the ServiceAccount's namespace (needed only when the target admits by selector) */
  namespaceLabels: Record<string, string> = {},
  /** where this process last put the entries (see removalTargets) */
  lastApplied?: VaultRef,
): ServiceAccountPlan {
  const intent = decideIntent(sa, settings);
  const namespace = sa.metadata?.namespace ?? '';
  const name = sa.metadata?.name ?? '';
  const roleName = serviceAccountRoleName(namespace, name);
  const policyName = serviceAccountPolicyName(namespace, name);
  const serviceAccount = `${namespace}/${name}`;
  const hasFinalizer = (sa.metadata?.finalizers ?? []).includes(finalizerName);
  const deleting = Boolean(sa.metadata?.deletionTimestamp);
  const appliedKey = annotationName(settings, ServiceAccountAnnotation.AppliedVault);
  const recorded = sa.metadata?.annotations?.[appliedKey];

  const removals: EntryChangeAt[] = [];
  for (const target of removalTargets(sa, intent, settings, finalizerName, lastApplied)) {
    const vault = vaults.get(formatVaultRef(target));
    if (vault && heldRoleNames(vault, manager).has(roleName)) {
      removals.push({ target, change: { serviceAccount, roleName, policyName, entries: null } });
    }
  }

  if (intent.kind === 'unconfigure') {
    return {
      intent,
      finalizer: hasFinalizer ? 'remove' : undefined,
      removals,
      apply: undefined,
      targetMissing: undefined,
      // a ServiceAccount being deleted needs no annotation write
      appliedVault: recorded !== undefined && !deleting ? null : undefined,
    };
  }

  const targetKey = formatVaultRef(intent.target);
  const vault = vaults.get(targetKey) ?? null;
  const missing = vault === null || Boolean(vault.metadata?.deletionTimestamp);
  // a Vault that does not (or no longer) serve this namespace gets nothing, and loses what it had of it
  const refused = missing || !vault ? undefined : admission(vault, namespace, namespaceLabels, roleName, manager, `${describeOwed(roleName)}`);
  if (refused && vault) {
    const owns = heldRoleNames(vault, manager).has(roleName);
    const already = removals.some((r) => formatVaultRef(r.target) === targetKey);
    return {
      intent,
      finalizer: hasFinalizer ? 'remove' : undefined,
      removals: owns && !already ? [...removals, { target: intent.target, change: { serviceAccount, roleName, policyName, entries: null } }] : removals,
      apply: undefined,
      targetMissing: undefined,
      appliedVault: recorded !== undefined && !deleting ? null : undefined,
      selfServiceRefused: refused,
    };
  }
  const owed = missing ? { entries: intent.entries } : withDatabase(sa, intent.entries, settings, vault, targetKey);
  const inSync = !missing && holdsEntries(vault, owed.entries, manager);
  return {
    intent: { ...intent, entries: owed.entries },
    finalizer: hasFinalizer ? 'remove' : undefined,
    removals,
    apply: missing || inSync ? undefined : { target: intent.target, change: { serviceAccount, roleName, policyName, entries: owed.entries } },
    targetMissing: missing ? intent.target : undefined,
    appliedVault: missing || recorded === targetKey ? undefined : targetKey,
    ...(owed.refused ? { databaseRefused: owed.refused } : {}),
  };
}

function describeOwed(roleName: string): string {
  return `The role and policy ${roleName}`;
}

/** Pure: namespace admission, then the per-namespace cap (counted over the ServiceAccounts the resource serves). */
export function admission(
  vault: VaultResourceLike & { metadata?: { namespace?: string; name?: string } },
  namespace: string,
  labels: Record<string, string>,
  roleName: string,
  manager: string,
  what: string,
): Refusal | undefined {
  const refused = namespaceRefusal(vault, namespace, labels, what);
  if (refused) return refused;
  const names = heldRoleNames(vault, manager);
  // already configured: never refused by the cap (a cap lowered later does not evict)
  if (names.has(roleName)) return undefined;
  return capRefusal(vault, namespace, countNamespaceRoles(names, namespace, roleName));
}
