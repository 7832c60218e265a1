// Settings of the Vault lifecycle, parsed from VAULT_AUTOPILOT_* variables.
import { readFileSync } from 'node:fs';
import { SettingsError, SettingsReader, type Env } from '../../framework/index.js';
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

const positiveNumber = (raw: string): number | undefined => {
  const value = Number(raw);
  return Number.isFinite(value) && value > 0 ? value : undefined;
};
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

/** Throws one SettingsError listing every problem; in-cluster defaults come from KUBERNETES_SERVICE_* and the mounted CA. */
export function parseVaultControllerSettings(env: Env, readFile: (path: string) => string = (p) => readFileSync(p, 'utf8')): VaultControllerSettings {
  const E = VaultControllerEnv;
  const r = new SettingsReader(env);
  const positive = (key: string, fallback: number) => r.parsed(key, fallback, positiveNumber, (raw) => `${key} must be a positive number, got "${raw}"`);
  const serviceHost = r.raw('KUBERNETES_SERVICE_HOST');
  const inClusterHost = serviceHost && `https://${serviceHost.includes(':') ? `[${serviceHost}]` : serviceHost}:${r.str('KUBERNETES_SERVICE_PORT', '443')}`;
  const kubernetesHost = r.raw(E.kubernetesHost) ?? inClusterHost;
  const kubernetesCaCert = r.raw(E.kubernetesCa) ?? kubernetesCaFromFile(r, readFile, serviceHost !== undefined);
  const namespace = r.raw(E.watchNamespace);
  const kmsRegion = r.raw(E.kmsRegion) ?? r.raw('AWS_REGION');
  const kmsEndpoint = r.raw(E.kmsEndpoint);
  const settings: VaultControllerSettings = {
    ...(kubernetesHost ? { kubernetesHost } : {}),
    ...(kubernetesCaCert ? { kubernetesCaCert } : {}),
    resyncPeriodMs: positive(E.resyncSeconds, 60) * 1000,
    configDriftCheckMs: positive(E.configDriftCheckSeconds, 600) * 1000,
    sealedRecheckMs: positive(E.sealedRecheckSeconds, 10) * 1000,
    defaultImage: r.str(E.defaultImage, 'hashicorp/vault:1.21.4'),
    caValidityDays: positive(E.caValidityDays, 3650),
    certValidityDays: positive(E.certValidityDays, 365),
    ...(namespace ? { namespace } : {}),
    kms: { ...(kmsRegion ? { region: kmsRegion } : {}), ...(kmsEndpoint ? { endpoint: kmsEndpoint } : {}) },
  };
  const caCopyFrom = r.list(E.caCopyFromNamespaces);
  if (caCopyFrom.length) settings.caCopyFromNamespaces = caCopyFrom;
  const legacyNamespaces = r.list(E.legacyNamespaces, /[\s,]+/);
  const badLegacy = legacyNamespaces.filter((n) => n !== '*' && !DNS_LABEL.test(n));
  if (badLegacy.length) r.problem(`${E.legacyNamespaces} must list namespace names or *, got ${badLegacy.join(', ')}`);
  if (legacyNamespaces.length) settings.legacyNamespaces = legacyNamespaces;
  const operatorSa = r.raw(E.operatorServiceAccount);
  if (operatorSa) {
    const operatorNamespace = r.raw(E.operatorNamespace) ?? readTrimmed(readFile, IN_CLUSTER_NAMESPACE);
    if (operatorNamespace) settings.operatorServiceAccount = { name: operatorSa, namespace: operatorNamespace };
    else r.problem(`${E.operatorServiceAccount} is set but the operator's namespace is unknown: set ${E.operatorNamespace}`);
  }
  try {
    const externalVaults = parseExternalVaultTrust(env);
    if (externalVaults.allowed.length || externalVaults.allowHttp) settings.externalVaults = externalVaults;
  } catch (err) {
    if (!(err instanceof SettingsError)) throw err;
    err.problems.forEach((p) => r.problem(p));
  }
  r.done('Vault controller settings');
  return settings;
}

/** The CA file setting's PEM; in a pod, the mounted service-account CA; else undefined (Vault uses its own trust store). */
function kubernetesCaFromFile(r: SettingsReader, readFile: (path: string) => string, inPod: boolean): string | undefined {
  const caFile = r.raw(VaultControllerEnv.kubernetesCaFile);
  if (caFile) {
    try {
      return readFile(caFile);
    } catch {
      r.problem(`${VaultControllerEnv.kubernetesCaFile}: cannot read ${caFile}`);
    }
  }
  return inPod ? readTrimmed(readFile, IN_CLUSTER_CA, false) : undefined;
}

/** The file's text (trimmed unless told), or undefined when it cannot be read. */
function readTrimmed(readFile: (path: string) => string, path: string, trim = true): string | undefined {
  try {
    const text = readFile(path);
    return trim ? text.trim() : text;
  } catch {
    return undefined;
  }
}
