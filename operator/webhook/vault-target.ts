// Where a pod reaches its target Vault: the address and the CA, read from the
// `Vault` resource (I/O edge; the endpoint rule itself is
// api/vault-endpoint.ts, shared with the Vault controller, so both agree).

import type { CoreV1Api, CustomObjectsApi } from '@kubernetes/client-node';
import { errorCode } from '../framework/index.js';
import { API_GROUP, API_VERSION } from '../api/naming.js';
import { VAULT_PLURAL, type VaultResource } from '../api/vault.js';
import { vaultEndpoint } from '../api/vault-endpoint.js';
import type { VaultRef } from './annotations.js';

export type ResolvedVault =
  | { found: true; address: string; caPem?: string }
  | { found: false; message: string };

export type VaultResolver = (ref: VaultRef) => Promise<ResolvedVault>;

/** Reads the Vault resource and its CA. Transient API errors throw (the server answers 500 and failurePolicy applies). */
export function kubeVaultResolver(kube: { custom: CustomObjectsApi; core: CoreV1Api }): VaultResolver {
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
    const endpoint = vaultEndpoint(vault);
    if (endpoint.address.startsWith('http://')) return { found: true, address: endpoint.address };
    if (endpoint.caCert) return { found: true, address: endpoint.address, caPem: endpoint.caCert };
    if (!endpoint.caSecretName) return { found: true, address: endpoint.address }; // external Vault with a publicly trusted certificate
    try {
      const secret = await kube.core.readNamespacedSecret({ name: endpoint.caSecretName, namespace: ref.namespace });
      const ca = secret.data?.['ca.crt'];
      if (!ca) return { found: false, message: `Vault ${ref.namespace}/${ref.name}: Secret ${endpoint.caSecretName} has no ca.crt yet` };
      return { found: true, address: endpoint.address, caPem: Buffer.from(ca, 'base64').toString('utf8') };
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
    // Only positive answers are cached: a Vault created a moment ago must be usable at once.
    if (value.found) cache.set(key, { at: now(), value });
    else cache.delete(key);
    return value;
  };
}
