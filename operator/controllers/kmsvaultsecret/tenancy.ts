// Tenancy checks of a KMSVaultSecret before anything is decrypted or
// written: the ciphertext's namespace binding and where in Vault it may write. Pure.
import { KmsVaultSecretReason, NAMESPACE_CONTEXT_KEY } from '../../api/kmsvaultsecret.js';
import { logicalPath, type KvLocation } from '../../vault/kv.js';
import type { Failure } from './failure.js';
import type { PlannedKey } from './plan.js';
import { PathPolicy } from './settings.js';

/** Pure: may ciphertext sealed without a namespace be used in this namespace (migration setting)? */
export function acceptsUnbound(namespace: string, legacyNamespaces: readonly string[]): boolean {
  return legacyNamespaces.includes('*') || legacyNamespaces.includes(namespace);
}

/**
 * Tenancy of ciphertext, before any KMS call: every key's encryption context
 * must name the object's namespace. KMS refuses a ciphertext under any other
 * context, so a blob copied from another namespace cannot be relabelled; the
 * only way to use it here is for its context to say it belongs elsewhere,
 * which is what this refuses. Keys with no namespace entry (sealed before the
 * binding) pass only in the legacy namespaces the operator lists.
 */
export function checkNamespaceBinding(keys: readonly PlannedKey[], namespace: string, legacyNamespaces: readonly string[]): Failure | undefined {
  const foreign: string[] = [];
  const unbound: string[] = [];
  for (const k of keys) {
    if (k.entry.emptySecret) continue;
    const bound = k.context?.[NAMESPACE_CONTEXT_KEY];
    if (bound === undefined) {
      if (!acceptsUnbound(namespace, legacyNamespaces)) unbound.push(`"${k.key}" (${k.source})`);
    } else if (bound !== namespace) foreign.push(`"${k.key}" (${k.source}) was sealed for namespace "${bound}"`);
  }
  if (!foreign.length && !unbound.length) return undefined;
  const parts: string[] = [];
  if (foreign.length) parts.push(`${foreign.join(', ')}, not "${namespace}": ciphertext is only used in the namespace it was sealed for`);
  if (unbound.length) {
    parts.push(
      `${unbound.join(', ')} ${unbound.length === 1 ? 'has' : 'have'} no ${NAMESPACE_CONTEXT_KEY} in the encryption context (sealed before namespace binding)`,
    );
  }
  return {
    reason: KmsVaultSecretReason.NamespaceMismatch,
    message: `${parts.join('; ')}; seal again with vault-autopilot seal --namespace ${namespace}`,
    transient: false,
  };
}

/** Tenancy: under the namespace policy an object in N may only write below `<mount>/N/`. */
export function checkTenancy(loc: KvLocation, namespace: string, policy: PathPolicy): Failure | undefined {
  if (policy === PathPolicy.Any) return undefined;
  if (loc.secretPath.startsWith(`${namespace}/`)) return undefined;
  return {
    reason: KmsVaultSecretReason.PathNotAllowed,
    message: `path "${logicalPath(loc)}" is outside ${loc.mount}/${namespace}/, the only place objects in namespace ${namespace} may write (operator path policy "${policy}")`,
    transient: false,
  };
}

/**
 * Tenancy before asking Vault anything: under the namespace policy the
 * namespace must be a segment of the path (after the first, before the last),
 * whatever the mount turns out to be. checkTenancy() decides exactly later.
 */
export function precheckTenancy(path: string, namespace: string, policy: PathPolicy): Failure | undefined {
  if (policy === PathPolicy.Any) return undefined;
  const segments = path.replace(/^\/+|\/+$/g, '').split('/');
  if (segments.slice(1, -1).includes(namespace)) return undefined;
  return {
    reason: KmsVaultSecretReason.PathNotAllowed,
    message: `path "${path}" is not under <mount>/${namespace}/, the only place objects in namespace ${namespace} may write (operator path policy "${policy}")`,
    transient: false,
  };
}

/** A pre-check that needs no Vault: a path with empty, "." or ".." segments can never be allowed. */
export function checkPathSyntax(path: string): Failure | undefined {
  const segments = path.replace(/^\/+|\/+$/g, '').split('/');
  if (segments.length >= 2 && !segments.some((s) => s === '' || s === '.' || s === '..')) return undefined;
  return {
    reason: KmsVaultSecretReason.PathNotAllowed,
    message: `path "${path}" must be <mount>/<secret path> without empty, "." or ".." segments`,
    transient: false,
  };
}
