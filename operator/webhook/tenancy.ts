// Admission decisions that keep a pod inside its tenancy (pure): the Vault a
// pod names must admit the pod's namespace (the same rule annotated
// ServiceAccounts and KMSVaultSecrets follow, api/self-service.ts), and an
// external Vault must be one the operator trusts before its address and CA
// go into the pod.
import { namespaceNotServed } from '../api/self-service.js';
import type { ResolvedVault } from './vault-target.js';

/** Pure: why this pod may not use this Vault, or undefined. The message says what to change. */
export function podVaultRefusal(
  resolved: Extract<ResolvedVault, { found: true }>,
  namespace: string,
  labels: Record<string, string>,
  opts: { annotationPrefix: string; byDefault: boolean },
): string | undefined {
  const annotation = `${opts.annotationPrefix}vault`;
  const which = opts.byDefault ? `the operator's default Vault (the pod has no ${annotation} annotation)` : `the Vault named by ${annotation}`;
  const notServed = namespaceNotServed(resolved.vault, namespace, labels);
  if (notServed) {
    return `${annotation}: ${notServed}. The pod was refused: ${which} must admit namespace ${namespace} first — its owners add it to spec.selfService.namespaces (from: Selector with a label of this namespace, or All) — or set ${annotation} to a Vault that serves this namespace.`;
  }
  if (resolved.untrusted) {
    return `${annotation}: ${resolved.untrusted}. The pod was refused: the webhook points pods only at external Vaults the operator trusts.`;
  }
  return undefined;
}
