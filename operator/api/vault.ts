// TypeScript shape of the `Vault` custom resource (crds/vault.yaml is the
// source of truth) and the condition types, reasons and event reasons of the
// Vault lifecycle. Field names follow Bank-Vaults so that migrating is a
// change of apiVersion.
import type {
  KubernetesObject,
  V1Affinity,
  V1Container,
  V1EnvVar,
  V1IngressSpec,
  V1NodeAffinity,
  V1PersistentVolumeClaim,
  V1PodSecurityContext,
  V1PodSpec,
  V1ResourceRequirements,
  V1Toleration,
  V1Volume,
  V1VolumeMount,
} from '@kubernetes/client-node';

export const VAULT_KIND = 'Vault';
export const VAULT_PLURAL = 'vaults';
import type { ExternalConfig, VaultParams } from './vault-config.js';

export * from './vault-config.js';

export interface UnsealConfig {
  options?: { preFlightChecks?: boolean; secretShares?: number; secretThreshold?: number; storeRootToken?: boolean };
  kubernetes?: { secretName?: string; secretNamespace?: string };
  aws?: { kmsKeyId: string; kmsRegion?: string; kmsEncryptionContext?: string; s3Bucket?: string; s3Prefix?: string; s3Region?: string; s3SSE?: string };
  // Bank-Vaults' other key stores: accepted, not supported (reported)
  google?: VaultParams;
  alibaba?: VaultParams;
  azure?: VaultParams;
  oci?: VaultParams;
  vault?: VaultParams;
  hsm?: VaultParams;
}

/** Bank-Vaults' per-component resources; `limits`/`requests`/`claims` are this operator's earlier flat form (= vault). */
export interface VaultResources extends V1ResourceRequirements {
  vault?: V1ResourceRequirements;
  bankVaults?: V1ResourceRequirements;
  hsmDaemon?: V1ResourceRequirements;
  prometheusExporter?: V1ResourceRequirements;
  fluentd?: V1ResourceRequirements;
}

/** How the operator authenticates to an adopted Vault. */
export type ExternalAuth =
  | { method: 'token'; tokenSecretRef: { name: string; key?: string } }
  | { method: 'kubernetes'; role: string; mountPath?: string };

export interface ExternalVault {
  /** e.g. https://vault.example.com:8200 */
  address: string;
  /** Name of a Secret in the CR's namespace holding the CA bundle under `ca.crt`. */
  caSecret?: string;
  /** PEM CA bundle inline. */
  caCert?: string;
  /** Omit to use the operator token the operator creates when it initialises the Vault. */
  auth?: ExternalAuth;
}

/** A creation-statements template the platform offers for dynamic database credentials (tenants pick it by name). */
export interface DatabaseCredsTemplate {
  name: string;
  /** SQL run to create a user; Vault fills in {{name}}, {{password}} and {{expiration}}. */
  creation_statements: string[];
  /** SQL run when a lease is revoked (default: the plugin's, which drops the user). */
  revocation_statements?: string[];
  renew_statements?: string[];
  rollback_statements?: string[];
}

/** A database connection (a `config` entry of a database engine in externalConfig.secrets) that ServiceAccounts may ask credentials of. */
export interface DatabaseConnectionOffer {
  /** `<mount>/<connection name>` */
  connection: string;
  /** Namespaces whose ServiceAccounts may use it; `*` = every namespace. */
  namespaces: string[];
  templates: DatabaseCredsTemplate[];
  /** Template used when the ServiceAccount names none (default: the only one, when there is one). */
  defaultTemplate?: string;
  /** Lease TTLs of the role (Vault durations); a ServiceAccount may ask for less, never more than max_ttl. */
  default_ttl?: string;
  max_ttl?: string;
}

/** Which namespaces may self-serve (Gateway API allowedRoutes-style): default Same. */
export const SelfServiceFrom = { Same: 'Same', All: 'All', Selector: 'Selector' } as const;
export type SelfServiceFrom = (typeof SelfServiceFrom)[keyof typeof SelfServiceFrom];

/** metav1.LabelSelector */
export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: Array<{ key: string; operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist'; values?: string[] }>;
}

