// Settings of the pod mutating webhook, parsed from VAULT_AUTOPILOT_* environment
// variables. Pure: an env map in, settings or an error naming the variable out.

import { DEFAULT_ANNOTATION_PREFIX } from '../api/naming.js';
import { SettingsReader } from '../framework/index.js';
import type { VaultRef } from './annotations.js';
import { OperatorEnv, parseWatchNamespaces } from '../settings.js';

export type FailurePolicy = 'Fail' | 'Ignore';
export type NativeSidecarMode = 'auto' | 'on' | 'off';

export interface AgentResources {
  requests: { cpu: string; memory: string };
  limits: { cpu: string; memory: string };
}

/** What the pure mutator needs. */
export interface PodMutationSettings {
  annotationPrefix: string;
  agentImage: string;
  agentResources: AgentResources;
  /** Used when a pod has no `vault` annotation. */
  defaultVault: VaultRef;
  /** Kubernetes auth mount, e.g. `auth/kubernetes`. */
  defaultAuthPath: string;
  /** Namespaces whose pods are never mutated (system namespaces and the operator's own). */
  skipNamespaces: string[];
  /** Install scope: only pods of these namespaces are mutated (VAULT_AUTOPILOT_WATCH_NAMESPACES); undefined = all. */
  watchNamespaces?: string[];
  /** Vault Agent runs as this uid/gid (the image's `vault` user is 100, group 1000). */
  agentRunAsUser: number;
  agentRunAsGroup: number;
}

export interface WebhookSettings extends PodMutationSettings {
  port: number;
  /** Listen address: 0.0.0.0 in a pod (the apiserver calls the pod IP); 127.0.0.1 or one interface elsewhere. */
  host: string;
  /** PEM file of the CA whose client certificates may call the webhook (the apiserver's, see README); unset = no client authentication. */
  clientCaFile?: string;
  /** With clientCaFile: the certificate's CN or a DNS name must be one of these; empty = any certificate of that CA. */
  clientNames: string[];
  /** Memory bounds of the admission server (see WebhookServerOptions). */
  limits: { maxBodyBytes: number; maxBufferedBytes: number; maxConcurrent: number; bodyTimeoutMs: number };
  /** tls.crt / tls.key are read from here unless certificates are self-managed. */
  certDir: string;
  certReloadIntervalMs: number;
  selfManagedCerts: boolean;
  /** Secret (in the operator namespace) holding the self-managed CA and serving certificate. */
  certSecretName: string;
  /** The operator's MutatingWebhookConfiguration, whose caBundle the operator keeps current. */
  configurationName: string;
  /** Create/update the MutatingWebhookConfiguration (rules, selectors, failurePolicy); off = only patch caBundle. */
  manageConfiguration: boolean;
  /** Service in front of the operator's webhook port (DNS names of the self-managed certificate, clientConfig.service). */
  serviceName: string;
  servicePort: number;
  /** When set, clientConfig.url (e.g. https://127.0.0.1:9443/mutate-pods) instead of a Service — for out-of-cluster runs and tests. */
  url?: string;
  failurePolicy: FailurePolicy;
  timeoutSeconds: number;
  /** Optional opt-in: only namespaces with these labels are sent to the webhook (e.g. {"vault.autopilot.dev/injection": "enabled"}). */
  namespaceLabels: Record<string, string>;
  nativeSidecars: NativeSidecarMode;
  operatorNamespace: string;
  /** Period of the ConfigMap CA sync (namespaces that received the Vault CA). */
  caSyncIntervalMs: number;
  /** Self-managed certificates: lifetimes, and how long a caBundle/Secret change needs to reach every apiserver/replica. */
  caValidityMs: number;
  servingValidityMs: number;
  rotationPropagationMs: number;
  /** Longest wait between two looks at the certificate Secret (must be below rotationPropagationMs). */
  certCheckIntervalMs: number;
}

