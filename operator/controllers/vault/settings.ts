// Settings of the Vault lifecycle, parsed from VAULT_AUTOPILOT_* variables.
import { readFileSync } from 'node:fs';
import { LEGACY_NAMESPACES_ENV, parseExternalVaultTrust, type ExternalVaultTrust } from './trust.js';

export const VaultControllerEnv = {
  kubernetesHost: 'VAULT_AUTOPILOT_KUBERNETES_HOST',
  kubernetesCa: 'VAULT_AUTOPILOT_KUBERNETES_CA',
  kubernetesCaFile: 'VAULT_AUTOPILOT_KUBERNETES_CA_FILE',
  resyncSeconds: 'VAULT_AUTOPILOT_VAULT_RESYNC_SECONDS',
  configDriftCheckSeconds: 'VAULT_AUTOPILOT_CONFIG_DRIFT_CHECK_SECONDS',
  sealedRecheckSeconds: 'VAULT_AUTOPILOT_VAULT_SEALED_RECHECK_SECONDS',
  defaultImage: 'VAULT_AUTOPILOT_VAULT_IMAGE',
  caValidityDays: 'VAULT_AUTOPILOT_VAULT_TLS_CA_DAYS',
  certValidityDays: 'VAULT_AUTOPILOT_VAULT_TLS_CERT_DAYS',
  watchNamespace: 'VAULT_AUTOPILOT_VAULT_NAMESPACE',
  operatorServiceAccount: 'VAULT_AUTOPILOT_OPERATOR_SERVICE_ACCOUNT',
  operatorNamespace: 'VAULT_AUTOPILOT_OPERATOR_NAMESPACE',
  kmsRegion: 'VAULT_AUTOPILOT_KMS_REGION',
  kmsEndpoint: 'VAULT_AUTOPILOT_KMS_ENDPOINT',
  caCopyFromNamespaces: 'VAULT_AUTOPILOT_CA_COPY_FROM_NAMESPACES',
  /** Shared with KMSVaultSecrets: namespaces whose ciphertext may predate namespace binding. */
  legacyNamespaces: LEGACY_NAMESPACES_ENV,
} as const;

const IN_CLUSTER_CA = '/var/run/secrets/kubernetes.io/serviceaccount/ca.crt';
const IN_CLUSTER_NAMESPACE = '/var/run/secrets/kubernetes.io/serviceaccount/namespace';

export interface VaultControllerSettings {
  /** Default kubernetes_host of `kubernetes` auth methods. */
  kubernetesHost?: string;
  /** Default kubernetes_ca_cert of `kubernetes` auth methods (PEM). */
  kubernetesCaCert?: string;
  /** Every Vault resource is reconciled this often, undoing drift. */
  resyncPeriodMs: number;
  /**
   * With nothing changed since a pass that applied everything, Vault is read
   * again (drift undone) only this often; unset = every pass.
   */
  configDriftCheckMs?: number;
  /** How soon a sealed or unreachable Vault is looked at again. */
  sealedRecheckMs: number;
  defaultImage: string;
  caValidityDays: number;
  certValidityDays: number;
  /** Watch only this namespace (default: all). */
  namespace?: string;
  kms: { region?: string; endpoint?: string };
  /**
   * The operator's own ServiceAccount: when set, the operator also gets a
   * Kubernetes-auth role in every Vault it manages and logs in with it.
   */
  operatorServiceAccount?: { name: string; namespace: string };
  /** External Vaults the operator may send credentials and unseal keys to (trust.ts); unset = none. */
  externalVaults?: ExternalVaultTrust;
  /** Namespaces whose Vaults may keep their CA in other namespaces (spec.caNamespaces); '*' = all; unset = none. */
  caCopyFromNamespaces?: string[];
  /**
   * Namespaces whose Vaults may still read unseal keys Bank-Vaults stored
   * without a namespace in their encryption context (trust.ts
   * unsealKeyContexts); `*` = all. Unset or empty: none.
   */
  legacyNamespaces?: string[];
}

type Env = Record<string, string | undefined>;

function positive(env: Env, key: string, fallback: number, problems: string[]): number {
  const raw = env[key]?.trim();
  if (!raw) return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0) {
    problems.push(`${key} must be a positive number, got "${raw}"`);
    return fallback;
  }
  return value;
}

