// Where a pod reaches its target Vault: the address and the CA, read from the
// `Vault` resource (I/O edge; the endpoint rule itself is
// api/vault-endpoint.ts, shared with the Vault controller, so both agree),
// plus what the admission decisions need: the Vault's self-service rule and,
// for an external Vault, whether the platform trusts its address.

import type { CoreV1Api, CustomObjectsApi } from '@kubernetes/client-node';
import { errorCode } from '../framework/index.js';
import { API_GROUP, API_VERSION } from '../api/naming.js';
import type { SelfServiceVault } from '../api/self-service.js';
import { VAULT_PLURAL, type VaultResource } from '../api/vault.js';
import { vaultEndpoint } from '../api/vault-endpoint.js';
import { NO_EXTERNAL_VAULTS, vaultTrustDecision, type ExternalVaultTrust } from '../controllers/vault/trust.js';
import type { VaultRef } from './annotations.js';

export type ResolvedVault =
  | {
      found: true;
      /** Only what the namespace decision reads (not the whole resource: a Vault with 1,000 ServiceAccounts is ~700 KB). */
      vault: SelfServiceVault;
      /** Set when the Vault is external and its address is not one the platform allows: nothing of it is injected. */
      untrusted?: string;
      address: string;
      caPem?: string;
    }
  | { found: false; message: string };

export type VaultResolver = (ref: VaultRef) => Promise<ResolvedVault>;

/** Labels of a namespace (a Vault's self-service selector matches them). */
export type NamespaceLabels = (namespace: string) => Promise<Record<string, string>>;

/** Pure: the part of a Vault resource the admission decision keeps. */
export function selfServiceOf(vault: VaultResource): SelfServiceVault {
  const namespaces = vault.spec.selfService?.namespaces;
  return {
    metadata: { namespace: vault.metadata?.namespace ?? '', name: vault.metadata?.name ?? '' },
    spec: namespaces ? { selfService: { namespaces } } : {},
  };
}

/**
 * Reads the Vault resource and its CA. Transient API errors throw (the server
 * answers 500 and failurePolicy applies). An external Vault must pass the
 * operator's trust decision (trust.ts) before its address or CA is handed to a pod.
 */
export function kubeVaultResolver(kube: { custom: CustomObjectsApi; core: CoreV1Api }, trust: ExternalVaultTrust = NO_EXTERNAL_VAULTS): VaultResolver {
  return async (ref) => {
    let vault: VaultResource;
    try {
      vault = (await kube.custom.getNamespacedCustomObject({
        group: API_GROUP,
        version: API_VERSION,
        namespace: ref.namespace,
        plural: VAULT_PLURAL,
        name: ref.name,
      })) as VaultResource;
    } catch (err) {
      if (errorCode(err) === 404) return { found: false, message: `Vault ${ref.namespace}/${ref.name} does not exist` };
      throw err;
    }
    const base = { found: true as const, vault: selfServiceOf(vault) };
    const trusted = vaultTrustDecision(vault, trust);
    if (!trusted.ok) return { ...base, address: '', untrusted: `Vault ${ref.namespace}/${ref.name} (${trusted.reason}): ${trusted.message}` };
    const endpoint = vaultEndpoint(vault);
    if (endpoint.address.startsWith('http://')) return { ...base, address: endpoint.address };
    if (endpoint.caCert) return { ...base, address: endpoint.address, caPem: endpoint.caCert };
    if (!endpoint.caSecretName) return { ...base, address: endpoint.address }; // external Vault with a publicly trusted certificate
    try {
      const secret = await kube.core.readNamespacedSecret({ name: endpoint.caSecretName, namespace: ref.namespace });
      const ca = secret.data?.['ca.crt'];
      if (!ca) return { found: false, message: `Vault ${ref.namespace}/${ref.name}: Secret ${endpoint.caSecretName} has no ca.crt yet` };
      return { ...base, address: endpoint.address, caPem: Buffer.from(ca, 'base64').toString('utf8') };
    } catch (err) {
      if (errorCode(err) === 404) return { found: false, message: `Vault ${ref.namespace}/${ref.name}: its TLS Secret ${endpoint.caSecretName} does not exist yet` };
      throw err;
    }
  };
}

/** Remembers answers for `ttlMs` so the admission path does not call the apiserver for every pod. */
export function cachedResolver(inner: VaultResolver, ttlMs: number, now: () => number = Date.now): VaultResolver {
  const cache = new Map<string, { at: number; value: ResolvedVault }>();
  return async (ref) => {
    const key = `${ref.namespace}/${ref.name}`;
    const hit = cache.get(key);
    if (hit && now() - hit.at < ttlMs) return hit.value;
    const value = await inner(ref);
    // Only usable answers are cached: a Vault created or approved a moment ago must be usable at once.
    if (value.found && !value.untrusted) cache.set(key, { at: now(), value });
    else cache.delete(key);
    return value;
  };
}

/** Reads a namespace's labels. Namespaces are cluster-scoped: a tenant with `edit` cannot relabel their own. */
export function kubeNamespaceLabels(core: CoreV1Api): NamespaceLabels {
  return async (namespace) => (await core.readNamespace({ name: namespace })).metadata?.labels ?? {};
}

/** Remembers labels for `ttlMs` (a relabelled namespace counts on the next look after that). */
export function cachedNamespaceLabels(inner: NamespaceLabels, ttlMs: number, now: () => number = Date.now): NamespaceLabels {
  const cache = new Map<string, { at: number; labels: Record<string, string> }>();
  return async (namespace) => {
    const hit = cache.get(namespace);
    if (hit && now() - hit.at < ttlMs) return hit.labels;
    const labels = await inner(namespace);
    cache.set(namespace, { at: now(), labels });
    return labels;
  };
}