export const WEBHOOK_SETTING = {
  port: 'VAULT_AUTOPILOT_WEBHOOK_PORT',
  host: 'VAULT_AUTOPILOT_WEBHOOK_HOST',
  clientCaFile: 'VAULT_AUTOPILOT_WEBHOOK_CLIENT_CA_FILE',
  clientNames: 'VAULT_AUTOPILOT_WEBHOOK_CLIENT_NAMES',
  certDir: 'VAULT_AUTOPILOT_WEBHOOK_CERT_DIR',
  certReloadInterval: 'VAULT_AUTOPILOT_WEBHOOK_CERT_RELOAD_INTERVAL_MS',
  selfManagedCerts: 'VAULT_AUTOPILOT_WEBHOOK_SELF_MANAGED_CERTS',
  certSecretName: 'VAULT_AUTOPILOT_WEBHOOK_CERT_SECRET',
  configurationName: 'VAULT_AUTOPILOT_WEBHOOK_CONFIGURATION_NAME',
  manageConfiguration: 'VAULT_AUTOPILOT_WEBHOOK_MANAGE_CONFIGURATION',
  serviceName: 'VAULT_AUTOPILOT_WEBHOOK_SERVICE_NAME',
  servicePort: 'VAULT_AUTOPILOT_WEBHOOK_SERVICE_PORT',
  url: 'VAULT_AUTOPILOT_WEBHOOK_URL',
  failurePolicy: 'VAULT_AUTOPILOT_WEBHOOK_FAILURE_POLICY',
  timeoutSeconds: 'VAULT_AUTOPILOT_WEBHOOK_TIMEOUT_SECONDS',
  namespaceSelector: 'VAULT_AUTOPILOT_WEBHOOK_NAMESPACE_SELECTOR',
  nativeSidecars: 'VAULT_AUTOPILOT_WEBHOOK_NATIVE_SIDECARS',
  agentImage: 'VAULT_AUTOPILOT_WEBHOOK_AGENT_IMAGE',
  agentRequestsCpu: 'VAULT_AUTOPILOT_WEBHOOK_AGENT_REQUESTS_CPU',
  agentRequestsMem: 'VAULT_AUTOPILOT_WEBHOOK_AGENT_REQUESTS_MEM',
  agentLimitsCpu: 'VAULT_AUTOPILOT_WEBHOOK_AGENT_LIMITS_CPU',
  agentLimitsMem: 'VAULT_AUTOPILOT_WEBHOOK_AGENT_LIMITS_MEM',
  caSyncInterval: 'VAULT_AUTOPILOT_WEBHOOK_CA_SYNC_INTERVAL_MS',
  caValidity: 'VAULT_AUTOPILOT_WEBHOOK_CA_VALIDITY_MS',
  servingValidity: 'VAULT_AUTOPILOT_WEBHOOK_CERT_VALIDITY_MS',
  rotationPropagation: 'VAULT_AUTOPILOT_WEBHOOK_ROTATION_PROPAGATION_MS',
  certCheckInterval: 'VAULT_AUTOPILOT_WEBHOOK_CERT_CHECK_INTERVAL_MS',
  maxBodyBytes: 'VAULT_AUTOPILOT_WEBHOOK_MAX_BODY_BYTES',
  maxBufferedBytes: 'VAULT_AUTOPILOT_WEBHOOK_MAX_BUFFERED_BYTES',
  maxConcurrent: 'VAULT_AUTOPILOT_WEBHOOK_MAX_CONCURRENT',
  bodyTimeoutMs: 'VAULT_AUTOPILOT_WEBHOOK_BODY_TIMEOUT_MS',
  // Shared with the other lifecycles, so a pod's default role and Vault match
  // what the ServiceAccount controller creates.
  annotationPrefix: 'VAULT_AUTOPILOT_ANNOTATION_PREFIX',
  targetVault: 'VAULT_AUTOPILOT_TARGET_VAULT',
  kubernetesAuthPath: 'VAULT_AUTOPILOT_KUBERNETES_AUTH_PATH',
  operatorNamespace: 'VAULT_AUTOPILOT_NAMESPACE',
} as const;

/** Multi-arch (amd64/arm64) official image; the same Vault version the test suite runs. */
export const DEFAULT_AGENT_IMAGE = 'hashicorp/vault:1.21.4';
export const DEFAULT_CERT_DIR = '/tmp/k8s-webhook-server/serving-certs';
export const SYSTEM_NAMESPACES = ['kube-system', 'kube-public', 'kube-node-lease'] as const;
export const WEBHOOK_PATH = '/mutate-pods';