/** Throws listing every problem; in-cluster defaults come from KUBERNETES_SERVICE_* and the mounted CA. */
export function parseVaultControllerSettings(env: Env, readFile: (path: string) => string = (p) => readFileSync(p, 'utf8')): VaultControllerSettings {
  const problems: string[] = [];
  let kubernetesHost = env[VaultControllerEnv.kubernetesHost]?.trim();
  if (!kubernetesHost && env.KUBERNETES_SERVICE_HOST) {
    const host = env.KUBERNETES_SERVICE_HOST.includes(':') ? `[${env.KUBERNETES_SERVICE_HOST}]` : env.KUBERNETES_SERVICE_HOST;
    kubernetesHost = `https://${host}:${env.KUBERNETES_SERVICE_PORT ?? '443'}`;
  }
  let kubernetesCaCert = env[VaultControllerEnv.kubernetesCa]?.trim() || undefined;
  const caFile = env[VaultControllerEnv.kubernetesCaFile]?.trim();
  if (!kubernetesCaCert && caFile) {
    try {
      kubernetesCaCert = readFile(caFile);
    } catch {
      problems.push(`${VaultControllerEnv.kubernetesCaFile}: cannot read ${caFile}`);
    }
  }
  if (!kubernetesCaCert && env.KUBERNETES_SERVICE_HOST) {
    try {
      kubernetesCaCert = readFile(IN_CLUSTER_CA);
    } catch {
      // outside a pod: leave the CA unset, Vault then uses its own trust store
    }
  }
  const settings: VaultControllerSettings = {
    ...(kubernetesHost ? { kubernetesHost } : {}),
    ...(kubernetesCaCert ? { kubernetesCaCert } : {}),
    resyncPeriodMs: positive(env, VaultControllerEnv.resyncSeconds, 60, problems) * 1000,
    configDriftCheckMs: positive(env, VaultControllerEnv.configDriftCheckSeconds, 600, problems) * 1000,
    sealedRecheckMs: positive(env, VaultControllerEnv.sealedRecheckSeconds, 10, problems) * 1000,
    defaultImage: env[VaultControllerEnv.defaultImage]?.trim() || 'hashicorp/vault:1.21.4',
    caValidityDays: positive(env, VaultControllerEnv.caValidityDays, 3650, problems),
    certValidityDays: positive(env, VaultControllerEnv.certValidityDays, 365, problems),
    ...(env[VaultControllerEnv.watchNamespace]?.trim() ? { namespace: env[VaultControllerEnv.watchNamespace]!.trim() } : {}),
    kms: {
      ...(env[VaultControllerEnv.kmsRegion]?.trim() || env.AWS_REGION ? { region: env[VaultControllerEnv.kmsRegion]?.trim() || env.AWS_REGION } : {}),
      ...(env[VaultControllerEnv.kmsEndpoint]?.trim() ? { endpoint: env[VaultControllerEnv.kmsEndpoint]!.trim() } : {}),
    },
  };
  const caCopyFrom = (env[VaultControllerEnv.caCopyFromNamespaces] ?? '').split(',').map((n) => n.trim()).filter(Boolean);
  if (caCopyFrom.length) settings.caCopyFromNamespaces = caCopyFrom;
  const legacyNamespaces = (env[VaultControllerEnv.legacyNamespaces] ?? '')
    .split(/[\s,]+/)
    .map((n) => n.trim())
    .filter(Boolean);
  const badLegacy = legacyNamespaces.filter((n) => n !== '*' && !/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(n));
  if (badLegacy.length) problems.push(`${VaultControllerEnv.legacyNamespaces} must list namespace names or *, got ${badLegacy.join(', ')}`);
  if (legacyNamespaces.length) settings.legacyNamespaces = legacyNamespaces;
  const operatorSa = env[VaultControllerEnv.operatorServiceAccount]?.trim();
  if (operatorSa) {
    let operatorNamespace = env[VaultControllerEnv.operatorNamespace]?.trim();
    if (!operatorNamespace) {
      try {
        operatorNamespace = readFile(IN_CLUSTER_NAMESPACE).trim();
      } catch {
        problems.push(`${VaultControllerEnv.operatorServiceAccount} is set but the operator's namespace is unknown: set ${VaultControllerEnv.operatorNamespace}`);
      }
    }
    if (operatorNamespace) settings.operatorServiceAccount = { name: operatorSa, namespace: operatorNamespace };
  }
  try {
    const externalVaults = parseExternalVaultTrust(env);
    if (externalVaults.allowed.length || externalVaults.allowHttp) settings.externalVaults = externalVaults;
  } catch (err) {
    problems.push((err as Error).message);
  }
  if (problems.length) throw new Error(`invalid Vault controller settings: ${problems.join('; ')}`);
  return settings;
}
