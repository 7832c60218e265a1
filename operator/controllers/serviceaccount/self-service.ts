// Who may self-serve from a `Vault` (pure). Which namespaces a Vault admits
// is api/self-service.ts (shared with the webhook). A per-namespace cap and a ceiling on
// the resource's size keep one tenant from filling a Vault everyone shares.
import { ServiceAccountReason } from '../../api/serviceaccount.js';
import { formatVaultName, namespaceNotServed, type SelfServiceVault } from '../../api/self-service.js';

// the namespace rule is shared with the pod webhook and KMSVaultSecrets
export { admitsNamespace, matchesSelector, needsNamespaceLabels, type SelfServiceVault } from '../../api/self-service.js';

/** ServiceAccounts of one namespace configured in one Vault, unless spec.selfService.maxServiceAccountsPerNamespace says otherwise. */
export const DEFAULT_MAX_SERVICE_ACCOUNTS_PER_NAMESPACE = 250;
/**
 * Serialized size of a `Vault` resource beyond which no ServiceAccount entry
 * is added (etcd refuses objects over ~1.5 MiB; this leaves room for
 * hand-written configuration, status and managed fields).
 */
export const VAULT_SIZE_CEILING_BYTES = 900 * 1024;

export interface Refusal {
  reason: ServiceAccountReason;
  message: string;
}

/** Pure: the refusal for a namespace the Vault does not admit (message says what the platform team must change). */
export function namespaceRefusal(vault: SelfServiceVault, namespace: string, labels: Record<string, string>, what: string): Refusal | undefined {
  const notServed = namespaceNotServed(vault, namespace, labels);
  if (!notServed) return undefined;
  return {
    reason: ServiceAccountReason.SelfServiceRefused,
    message: `${notServed}. ${what} was not configured; ask the Vault's owners to admit the namespace, or name another Vault.`,
  };
}

/**
 * Pure: the cap of one namespace. `configured` = role names of that namespace
 * the ServiceAccount manager already keeps in the Vault (without this one).
 */
export function capRefusal(vault: SelfServiceVault, namespace: string, configuredOthers: number): Refusal | undefined {
  const cap = vault.spec?.selfService?.maxServiceAccountsPerNamespace ?? DEFAULT_MAX_SERVICE_ACCOUNTS_PER_NAMESPACE;
  if (configuredOthers < cap) return undefined;
  return {
    reason: ServiceAccountReason.SelfServiceRefused,
    message: `namespace ${namespace} already has ${configuredOthers} ServiceAccounts configured in Vault ${formatVaultName(vault)}, its cap (spec.selfService.maxServiceAccountsPerNamespace: ${cap}); nothing was written. Remove the annotation from a ServiceAccount you no longer need, or ask the Vault's owners to raise the cap.`,
  };
}

/**
 * Pure: which additions the per-namespace cap admits, decided on the very
 * copy of the `Vault` the apply is computed from and sent with (its
 * resourceVersion guards the write). So concurrent ServiceAccounts, or two
 * writers, cannot each see room for one more: a 409 recomputes, and the cap
 * is counted again. `held` = role names the ServiceAccount manager keeps
 * there; a change to an entry already held, and a removal, always fit.
 */
export function fitUnderCap<T extends { serviceAccount: string; roleName: string; entries: unknown | null }>(
  vault: SelfServiceVault,
  held: ReadonlySet<string>,
  changes: readonly T[],
): { fits: T[]; refused: Array<{ change: T; refusal: Refusal }> } {
  const added = new Map<string, number>();
  const fits: T[] = [];
  const refused: Array<{ change: T; refusal: Refusal }> = [];
  for (const c of changes) {
    if (c.entries === null || held.has(c.roleName)) {
      fits.push(c);
      continue;
    }
    const namespace = c.serviceAccount.split('/')[0] ?? '';
    const configured = countNamespaceRoles(held, namespace, c.roleName) + (added.get(namespace) ?? 0);
    const refusal = capRefusal(vault, namespace, configured);
    if (refusal) refused.push({ change: c, refusal });
    else {
      added.set(namespace, (added.get(namespace) ?? 0) + 1);
      fits.push(c);
    }
  }
  return { fits, refused };
}

/** Pure: the size ceiling, checked on the whole apply before it is sent: all of it or none. */
export function sizeRefusal(vault: SelfServiceVault, bytes: number, ceiling = VAULT_SIZE_CEILING_BYTES): Refusal | undefined {
  if (bytes <= ceiling) return undefined;
  return {
    reason: ServiceAccountReason.VaultFull,
    message: `Vault ${formatVaultName(vault)} would grow to ${bytes} bytes, past the ${ceiling}-byte ceiling the operator keeps below etcd's object limit; nothing was written for the ServiceAccounts in this batch. Remove unused ServiceAccount annotations, or spread namespaces over more Vaults.`,
  };
}

/** Pure: how many roles of `namespace` (named sa.<namespace>.<name>) a list of role names holds, minus `self`. */
export function countNamespaceRoles(roleNames: Iterable<string>, namespace: string, self: string): number {
  let n = 0;
  const prefix = `sa.${namespace}.`;
  for (const r of roleNames) if (r.startsWith(prefix) && r !== self) n++;
  return n;
}

/**
 * Pure: which additions fit under the ceiling, in order. The growth of an
 * addition is counted twice (the compact entry, and the role and policy ids
 * the Vault lifecycle records in status.managed); a
 * change that only removes always fits. Each ServiceAccount's role and policy
 * go together or not at all.
 */
export function fitUnderCeiling<T extends { entries: unknown | null; present?: boolean }>(
  currentBytes: number,
  changes: readonly T[],
  ceiling = VAULT_SIZE_CEILING_BYTES,
): { fits: T[]; refused: Array<{ change: T; bytes: number }> } {
  let bytes = currentBytes;
  const fits: T[] = [];
  const refused: Array<{ change: T; bytes: number }> = [];
  for (const c of changes) {
    if (c.entries === null || c.present) {
      fits.push(c);
      continue;
    }
    const growth = 2 * JSON.stringify(c.entries).length;
    if (bytes + growth > ceiling) refused.push({ change: c, bytes: bytes + growth });
    else {
      bytes += growth;
      fits.push(c);
    }
  }
  return { fits, refused };
}
