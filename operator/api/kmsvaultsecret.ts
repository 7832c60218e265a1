// KMSVaultSecret and PartialKMSVaultSecret: TypeScript view of
// crds/kmsvaultsecret.yaml and crds/partialkmsvaultsecret.yaml, plus the one
// list of condition types, reasons and event reasons this lifecycle uses.
// Field names follow kms-vault-operator so a migration is an apiVersion change.
import type { KubernetesObject } from '@kubernetes/client-node';
import { API_GROUP, API_VERSION } from './naming.js';

export const KMS_VAULT_SECRET_KIND = 'KMSVaultSecret';
export const KMS_VAULT_SECRET_PLURAL = 'kmsvaultsecrets';
export const PARTIAL_KMS_VAULT_SECRET_KIND = 'PartialKMSVaultSecret';
export const PARTIAL_KMS_VAULT_SECRET_PLURAL = 'partialkmsvaultsecrets';
export { API_GROUP, API_VERSION };

export const EngineVersion = { V1: 'v1', V2: 'v2' } as const;
export type EngineVersion = (typeof EngineVersion)[keyof typeof EngineVersion];

export const DeletionPolicy = { Delete: 'Delete', Retain: 'Retain' } as const;
export type DeletionPolicy = (typeof DeletionPolicy)[keyof typeof DeletionPolicy];

/** An AWS KMS encryption context: string keys to string values. */
export type EncryptionContext = Record<string, string>;

/**
 * The encryption-context entry that binds a ciphertext to its namespace:
 * `seal --namespace N` adds it, and the operator decrypts a key only for an
 * object in N (KMS itself refuses the ciphertext under any other context).
 */
export const NAMESPACE_CONTEXT_KEY = 'vault.autopilot.dev/namespace';

export interface KvSettings {
  engineVersion: EngineVersion;
  /** Accepted for compatibility with kms-vault-operator; v2 writes always check-and-set against the version just read. */
  casIndex?: number;
}

export interface SecretEntry {
  /** Name of the key inside the Vault secret. */
  key: string;
  /** base64 of the KMS ciphertext blob (what `aws kms encrypt` and `vault-autopilot seal` print). */
  encryptedSecret?: string;
  /** Encryption context for this key; overrides the resource's `secretContext`. */
  secretContext?: EncryptionContext;
  /** Write an empty string for this key; `encryptedSecret` is then ignored. */
  emptySecret?: boolean;
}

export interface KMSVaultSecretSpec {
  /** Vault path of the secret, e.g. `secret/team-a/app` (for KV v2 without `data/`). */
  path: string;
  kvSettings: KvSettings;
  secrets?: SecretEntry[];
  secretContext?: EncryptionContext;
  /** Names of PartialKMSVaultSecrets in the same namespace whose keys are merged in. */
  includeSecrets?: string[];
  deletionPolicy?: DeletionPolicy;
  /** The `Vault` resource to write to; default: the configured connection, else the default `Vault`. */
  vaultRef?: VaultReference;
}

/** A `Vault` resource; `namespace` defaults to the referring object's. */
export interface VaultReference {
  name: string;
  namespace?: string;
}

export interface PartialKMSVaultSecretSpec {
  secrets?: SecretEntry[];
  secretContext?: EncryptionContext;
}

/** metav1.Condition */
export interface KmsVaultSecretCondition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
  lastTransitionTime: string;
  observedGeneration?: number;
}

export interface KMSVaultSecretStatus {
  observedGeneration?: number;
  conditions?: KmsVaultSecretCondition[];
  /** `<namespace>/<name>` of the `Vault` resource written to, or the configured connection's address. */
  vault?: string;
  /** When the operator last made Vault match the resource (a write, or the first check of a generation). */
  lastSyncTime?: string;
  /** The Vault mount and logical path last written, so deletion cleans up where the data really is. */
  vaultPath?: string;
  vaultMount?: string;
  engineVersion?: EngineVersion;
  /** Names (never values) of the keys in the Vault secret. */
  keys?: string[];
}

export interface KMSVaultSecret extends KubernetesObject {
  spec: KMSVaultSecretSpec;
  status?: KMSVaultSecretStatus;
}

export interface PartialKMSVaultSecret extends KubernetesObject {
  spec: PartialKMSVaultSecretSpec;
}

export const KmsVaultSecretConditionType = { Ready: 'Ready' } as const;

/** Reasons of the Ready condition (and of the Events that go with them). */
export const KmsVaultSecretReason = {
  Synced: 'Synced',
  /** An `encryptedSecret` is not valid base64, or empty without `emptySecret`. */
  DecodingFailed: 'DecodingFailed',
  /** KMS refused the ciphertext: wrong key, context mismatch, corrupt data, access denied. */
  DecryptionFailed: 'DecryptionFailed',
  /** KMS could not be reached (network, endpoint, throttling after retries). */
  KMSUnreachable: 'KMSUnreachable',
  /** The operator has no AWS credentials or region (its environment lacks them). */
  KMSNotConfigured: 'KMSNotConfigured',
  IncludeNotFound: 'IncludeNotFound',
  DuplicateKey: 'DuplicateKey',
  PathNotAllowed: 'PathNotAllowed',
  /** A key's encryption context names another namespace, or none (sealed before namespace binding). */
  NamespaceMismatch: 'NamespaceMismatch',
  /** The path is not in a KV mount, or the mount's version differs from `kvSettings.engineVersion`. */
  MountMismatch: 'MountMismatch',
  VaultWriteFailed: 'VaultWriteFailed',
  VaultUnreachable: 'VaultUnreachable',
  /** The deletion policy is Delete and removing the secret from Vault failed; the finalizer stays. */
  VaultDeleteFailed: 'VaultDeleteFailed',
  /** The `Vault` resource to write to does not exist. */
  VaultNotFound: 'VaultNotFound',
  /** The `Vault` resource exists but is not Ready (its own Ready message says why). */
  VaultNotReady: 'VaultNotReady',
  /** The `Vault` has no login for KMSVaultSecrets (the operator's ServiceAccount is unknown to it). */
  VaultIdentityMissing: 'VaultIdentityMissing',
  /** The `Vault` resource is external and its address is not one the operator may send its credentials to (trust.ts). */
  VaultNotTrusted: 'VaultNotTrusted',
  /** The `Vault` resource does not serve this object's namespace (its spec.selfService.namespaces); nothing is written. */
  SelfServiceRefused: 'SelfServiceRefused',
  /** Vault refused the operator's KMSVaultSecret login. */
  VaultLoginFailed: 'VaultLoginFailed',
  /** Something unforeseen failed (a Kubernetes API error, mostly); retried with backoff. */
  SyncError: 'SyncError',
} as const;
export type KmsVaultSecretReason = (typeof KmsVaultSecretReason)[keyof typeof KmsVaultSecretReason];

/** Event reasons beyond the condition reasons above. */
export const KmsVaultSecretEventReason = {
  /** Vault content differed from the resource (drift or change) and was rewritten. */
  SecretWritten: 'SecretWritten',
  /** A failing resource synced again. */
  Recovered: 'Recovered',
  SecretDeleted: 'SecretDeleted',
  SecretRetained: 'SecretRetained',
} as const;

/** kms-vault-operator's finalizer: objects migrated from it still carry it; removed once ours is in place. */
export const KMS_VAULT_OPERATOR_FINALIZER = 'delete.k8s.patoarvizu.dev';
