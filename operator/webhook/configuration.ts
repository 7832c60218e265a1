// The operator's MutatingWebhookConfiguration: its desired shape (pure) and
// the caBundle publisher the self-managed certificates use.

import type { AdmissionregistrationV1Api, V1MutatingWebhook, V1MutatingWebhookConfiguration } from '@kubernetes/client-node';
import { type BundlePublisher, getOrUndefined } from '../framework/index.js';
import { WEBHOOK_PATH, type WebhookSettings } from './settings.js';

export const POD_WEBHOOK_NAME = 'pods.vault.autopilot.dev';

type ConfigurationSettings = Pick<
  WebhookSettings,
  'configurationName' | 'failurePolicy' | 'timeoutSeconds' | 'namespaceLabels' | 'skipNamespaces' | 'watchNamespaces' | 'operatorNamespace' | 'serviceName' | 'servicePort' | 'url'
>;

/**
 * Every pod CREATE outside the excluded namespaces is sent to the webhook
 * (annotations cannot be selected on). `failurePolicy` is explicit:
 *  - Fail (default): a pod that asked for secrets never starts without them,
 *    but while the webhook is down no pod can be created in a matched
 *    namespace — hence the exclusion of kube-system, kube-public,
 *    kube-node-lease and the operator's own namespace, so the operator itself
 *    (and the cluster's system pods) can always start.
 *  - Ignore: pods keep being created while the webhook is down, but they start
 *    WITHOUT the agent or VAULT_ADDR — silently missing secrets.
 * The Vault servers the operator deploys are kept out by an objectSelector:
 * with Fail, a sealed-Vault restart must never wait on the webhook (which may
 * itself be waiting on that Vault).
 * sideEffects NoneOnDryRun: the handler creates the CA ConfigMap only on real admissions.
 */
export function desiredWebhookConfiguration(settings: ConfigurationSettings, caBundlePem: string | undefined): V1MutatingWebhookConfiguration {
  const caBundle = caBundlePem ? Buffer.from(caBundlePem, 'utf8').toString('base64') : undefined;
  const clientConfig: V1MutatingWebhook['clientConfig'] = settings.url
    ? { url: settings.url }
    : { service: { namespace: settings.operatorNamespace, name: settings.serviceName, port: settings.servicePort, path: WEBHOOK_PATH } };
  if (caBundle) clientConfig.caBundle = caBundle;
  return {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'MutatingWebhookConfiguration',
    metadata: { name: settings.configurationName, labels: { 'app.kubernetes.io/managed-by': 'vault-autopilot' } },
    webhooks: [
      {
        name: POD_WEBHOOK_NAME,
        admissionReviewVersions: ['v1'],
        clientConfig,
        rules: [{ operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods'], scope: 'Namespaced' }],
        failurePolicy: settings.failurePolicy,
        matchPolicy: 'Equivalent',
        sideEffects: 'NoneOnDryRun',
        timeoutSeconds: settings.timeoutSeconds,
        reinvocationPolicy: 'Never',
        objectSelector: notOperatorManagedPods(),
        namespaceSelector: {
          ...(Object.keys(settings.namespaceLabels).length > 0 ? { matchLabels: { ...settings.namespaceLabels } } : {}),
          matchExpressions: [
            { key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: [...new Set(settings.skipNamespaces)] },
            // install scope: only the watched namespaces' pods are sent at all
            ...(settings.watchNamespaces ? [{ key: 'kubernetes.io/metadata.name', operator: 'In', values: [...settings.watchNamespaces] }] : []),
          ],
        },
      },
    ],
  };
}

/** Pods the operator itself creates (its Vault servers) carry this label. */
export const MANAGED_BY_LABEL = { key: 'app.kubernetes.io/managed-by', value: 'vault-autopilot' } as const;

export function notOperatorManagedPods(): { matchExpressions: { key: string; operator: 'NotIn'; values: string[] }[] } {
  return { matchExpressions: [{ key: MANAGED_BY_LABEL.key, operator: 'NotIn', values: [MANAGED_BY_LABEL.value] }] };
}

/** `desired` is contained in `actual` (server defaults and extra fields are ignored). */
export function containedIn(desired: unknown, actual: unknown): boolean {
  if (Array.isArray(desired)) {
    return Array.isArray(actual) && desired.length === actual.length && desired.every((d, i) => containedIn(d, actual[i]));
  }
  if (desired && typeof desired === 'object') {
    if (!actual || typeof actual !== 'object' || Array.isArray(actual)) return false;
    return Object.entries(desired).every(([k, v]) => v === undefined || containedIn(v, (actual as Record<string, unknown>)[k]));
  }
  return desired === actual;
}

/**
 * Keeps the caBundle of the configuration current. With `manage`, it also
 * creates the configuration and restores its rules/selectors/failurePolicy;
 * without, it only patches the caBundle of a configuration someone else made.
 */
export class WebhookConfigurationPublisher implements BundlePublisher {
  constructor(
    private readonly api: AdmissionregistrationV1Api,
    private readonly settings: ConfigurationSettings,
    private readonly manage: boolean,
  ) {}

  async read(): Promise<string | undefined> {
    const current = await this.#get();
    const bundles = new Set((current?.webhooks ?? []).map((w) => w.clientConfig.caBundle ?? ''));
    if (bundles.size !== 1) return undefined;
    const [only] = [...bundles];
    if (!only) return undefined;
    if (this.manage && !containedIn(desiredWebhookConfiguration(this.settings, undefined).webhooks, stripCaBundles(current!.webhooks))) return undefined;
    return Buffer.from(only, 'base64').toString('utf8');
  }

  async publish(bundle: string): Promise<void> {
    const current = await this.#get();
    if (this.manage) {
      const desired = desiredWebhookConfiguration(this.settings, bundle);
      if (!current) {
        await this.api.createMutatingWebhookConfiguration({ body: desired });
        return;
      }
      if (containedIn(desired.webhooks, current.webhooks)) return;
      await this.api.replaceMutatingWebhookConfiguration({
        name: this.settings.configurationName,
        body: { ...desired, metadata: { ...current.metadata, labels: { ...current.metadata?.labels, ...desired.metadata!.labels } } },
      });
      return;
    }
    if (!current) throw new Error(`MutatingWebhookConfiguration ${this.settings.configurationName} does not exist`);
    const caBundle = Buffer.from(bundle, 'utf8').toString('base64');
    const webhooks = (current.webhooks ?? []).map((w) => ({ ...w, clientConfig: { ...w.clientConfig, caBundle } }));
    await this.api.replaceMutatingWebhookConfiguration({ name: this.settings.configurationName, body: { ...current, webhooks } });
  }

  async #get(): Promise<V1MutatingWebhookConfiguration | undefined> {
    return getOrUndefined(this.api.readMutatingWebhookConfiguration({ name: this.settings.configurationName }));
  }
}

function stripCaBundles(webhooks: V1MutatingWebhook[] | undefined): V1MutatingWebhook[] {
  return (webhooks ?? []).map((w) => ({ ...w, clientConfig: { ...w.clientConfig, caBundle: undefined } }));
}
