// Which namespaces may self-serve from a `Vault` (pure). Like Gateway API's
// allowedRoutes: a Vault admits its own namespace by default, every namespace
// only when it says so, or the namespaces its label selector matches. Shared
// by every lifecycle that acts for a tenant (annotated ServiceAccounts, the
// pod webhook, KMSVaultSecrets), so it lives in api/: one rule, one text.
import { SelfServiceFrom, type LabelSelector, type SelfServiceSpec } from './vault.js';

export interface SelfServiceVault {
  metadata?: { namespace?: string; name?: string };
  spec?: { selfService?: SelfServiceSpec };
}

/** Pure: Kubernetes label-selector semantics (matchLabels AND every matchExpression). */
export function matchesSelector(selector: LabelSelector | undefined, labels: Record<string, string>): boolean {
  if (!selector) return false;
  for (const [k, v] of Object.entries(selector.matchLabels ?? {})) if (labels[k] !== v) return false;
  for (const e of selector.matchExpressions ?? []) {
    const has = Object.prototype.hasOwnProperty.call(labels, e.key);
    const values = e.values ?? [];
    switch (e.operator) {
      case 'In':
        if (!has || !values.includes(labels[e.key]!)) return false;
        break;
      case 'NotIn':
        if (has && values.includes(labels[e.key]!)) return false;
        break;
      case 'Exists':
        if (!has) return false;
        break;
      case 'DoesNotExist':
        if (has) return false;
        break;
      default:
        return false;
    }
  }
  return true;
}

/** Whether the namespace's labels are needed to decide (only for `from: Selector`). */
export function needsNamespaceLabels(vault: SelfServiceVault): boolean {
  return (vault.spec?.selfService?.namespaces?.from ?? SelfServiceFrom.Same) === SelfServiceFrom.Selector;
}

/** Pure: may `namespace` self-serve from this Vault? `labels` of that namespace (only read for Selector). */
export function admitsNamespace(vault: SelfServiceVault, namespace: string, labels: Record<string, string> = {}): boolean {
  if (namespace === vault.metadata?.namespace) return true;
  const rule = vault.spec?.selfService?.namespaces;
  switch (rule?.from ?? SelfServiceFrom.Same) {
    case SelfServiceFrom.All:
      return true;
    case SelfServiceFrom.Selector:
      return matchesSelector(rule?.selector, labels);
    default:
      return false;
  }
}

export function formatVaultName(vault: SelfServiceVault): string {
  return `${vault.metadata?.namespace ?? ''}/${vault.metadata?.name ?? ''}`;
}

/**
 * Pure: undefined when the Vault admits the namespace, else the first half of
 * every refusal: which Vault, which namespace, and which of its rules said no
 * (so the platform team knows what to change).
 */
export function namespaceNotServed(vault: SelfServiceVault, namespace: string, labels: Record<string, string> = {}): string | undefined {
  if (admitsNamespace(vault, namespace, labels)) return undefined;
  const from = vault.spec?.selfService?.namespaces?.from ?? SelfServiceFrom.Same;
  const rule =
    from === SelfServiceFrom.Selector
      ? 'its spec.selfService.namespaces.selector does not match this namespace'
      : 'it admits only its own namespace (spec.selfService.namespaces.from: Same, the default)';
  return `Vault ${formatVaultName(vault)} does not serve namespace ${namespace}: ${rule}`;
}