/** What tenants may serve themselves from this Vault. */
export interface SelfServiceSpec {
  /** Namespaces whose ServiceAccounts and pods may use this Vault (default: its own namespace only). */
  namespaces?: { from?: SelfServiceFrom; selector?: LabelSelector };
  /** ServiceAccounts of one namespace configured here at most (default 250). */
  maxServiceAccountsPerNamespace?: number;
  databaseConnections?: DatabaseConnectionOffer[];
}

export interface VaultSpec {
  size?: number;
  image?: string;
  config?: Record<string, unknown>;
  externalConfig?: ExternalConfig;
  unsealConfig?: UnsealConfig;
  existingTlsSecretName?: string;
  tlsAdditionalHosts?: string[];
  /** Go duration, default 168h: the serving certificate is renewed when it expires sooner. */
  tlsExpiryThreshold?: string;
  serviceType?: 'ClusterIP' | 'NodePort' | 'LoadBalancer';
  resources?: VaultResources;
  nodeSelector?: Record<string, string>;
  tolerations?: V1Toleration[];
  affinity?: V1Affinity;
  volumeClaimTemplates?: V1PersistentVolumeClaim[];
  serviceAccount?: string;
  annotations?: Record<string, string>;
  vaultAnnotations?: Record<string, string>;
  vaultLabels?: Record<string, string>;
  vaultPodSpec?: Partial<V1PodSpec>;
  vaultContainerSpec?: Partial<V1Container>;
  vaultContainers?: V1Container[];
  vaultInitContainers?: V1Container[];
  volumes?: V1Volume[];
  volumeMounts?: V1VolumeMount[];
  vaultEnvsConfig?: V1EnvVar[];
  secretInitsConfig?: V1EnvVar[];
  envsConfig?: V1EnvVar[];
  sidecarEnvsConfig?: V1EnvVar[];
  credentialsConfig?: { env?: string; path?: string; secretName?: string };
  securityContext?: V1PodSecurityContext;
  platformManagedSecurityContext?: boolean;
  skipVaultContainerCapabilities?: boolean;
  skipEntrypointSetup?: boolean;
  loadBalancerIP?: string;
  servicePorts?: Record<string, number>;
  serviceRegistrationEnabled?: boolean;
  raftLeaderAddress?: string;
  raftLeaderApiSchemeOverride?: 'http' | 'https';
  podAntiAffinity?: string;
  nodeAffinity?: V1NodeAffinity;
  ingress?: { annotations?: Record<string, string>; spec?: V1IngressSpec };
  serviceMonitorEnabled?: boolean;
  caNamespaces?: string[];
  configPath?: string;
  // Bank-Vaults components that do not exist here: accepted and reported
  bankVaultsImage?: string;
  bankVaultsVolumeMounts?: V1VolumeMount[];
  vaultConfigurerAnnotations?: Record<string, string>;
  vaultConfigurerLabels?: Record<string, string>;
  vaultConfigurerPodSpec?: Partial<V1PodSpec>;
  statsdDisabled?: boolean;
  statsdImage?: string;
  statsdConfig?: string;
  fluentdEnabled?: boolean;
  fluentdImage?: string;
  fluentdConfLocation?: string;
  fluentdConfFile?: string;
  fluentdConfig?: string;
  istioEnabled?: boolean;
  veleroEnabled?: boolean;
  veleroFsfreezeImage?: string;
  watchedSecretsLabels?: Array<Record<string, string>>;
  watchedSecretsAnnotations?: Array<Record<string, string>>;
  external?: ExternalVault;
  deleteUnsealKeysOnDelete?: boolean;
  selfService?: SelfServiceSpec;
  /** Written by the operator's ServiceAccount lifecycle only (one atomic field); the Vault lifecycle renders roles and policies from it. */
  serviceAccountRoles?: ServiceAccountRolesSpec;
}

/**
 * The annotated ServiceAccounts a `Vault` serves, in compact form: what every
 * role and policy shares once, then namespace and name per ServiceAccount.
 * Role `sa.<namespace>.<name>` and policy of the same name are rendered from
 * it (controllers/serviceaccount/compact.ts), not stored.
 */
