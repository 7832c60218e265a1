// What differs between the two ways vault-autopilot is installed, and the
// names every generated object shares. The kubectl install manages its own
// webhook certificates; under OLM, OLM issues them, creates the webhook
// Service and MutatingWebhookConfiguration, and mounts tls.crt/tls.key.

import { WEBHOOK_PATH, WEBHOOK_SETTING, DEFAULT_CERT_DIR } from '../webhook/settings.js';
import { OperatorEnv } from '../settings.js';

export const InstallMode = {
  /** `kubectl apply -f olm-bundle/install.yaml`: self-managed webhook certificates. */
  Kubectl: 'kubectl',
  /** Operator Lifecycle Manager: OLM owns webhook certificates, Service and configuration. */
  Olm: 'olm',
} as const;
export type InstallMode = (typeof InstallMode)[keyof typeof InstallMode];

export interface InstallSettings {
  mode: InstallMode;
  /** package.json version, without a leading "v". */
  version: string;
  /** Image reference the Deployment runs (tag or digest). */
  image: string;
  /** Namespace the operator runs in (kubectl install; under OLM the OperatorGroup's namespace). */
  namespace: string;
  /**
   * kubectl install scope: the namespaces the operator watches, with a Role in
   * each (undefined = all namespaces, ClusterRole). Under OLM the
   * OperatorGroup decides (olm.targetNamespaces, read at run time).
   */
  watchNamespaces?: string[];
  /** Default per mode (webhookFailurePolicy()); WEBHOOK_FAILURE_POLICY=Fail|Ignore at generation time overrides it. */
  webhookFailurePolicy?: 'Fail' | 'Ignore';
}

/** Names of the objects both install modes create. */
export const NAME = {
  app: 'vault-autopilot',
  serviceAccount: 'vault-autopilot',
  deployment: 'vault-autopilot',
  clusterRole: 'vault-autopilot',
  role: 'vault-autopilot',
  /** Install scope: the Role (and binding) in each watched namespace. */
  watchRole: 'vault-autopilot-watch',
  /** Self-managed mode: Service in front of the webhook port (matches the webhook's default setting). */
  webhookService: 'vault-autopilot-webhook',
  metricsService: 'vault-autopilot-metrics',
  webhookConfiguration: 'vault-autopilot-webhook',
  /** The webhook entry's name (must be a fully qualified DNS name). */
  webhook: 'pods.vault.autopilot.dev',
  /** Self-managed mode: Secret holding the CA and serving certificate. */
  webhookCertSecret: 'vault-autopilot-webhook-tls',
} as const;

export const PORT = {
  /** HTTPS admission webhook (container). */
  webhook: 9443,
  /** Service port the apiserver calls. */
  webhookService: 443,
  /** Plain HTTP /healthz, /readyz, /metrics. */
  health: 8080,
} as const;

export { WEBHOOK_PATH, DEFAULT_CERT_DIR };

/** The container registry repository the images are published to. */
export const IMAGE_REPOSITORY = 'ghcr.io/vault-autopilot/vault-autopilot';
export const DEFAULT_NAMESPACE = 'vault-autopilot';
export const OLM_CHANNEL = 'stable';
/** OLM writes the OperatorGroup's target namespaces (comma-separated; "" = all) into this pod template annotation. */
export const OLM_TARGET_NAMESPACES = 'olm.targetNamespaces';

/** OLM names the webhook Service `<deploymentName>-service`. */
export function olmWebhookServiceName(deploymentName: string): string {
  return `${deploymentName}-service`;
}

export function defaultInstallSettings(mode: InstallMode, version: string): InstallSettings {
  return { mode, version, image: `${IMAGE_REPOSITORY}:${version}`, namespace: DEFAULT_NAMESPACE };
}

/** Operator settings (environment) that depend on how it is installed. */
export function installEnvironment(settings: InstallSettings): Record<string, string> {
  const selfManaged = settings.mode === InstallMode.Kubectl;
  return {
    [WEBHOOK_SETTING.port]: String(PORT.webhook),
    [WEBHOOK_SETTING.selfManagedCerts]: String(selfManaged),
    // The configuration comes from install.yaml or from OLM; the operator only
    // keeps the caBundle current in self-managed mode (get/update on its name).
    [WEBHOOK_SETTING.manageConfiguration]: 'false',
    [WEBHOOK_SETTING.configurationName]: NAME.webhookConfiguration,
    [WEBHOOK_SETTING.serviceName]: selfManaged ? NAME.webhookService : olmWebhookServiceName(NAME.deployment),
    [WEBHOOK_SETTING.servicePort]: String(PORT.webhookService),
    [WEBHOOK_SETTING.certSecretName]: NAME.webhookCertSecret,
    [WEBHOOK_SETTING.certDir]: DEFAULT_CERT_DIR,
    [WEBHOOK_SETTING.failurePolicy]: webhookFailurePolicy(settings),
    VAULT_AUTOPILOT_HEALTH_PORT: String(PORT.health),
    // two replicas: the Lease holder reconciles, both serve the webhook
    VAULT_AUTOPILOT_LEADER_ELECTION: 'true',
    VAULT_AUTOPILOT_LOG_LEVEL: 'info',
    // kubectl install scope; under OLM the Deployment reads olm.targetNamespaces instead (deployment.ts)
    ...(settings.mode === InstallMode.Kubectl && settings.watchNamespaces?.length ? { [OperatorEnv.watchNamespaces]: settings.watchNamespaces.join(',') } : {}),
    // external Vaults that may receive the operator's credentials and unseal keys: none until the platform lists them
    VAULT_AUTOPILOT_EXTERNAL_VAULT_ADDRESSES: '',
  };
}

/**
 * Fail vs Ignore, per install mode (see README "Availability and failure"):
 *  - kubectl (install.yaml): Fail. A pod that asked for Vault secrets never
 *    starts without them; kube-system, kube-public, kube-node-lease and the
 *    operator's own namespace are outside the namespaceSelector and two
 *    replicas with a PodDisruptionBudget serve it, so the webhook being down
 *    can block application pods only, never the cluster or the operator.
 *  - OLM: Ignore. OLM writes the namespaceSelector itself (from the
 *    OperatorGroup; none at all for AllNamespaces) and the CSV cannot exclude
 *    kube-system, so Fail there could stop system pods from being created.
 *    HashiCorp's injector ships Ignore for the same reason.
 */
export function webhookFailurePolicy(settings: Pick<InstallSettings, 'mode' | 'webhookFailurePolicy'>): 'Fail' | 'Ignore' {
  return settings.webhookFailurePolicy ?? (settings.mode === InstallMode.Olm ? 'Ignore' : 'Fail');
}