export function parseWebhookSettings(env: Record<string, string | undefined>): WebhookSettings {
  const settings = new SettingsReader(env);
  const str = (key: string, fallback: string) => settings.str(key, fallback);
  const int = (key: string, fallback: number, min: number, max: number) => settings.int(key, fallback, { min, max });
  const bool = (key: string, fallback: boolean) => settings.bool(key, fallback);
  const oneOf = <T extends string>(key: string, fallback: T, accepted: readonly T[]) => settings.oneOf(key, fallback, accepted);

  const prefix = str(WEBHOOK_SETTING.annotationPrefix, DEFAULT_ANNOTATION_PREFIX);
  if (!prefix.endsWith('/')) settings.problem(`${WEBHOOK_SETTING.annotationPrefix}=${JSON.stringify(prefix)}: must end with "/"`);
  const target = str(WEBHOOK_SETTING.targetVault, 'vault-system/vault');
  const [vaultNs, vaultName, extra] = target.split('/');
  if (!vaultNs || !vaultName || extra !== undefined) settings.problem(`${WEBHOOK_SETTING.targetVault}=${JSON.stringify(target)}: expected "<namespace>/<name>"`);
  const operatorNamespace = str(WEBHOOK_SETTING.operatorNamespace, str('POD_NAMESPACE', 'vault-autopilot'));
  const authMount = str(WEBHOOK_SETTING.kubernetesAuthPath, 'kubernetes').replace(/^\/+|\/+$/g, '');
  const url = env[WEBHOOK_SETTING.url]?.trim();
  const clientCaFile = env[WEBHOOK_SETTING.clientCaFile]?.trim() || undefined;
  const clientNames = (env[WEBHOOK_SETTING.clientNames] ?? '').split(',').map((n) => n.trim()).filter(Boolean);
  if (clientNames.length && !clientCaFile) settings.problem(`${WEBHOOK_SETTING.clientNames} needs ${WEBHOOK_SETTING.clientCaFile} (names are checked on a verified client certificate)`);
  const DAY = 86_400_000;
  const watchNamespaces = parseWatchNamespaces(env[OperatorEnv.watchNamespaces], settings.problems);
  const caValidityMs = int(WEBHOOK_SETTING.caValidity, 365 * DAY, 60_000, 10 * 365 * DAY);
  const servingValidityMs = int(WEBHOOK_SETTING.servingValidity, 30 * DAY, 30_000, 365 * DAY);
  const rotationPropagationMs = int(WEBHOOK_SETTING.rotationPropagation, 5 * 60_000, 0, DAY);
  const certCheckIntervalMs = int(WEBHOOK_SETTING.certCheckInterval, 60_000, 50, DAY);
  if (servingValidityMs > caValidityMs) {
    settings.problem(`${WEBHOOK_SETTING.servingValidity} (${servingValidityMs}) must not exceed ${WEBHOOK_SETTING.caValidity} (${caValidityMs})`);
  }
  if (rotationPropagationMs > 0 && certCheckIntervalMs >= rotationPropagationMs) {
    settings.problem(`${WEBHOOK_SETTING.certCheckInterval} must be below ${WEBHOOK_SETTING.rotationPropagation}: replicas must see a new certificate before the old CA is dropped`);
  }

  const parsed: WebhookSettings = {
    annotationPrefix: prefix,
    agentImage: str(WEBHOOK_SETTING.agentImage, DEFAULT_AGENT_IMAGE),
    agentResources: {
      requests: { cpu: str(WEBHOOK_SETTING.agentRequestsCpu, '50m'), memory: str(WEBHOOK_SETTING.agentRequestsMem, '64Mi') },
      limits: { cpu: str(WEBHOOK_SETTING.agentLimitsCpu, '500m'), memory: str(WEBHOOK_SETTING.agentLimitsMem, '128Mi') },
    },
    defaultVault: { namespace: vaultNs, name: vaultName },
    defaultAuthPath: authMount.startsWith('auth/') ? authMount : `auth/${authMount}`,
    // the operator's own namespace is skipped unless it is explicitly watched (OLM OwnNamespace)
    skipNamespaces: [...SYSTEM_NAMESPACES, ...(watchNamespaces?.includes(operatorNamespace) ? [] : [operatorNamespace])],
    ...(watchNamespaces ? { watchNamespaces } : {}),
    agentRunAsUser: 100,
    agentRunAsGroup: 1000,
    port: int(WEBHOOK_SETTING.port, 9443, 0, 65535),
    host: str(WEBHOOK_SETTING.host, '0.0.0.0'),
    ...(clientCaFile ? { clientCaFile } : {}),
    clientNames,
    limits: {
      // a Pod is at most ~1.5 MiB in etcd; its AdmissionReview a little more
      maxBodyBytes: int(WEBHOOK_SETTING.maxBodyBytes, 2 * 1024 * 1024, 64 * 1024, 16 * 1024 * 1024),
      maxBufferedBytes: int(WEBHOOK_SETTING.maxBufferedBytes, 32 * 1024 * 1024, 64 * 1024, 256 * 1024 * 1024),
      maxConcurrent: int(WEBHOOK_SETTING.maxConcurrent, 8, 1, 256),
      bodyTimeoutMs: int(WEBHOOK_SETTING.bodyTimeoutMs, 10_000, 100, 60_000),
    },
    certDir: str(WEBHOOK_SETTING.certDir, DEFAULT_CERT_DIR),
    certReloadIntervalMs: int(WEBHOOK_SETTING.certReloadInterval, 10_000, 100, 3_600_000),
    selfManagedCerts: bool(WEBHOOK_SETTING.selfManagedCerts, false),
    certSecretName: str(WEBHOOK_SETTING.certSecretName, 'vault-autopilot-webhook-tls'),
    configurationName: str(WEBHOOK_SETTING.configurationName, 'vault-autopilot-webhook'),
    manageConfiguration: bool(WEBHOOK_SETTING.manageConfiguration, true),
    serviceName: str(WEBHOOK_SETTING.serviceName, 'vault-autopilot-webhook'),
    servicePort: int(WEBHOOK_SETTING.servicePort, 443, 1, 65535),
    ...(url ? { url } : {}),
    failurePolicy: oneOf<FailurePolicy>(WEBHOOK_SETTING.failurePolicy, 'Fail', ['Fail', 'Ignore']),
    timeoutSeconds: int(WEBHOOK_SETTING.timeoutSeconds, 10, 1, 30),
    namespaceLabels: parseLabels(WEBHOOK_SETTING.namespaceSelector, env[WEBHOOK_SETTING.namespaceSelector], settings.problems),
    nativeSidecars: oneOf<NativeSidecarMode>(WEBHOOK_SETTING.nativeSidecars, 'auto', ['auto', 'on', 'off']),
    operatorNamespace,
    caSyncIntervalMs: int(WEBHOOK_SETTING.caSyncInterval, 60_000, 100, 86_400_000),
    caValidityMs,
    servingValidityMs,
    rotationPropagationMs,
    certCheckIntervalMs,
  };
  settings.done();
  return parsed;
}

/** "a=b,c=d" -> {a: "b", c: "d"} (equality selectors only). */
function parseLabels(key: string, raw: string | undefined, problems: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of (raw ?? '').split(',').map((p) => p.trim()).filter(Boolean)) {
    const m = /^([A-Za-z0-9./_-]+)=([A-Za-z0-9._-]*)$/.exec(part);
    if (!m) {
      problems.push(`${key}=${JSON.stringify(raw)}: expected "label=value[,label=value]"`);
      return {};
    }
    out[m[1]!] = m[2]!;
  }
  return out;
}

/** Native sidecars (init containers with restartPolicy: Always) are on by default from Kubernetes 1.29. */
export function supportsNativeSidecars(mode: NativeSidecarMode, version: { major: string; minor: string } | undefined): boolean {
  if (mode !== 'auto') return mode === 'on';
  if (!version) return false;
  const major = Number.parseInt(version.major, 10);
  const minor = Number.parseInt(version.minor, 10); // "29+" on some distributions
  return major > 1 || (major === 1 && minor >= 29);
}
