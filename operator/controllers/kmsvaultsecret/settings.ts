// Operator settings of the KMSVaultSecret lifecycle, from VAULT_AUTOPILOT_KMS_*.
// The Vault connection itself is shared: see operator/vault/settings.ts.
import { parseDuration as parseDurationMsKit, SettingsReader } from '../../framework/index.js';
import { DEFAULT_TARGET_VAULT, parseVaultRef, type VaultRef } from '../serviceaccount/settings.js';

export const PathPolicy = {
  /** An object in namespace N may only write under `<mount>/N/` (default). */
  Namespace: 'namespace',
  /** Any path (single-tenant clusters). */
  Any: 'any',
} as const;
export type PathPolicy = (typeof PathPolicy)[keyof typeof PathPolicy];

export const KmsVaultSecretSettingsEnv = {
  syncPeriod: 'VAULT_AUTOPILOT_KMS_SYNC_PERIOD',
  pathPolicy: 'VAULT_AUTOPILOT_KMS_PATH_POLICY',
  region: 'VAULT_AUTOPILOT_KMS_REGION',
  endpoint: 'VAULT_AUTOPILOT_KMS_ENDPOINT',
  allowedKeyIds: 'VAULT_AUTOPILOT_KMS_ALLOWED_KEY_IDS',
  legacyNamespaces: 'VAULT_AUTOPILOT_KMS_LEGACY_NAMESPACES',
  /** Shared with the ServiceAccount lifecycle and the webhook: the `Vault` used when nothing names one. */
  defaultVault: 'VAULT_AUTOPILOT_TARGET_VAULT',
} as const;

export interface KmsVaultSecretSettings {
  /** How often an in-sync object is compared with Vault again (drift correction). */
  syncPeriodMs: number;
  pathPolicy: PathPolicy;
  /**
   * Namespaces whose objects may still use ciphertext sealed without
   * vault.autopilot.dev/namespace in its encryption context (a migration
   * window); `*` = every namespace. Empty (the default): none.
   */
  legacyNamespaces: string[];
  /** The `Vault` resource an object without spec.vaultRef writes to, when no connection is configured. */
  defaultVault: VaultRef;
  kms: {
    region?: string;
    endpoint?: string;
    /** Key ids/ARNs/aliases whose ciphertext is accepted; empty = any the credentials can use. */
    allowedKeyIds: string[];
  };
}

export const DEFAULT_SYNC_PERIOD_MS = 120_000;

export const defaultKmsVaultSecretSettings: KmsVaultSecretSettings = {
  syncPeriodMs: DEFAULT_SYNC_PERIOD_MS,
  pathPolicy: PathPolicy.Namespace,
  legacyNamespaces: [],
  defaultVault: parseVaultRef(DEFAULT_TARGET_VAULT)!,
  kms: { allowedKeyIds: [] },
};

/** "90" (seconds, as kms-vault-operator's --sync-period-seconds), "500ms", "30s", "2m", "1h" (the framework's one grammar); positive. Pure. */
export function parseDurationMs(text: string): number | undefined {
  const parsed = parseDurationMsKit(text);
  const ms = parsed === undefined ? 0 : Math.round(parsed);
  return ms > 0 ? ms : undefined;
}

const NAMESPACE_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

const isUrl = (text: string): string | undefined => {
  try {
    new URL(text);
    return text;
  } catch {
    return undefined;
  }
};

/** Parse the settings; throws SettingsError listing every problem. Pure. */
export function parseKmsVaultSecretSettings(env: Record<string, string | undefined>): KmsVaultSecretSettings {
  const E = KmsVaultSecretSettingsEnv;
  const r = new SettingsReader(env);
  const syncPeriodMs = r.parsed(E.syncPeriod, DEFAULT_SYNC_PERIOD_MS, parseDurationMs, (raw) => `${E.syncPeriod} must be a duration like 120, 30s, 2m (got ${raw})`);
  const policies = Object.values(PathPolicy);
  const pathPolicy = r.parsed(E.pathPolicy, PathPolicy.Namespace, (raw) => policies.find((p) => p === raw), (raw) => `${E.pathPolicy} must be one of ${policies.join('|')} (got ${raw})`);
  const endpoint = r.parsed<string | undefined>(E.endpoint, undefined, isUrl, (raw) => `${E.endpoint} is not a URL: ${raw}`);
  const defaultVault = r.parsed(E.defaultVault, defaultKmsVaultSecretSettings.defaultVault, parseVaultRef, (raw) => `${E.defaultVault} must be <namespace>/<name> of a Vault resource, got "${raw}"`);
  const legacyNamespaces = r.list(E.legacyNamespaces);
  const badLegacy = legacyNamespaces.filter((n) => n !== '*' && !NAMESPACE_NAME.test(n));
  if (badLegacy.length) r.problem(`${E.legacyNamespaces} must list namespace names or *, got ${badLegacy.join(', ')}`);
  r.done();
  return {
    syncPeriodMs,
    pathPolicy,
    legacyNamespaces,
    defaultVault,
    kms: { region: r.raw(E.region) ?? r.raw('AWS_REGION'), endpoint, allowedKeyIds: r.list(E.allowedKeyIds) },
  };
}
