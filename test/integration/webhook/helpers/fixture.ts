// Shared set-up of the webhook integration tests: a Vault resource with a TLS
// Secret for the webhook to point pods at, and the operator running in-process
// with the pod webhook registered, reached by the REAL kube-apiserver over TLS.
import { PassThrough } from 'node:stream';
import { CoreV1Api, CustomObjectsApi, AdmissionregistrationV1Api, type KubeConfig } from '@kubernetes/client-node';
import { AutopilotOperator } from '../../../../operator/framework/operator.js';
import { createLogger } from '../../../../operator/framework/logger.js';
import { createCertificateAuthority } from '../../../../operator/framework/webhook-certs.js';
import type { WebhookServer } from '../../../../operator/framework/webhook-server.js';
import { createWebhookServer, parseWebhookSettings, registerPodWebhook, type PodWebhook, type WebhookSettings } from '../../../../operator/webhook/index.js';
import type { TestEnv } from '../../../harness/index.js';
import { freePort } from '../../../harness/ports.js';

export const INJECTION_LABEL = 'vault.autopilot.dev/test-injection';

export interface VaultFixture {
  namespace: string;
  name: string;
  caPem: string;
}

/** A managed-mode Vault resource (no controller runs: only its CR, its self-service rule and TLS Secret matter to the webhook). */
export async function createVaultFixture(env: TestEnv, prefix: string): Promise<VaultFixture> {
  await env.applyCrds('crds/vault.yaml');
  const kc = env.kubeConfig();
  const namespace = await env.namespace(prefix);
  const name = 'vault';
  await kc.makeApiClient(CustomObjectsApi).createNamespacedCustomObject({
    group: 'vault.autopilot.dev',
    version: 'v1alpha1',
    namespace,
    plural: 'vaults',
    body: {
      apiVersion: 'vault.autopilot.dev/v1alpha1',
      kind: 'Vault',
      metadata: { name, namespace },
      // it serves the namespaces the test's webhook selects (pods of other namespaces are refused)
      spec: { size: 1, selfService: { namespaces: { from: 'Selector', selector: { matchExpressions: [{ key: INJECTION_LABEL, operator: 'Exists' }] } } } },
    },
  });
  const now = Date.now();
  const ca = createCertificateAuthority({ commonName: 'vault test ca', notBefore: new Date(now - 60_000), notAfter: new Date(now + 86_400_000) });
  await kc.makeApiClient(CoreV1Api).createNamespacedSecret({
    namespace,
    body: { metadata: { name: `${name}-tls`, namespace }, data: { 'ca.crt': Buffer.from(ca.cert).toString('base64') } },
  });
  return { namespace, name, caPem: ca.cert };
}

/** A namespace the test's webhook configuration selects (other test files' pods are never sent to it). */
export async function injectedNamespace(env: TestEnv, prefix: string, runId: string): Promise<string> {
  const ns = await env.namespace(prefix);
  await labelNamespace(env.kubeConfig(), ns, runId);
  return ns;
}

export async function labelNamespace(kc: KubeConfig, ns: string, runId: string): Promise<void> {
  const core = kc.makeApiClient(CoreV1Api);
  const current = await core.readNamespace({ name: ns });
  current.metadata!.labels = { ...current.metadata!.labels, [INJECTION_LABEL]: runId };
  await core.replaceNamespace({ name: ns, body: current });
}

export interface RunningWebhook {
  settings: WebhookSettings;
  operator: AutopilotOperator;
  server: WebhookServer;
  pod: PodWebhook;
  port: number;
  logs(): string;
  stop(): Promise<void>;
}

export async function startPodWebhook(
  env: TestEnv,
  /** kubeConfig: the identity/address the webhook's operator (and so its Vault lookups) uses; default the admin's. */
  opts: { vault: VaultFixture; runId: string; operatorNamespace: string; extraEnv?: Record<string, string>; kubeConfig?: KubeConfig },
): Promise<RunningWebhook> {
  const port = await freePort();
  const settings = parseWebhookSettings({
    VAULT_AUTOPILOT_WEBHOOK_PORT: String(port),
    VAULT_AUTOPILOT_WEBHOOK_HOST: '127.0.0.1',
    VAULT_AUTOPILOT_WEBHOOK_URL: `https://127.0.0.1:${port}/mutate-pods`,
    VAULT_AUTOPILOT_WEBHOOK_SELF_MANAGED_CERTS: 'true',
    VAULT_AUTOPILOT_WEBHOOK_CONFIGURATION_NAME: `vault-autopilot-webhook-${opts.runId}`,
    VAULT_AUTOPILOT_WEBHOOK_NAMESPACE_SELECTOR: `${INJECTION_LABEL}=${opts.runId}`,
    VAULT_AUTOPILOT_WEBHOOK_FAILURE_POLICY: 'Fail',
    VAULT_AUTOPILOT_NAMESPACE: opts.operatorNamespace,
    VAULT_AUTOPILOT_TARGET_VAULT: `${opts.vault.namespace}/${opts.vault.name}`,
    VAULT_AUTOPILOT_WEBHOOK_CA_SYNC_INTERVAL_MS: '500',
    ...opts.extraEnv,
  });
  const stream = new PassThrough();
  let captured = '';
  stream.on('data', (chunk: Buffer) => (captured += chunk.toString('utf8')));
  const logger = createLogger({ level: 'debug', stream });
  const kc = env.kubeConfig();
  const kube = { core: kc.makeApiClient(CoreV1Api), admission: kc.makeApiClient(AdmissionregistrationV1Api) };
  const server = createWebhookServer(settings, kube, logger);
  const operator = new AutopilotOperator({ kubeConfig: opts.kubeConfig ?? kc, logger, webhookServer: server });
  const pod = await registerPodWebhook(operator, { settings, vaultCacheTtlMs: 1000 });
  await operator.start();
  return {
    settings,
    operator,
    server,
    pod,
    port,
    logs: () => captured,
    stop: async () => {
      await operator.stop();
      try {
        await kube.admission.deleteMutatingWebhookConfiguration({ name: settings.configurationName });
      } catch {
        // already gone
      }
    },
  };
}
