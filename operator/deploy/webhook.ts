// The pod mutating webhook's registration: a MutatingWebhookConfiguration for
// the kubectl install (caBundle filled in by the running operator) and the
// equivalent `webhookdefinitions` entry of the OLM CSV (OLM fills it in).
// Both come from the webhook lifecycle's own desiredWebhookConfiguration(), fed
// the settings the Deployment gives the operator, so they cannot disagree.

import type { V1LabelSelector, V1MutatingWebhookConfiguration, V1RuleWithOperations } from '@kubernetes/client-node';
import { desiredWebhookConfiguration, notOperatorManagedPods } from '../webhook/configuration.js';
import { parseWebhookSettings, type WebhookSettings } from '../webhook/settings.js';
import { installEnvironment, NAME, PORT, WEBHOOK_PATH, type InstallSettings } from './install-settings.js';
import { commonLabels } from './labels.js';

/** The webhook settings the operator will parse from the Deployment's environment. */
export function operatorWebhookSettings(settings: InstallSettings): WebhookSettings {
  return parseWebhookSettings({ ...installEnvironment(settings), VAULT_AUTOPILOT_NAMESPACE: settings.namespace });
}

export function mutatingWebhookConfiguration(settings: InstallSettings): V1MutatingWebhookConfiguration {
  // No caBundle: the operator issues its own CA and publishes it at start-up.
  const desired = desiredWebhookConfiguration(operatorWebhookSettings(settings), undefined);
  // its own namespace watched: that namespace is selected, so its own pods are kept out by label (failurePolicy Fail)
  if (settings.watchNamespaces?.includes(settings.namespace)) for (const w of desired.webhooks ?? []) w.objectSelector = notTheOperatorsPods();
  return { ...desired, metadata: { ...desired.metadata, name: NAME.webhookConfiguration, labels: { ...commonLabels(settings), ...desired.metadata?.labels } } };
}

/** The operator's own pods never wait for the operator's webhook. */
export function notTheOperatorsPods(): V1LabelSelector {
  return {
    matchExpressions: [{ key: 'app.kubernetes.io/name', operator: 'NotIn', values: [NAME.app] }, ...notOperatorManagedPods().matchExpressions],
  };
}

/** OLM's spec.webhookdefinitions entry for the same webhook. */
export interface OlmWebhookDefinition {
  type: 'MutatingAdmissionWebhook';
  generateName: string;
  deploymentName: string;
  containerPort: number;
  targetPort: number;
  admissionReviewVersions: string[];
  sideEffects: string;
  failurePolicy: string;
  matchPolicy: string;
  timeoutSeconds: number;
  reinvocationPolicy: string;
  rules: V1RuleWithOperations[];
  webhookPath: string;
  /**
   * The CSV schema has no namespaceSelector: OLM derives one from the
   * OperatorGroup (none for AllNamespaces), hence failurePolicy Ignore here
   * (install-settings.ts webhookFailurePolicy).
   */
  objectSelector: V1LabelSelector;
}

export function olmWebhookDefinition(settings: InstallSettings): OlmWebhookDefinition {
  const webhook = desiredWebhookConfiguration(operatorWebhookSettings(settings), undefined).webhooks![0]!;
  return {
    type: 'MutatingAdmissionWebhook',
    generateName: webhook.name,
    deploymentName: NAME.deployment,
    // OLM's Service listens on containerPort and forwards to targetPort.
    containerPort: PORT.webhookService,
    targetPort: PORT.webhook,
    admissionReviewVersions: webhook.admissionReviewVersions,
    sideEffects: webhook.sideEffects,
    failurePolicy: webhook.failurePolicy!,
    matchPolicy: webhook.matchPolicy!,
    timeoutSeconds: webhook.timeoutSeconds!,
    reinvocationPolicy: webhook.reinvocationPolicy!,
    rules: webhook.rules!,
    webhookPath: WEBHOOK_PATH,
    // System namespaces are skipped by the operator's own code (webhook
    // settings skipNamespaces) and, OLM selecting every namespace, the policy
    // is Ignore so a webhook outage never blocks them; its own pods are kept out here.
    objectSelector: notTheOperatorsPods(),
  };
}