export interface ServiceAccountRolesSpec {
  /** Kubernetes-auth mount the roles go to. */
  authPath: string;
  /** token_ttl / token_max_ttl of every role, seconds. */
  tokenTtl: number;
  tokenMaxTtl: number;
  /** HCL with {{namespace}} and {{name}}. */
  policyTemplate: string;
  entries: ServiceAccountRoleEntry[];
}

export interface ServiceAccountRoleEntry {
  namespace: string;
  name: string;
  /** the database role chosen among what spec.selfService.databaseConnections offers (db-dynamic-creds) */
  database?: { type: 'database'; path: string; mount: string; role: ServiceAccountDatabaseRole };
}

export interface ServiceAccountDatabaseRole {
  name: string;
  db_name: string;
  creation_statements: string[];
  revocation_statements?: string[];
  renew_statements?: string[];
  rollback_statements?: string[];
  /** seconds; 0 = the mount's default */
  default_ttl: number;
  max_ttl: number;
}

export interface VaultCondition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
  lastTransitionTime: string;
  observedGeneration?: number;
}

/**
 * What the operator applied to Vault and may therefore remove. Kept in the
 * CR's status: it survives operator restarts, lives and dies with the CR, is
 * visible to `kubectl get -o yaml`, and holds names only (never secrets).
 */
export interface ManagedRecord {
  policies?: string[];
  /** auth mount paths */
  auth?: string[];
  /** `<auth path>/<role name>` */
  roles?: string[];
  /** secret engine mount paths */
  secrets?: string[];
  /** audit device paths */
  audit?: string[];
  /** engine configuration paths (`<mount>/<key>/<name>`, from secrets[].configuration) */
  engineConfig?: string[];
  /** identity group names */
  groups?: string[];
  /** group aliases, `<mountpath>/<name>` */
  groupAliases?: string[];
  /** startup-secret paths (written once; never removed from Vault, listed so the operator's policy follows them) */
  startupSecrets?: string[];
  /** plugin catalog entries, `<type>/<name>` */
  plugins?: string[];
}

export interface VaultNodeStatus {
  name: string;
  address: string;
  initialized?: boolean;
  sealed?: boolean;
  reachable: boolean;
}

export interface VaultStatus {
  observedGeneration?: number;
  conditions?: VaultCondition[];
  mode?: 'managed' | 'external';
  nodes?: VaultNodeStatus[];
  leader?: string;
  sealed?: boolean;
  initialized?: boolean;
  managed?: ManagedRecord;
  /** SHA-256 of the configuration last applied in full (no values): a restarted operator with the same configuration lists Vault's roles and policies instead of reading each. */
  configDigest?: string;
  /** Serving certificate expiry (managed mode, generated TLS). */
  tlsNotAfter?: string;
  /** External mode: the address initialised or adopted; a different spec.external.address is refused (trust.ts). */
  externalAddress?: string;
  /** unsealConfig.vault the keys were stored in or read from once initialised; another store is refused (key-store.ts). */
  keyStore?: { address: string; path: string };
  /** raftLeaderAddress (as an API address) this Vault joined; another leader is refused (raft-follower.ts). */
  raftLeaderAddress?: string;
  /** Namespaces holding this Vault's CA copy (spec.caNamespaces); deleted from there when they leave the list or the Vault goes. */
  caCopies?: string[];
  /** Spec fields accepted for Bank-Vaults compatibility that have no effect here, and why. */
  ignoredFields?: Array<{ field: string; reason: string }>;
}

export interface VaultResource extends KubernetesObject {
  spec: VaultSpec;
  status?: VaultStatus;
}

export const VaultConditionType = {
  Initialized: 'Initialized',
  Unsealed: 'Unsealed',
  Configured: 'Configured',
  Ready: 'Ready',
} as const;
export type VaultConditionType = (typeof VaultConditionType)[keyof typeof VaultConditionType];

