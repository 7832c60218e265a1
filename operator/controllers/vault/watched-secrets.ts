// watchedSecretsLabels / watchedSecretsAnnotations (Bank-Vaults): Vault is
// restarted when a Secret of its namespace that matches one of the selectors
// changes (e.g. a credentials file Vault reads only at start). The matching
// Secrets' versions are hashed into a pod-template annotation, so a change
// rolls the StatefulSet. Versions, not contents: a hash of Secret data in an
// annotation anyone with pod read access sees could be brute-forced offline.
import { createHash } from 'node:crypto';
import type { V1Secret } from '@kubernetes/client-node';
import { API_GROUP } from '../../api/naming.js';
import type { VaultSpec } from '../../api/vault.js';

export const WATCHED_SECRETS_ANNOTATION = `${API_GROUP}/watched-secrets-checksum`;

/** Pure: every key/value of one selector is on the object (Bank-Vaults' set selector: each map ANDs, the list ORs). */
function matchesSet(selector: Record<string, string>, values: Record<string, string> | undefined): boolean {
  return Object.entries(selector).every(([k, v]) => values?.[k] === v);
}

export function watchesSecrets(spec: VaultSpec): boolean {
  return !!(spec.watchedSecretsLabels?.length || spec.watchedSecretsAnnotations?.length);
}

/** Pure: is this Secret watched by any label selector or any annotation selector? */
export function isWatched(spec: VaultSpec, secret: V1Secret): boolean {
  return (
    (spec.watchedSecretsLabels ?? []).some((s) => matchesSet(s, secret.metadata?.labels)) ||
    (spec.watchedSecretsAnnotations ?? []).some((s) => matchesSet(s, secret.metadata?.annotations))
  );
}

/** Pure: the checksum of the watched Secrets (name, uid and resourceVersion; order-independent); undefined when none match. */
export function watchedSecretsChecksum(spec: VaultSpec, secrets: readonly V1Secret[]): string | undefined {
  const versions = secrets
    .filter((s) => isWatched(spec, s))
    .map((s) => `${s.metadata?.name}/${s.metadata?.uid}/${s.metadata?.resourceVersion}`)
    .sort();
  if (!versions.length) return undefined;
  return createHash('sha256').update(versions.join('\n')).digest('hex').slice(0, 16);
}