export const VaultReason = {
  // Initialized
  Initialized: 'Initialized',
  InitFailed: 'InitFailed',
  /** A pre-flight check before sys/init failed (KMS round trip, keys Secret not writable): nothing was initialised. */
  PreFlightFailed: 'PreFlightFailed',
  /** Initialised, but the unseal keys are not (or not yet) in the keys Secret. */
  KeysNotStored: 'KeysNotStored',
  /** raftLeaderAddress names another cluster's leader: not initialised here, waiting for the pods to join it. */
  JoiningRaftLeader: 'JoiningRaftLeader',
  // Unsealed
  Unsealed: 'Unsealed',
  Sealed: 'Sealed',
  UnsealKeysMissing: 'UnsealKeysMissing',
  UnsealFailed: 'UnsealFailed',
  // Configured
  Applied: 'Applied',
  InvalidEntries: 'InvalidEntries',
  NotAuthorized: 'NotAuthorized',
  WaitingForUnseal: 'WaitingForUnseal',
  // Ready
  Ready: 'Ready',
  NotReady: 'NotReady',
  // shared
  VaultUnreachable: 'VaultUnreachable',
  /** Vault answered with an error the operator cannot act on (5xx, unexpected 4xx). */
  VaultRequestFailed: 'VaultRequestFailed',
  InvalidSpec: 'InvalidSpec',
  KubernetesError: 'KubernetesError',
  Pending: 'Pending',
  // why a managed node does not answer, from its pod and claims (pod-status.ts)
  /** The pod is not scheduled (the scheduler's message says why). */
  PodUnschedulable: 'PodUnschedulable',
  /** A PersistentVolumeClaim of the pod is not bound (e.g. no default StorageClass). */
  VolumeUnbound: 'VolumeUnbound',
  /** The Vault image cannot be pulled (ErrImagePull, ImagePullBackOff, ErrImageNeverPull, InvalidImageName). */
  ImagePullFailed: 'ImagePullFailed',
  /** The Vault container keeps exiting. */
  CrashLoopBackOff: 'CrashLoopBackOff',
  /** The pod does not exist yet, or has not started its container. */
  PodNotRunning: 'PodNotRunning',
  // trust (trust.ts): refusals of what the resource asks the operator to reach or touch
  /** spec.external.address is not among the operator's VAULT_AUTOPILOT_EXTERNAL_VAULT_ADDRESSES. */
  ExternalAddressNotAllowed: 'ExternalAddressNotAllowed',
  /** spec.external.address is http:// and the operator did not opt out of https. */
  InsecureAddress: 'InsecureAddress',
  /** spec.external.address, unsealConfig.vault or raftLeaderAddress differs from what the initialised Vault pinned in its status. */
  AddressChanged: 'AddressChanged',
  /** spec.external.auth.tokenSecretRef names a Secret not labelled for this Vault. */
  SecretNotGranted: 'SecretNotGranted',
  /** An object (Service, StatefulSet, Secret, ServiceAccount...) of the needed name is not this Vault's. */
  ObjectNotOwned: 'ObjectNotOwned',
  /** The stored unseal keys are bound to another Vault or namespace (or to none, outside the legacy namespaces): not decrypted. */
  UnsealKeysNotBound: 'UnsealKeysNotBound',
} as const;
export type VaultReason = (typeof VaultReason)[keyof typeof VaultReason];

/** Kubernetes Event reasons of the Vault lifecycle. */
export const VaultEventReason = {
  /** The resource asked for something the operator does not trust (trust.ts); the message says what. */
  Refused: 'Refused',
  Initialized: 'Initialized',
  Unsealed: 'Unsealed',
  ConfigChanged: 'ConfigChanged',
  ConfigInvalid: 'ConfigInvalid',
  RootTokenRevoked: 'RootTokenRevoked',
  OperatorTokenRecovered: 'OperatorTokenRecovered',
  ReconcileFailed: 'ReconcileFailed',
  TlsRenewed: 'TlsRenewed',
  UnsealKeysKept: 'UnsealKeysKept',
  UnsealKeysDeleted: 'UnsealKeysDeleted',
  RaftPeerRemoved: 'RaftPeerRemoved',
  /** Some spec fields (Bank-Vaults components that do not exist here) have no effect. */
  FieldsIgnored: 'FieldsIgnored',
  PreFlightFailed: 'PreFlightFailed',
  KeysNotStored: 'KeysNotStored',
} as const;
export type VaultEventReason = (typeof VaultEventReason)[keyof typeof VaultEventReason];
