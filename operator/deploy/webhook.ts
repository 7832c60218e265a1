// The pod mutating webhook's registration: a MutatingWebhookConfiguration for
// the kubectl install (caBundle filled in by the running operator) and the
// equivalent `webhookdefinitions` entry of the OLM CSV (OLM fills it in).

import type { V1MutatingWebhookConfiguration, V1LabelSelector, V1RuleWithOperations } from '@kubernetes/client-node';
import { SYSTEM_NAMESPACES } from '../webhook/settings.js';
import { NAME, PORT, WEBHOOK_FAILURE_POLICY, WEBHOOK_PATH, type InstallSettings } from './install-settings.js';
import { commonLabels } from './labels.js';

export const WEBHOOK_TIMEOUT_SECONDS = 10;

const NAMESPACE_NAME_LABEL = 'kubernetes.io/metadata.name';

export const POD_CREATE_RULES: V1RuleWithOperations[] = [
  { apiGroups: [''], apiVersions: ['v1'], resources: ['pods'], operations: ['CREATE'], scope: 'Namespaced' },
];

/**
 * System namespaces and the operator's own are never mutated: the operator
 * must be able to start even when its webhook cannot answer.
 */
export function webhookNamespaceSelector(operatorNamespace: string): V1LabelSelector {
  const excluded: string[] = [...SYSTEM_NAMESPACES, operatorNamespace];
  return { matchExpressions: [{ key: NAMESPACE_NAME_LABEL, operator: 'NotIn', values: excluded }] };
}

/** The operator's own pods never wait for the operator's webhook. */
export function notTheOperatorsPods(): V1LabelSelector {
  return { matchExpressions: [{ key: 'app.kubernetes.io/name', operator: 'NotIn', values: [NAME.app] }] };
}

export function mutatingWebhookConfiguration(settings: InstallSettings): V1MutatingWebhookConfiguration {
  return {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'MutatingWebhookConfiguration',
    metadata: { name: NAME.webhookConfiguration, labels: commonLabels(settings) },
    webhooks: [{
      name: NAME.webhook,
      admissionReviewVersions: ['v1'],
      // caBundle is absent on purpose: the operator issues its own CA and
      // patches it in at start-up (self-managed certificates).
      clientConfig: { service: { namespace: settings.namespace, name: NAME.webhookService, path: WEBHOOK_PATH, port: PORT.webhookService } },
      rules: POD_CREATE_RULES,
      failurePolicy: WEBHOOK_FAILURE_POLICY,
      matchPolicy: 'Equivalent',
      sideEffects: 'None',
      timeoutSeconds: WEBHOOK_TIMEOUT_SECONDS,
      reinvocationPolicy: 'Never',
      namespaceSelector: webhookNamespaceSelector(settings.namespace),
      objectSelector: notTheOperatorsPods(),
    }],
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
  sideEffects: 'None';
  failurePolicy: string;
  matchPolicy: string;
  timeoutSeconds: number;
  reinvocationPolicy: string;
  rules: V1RuleWithOperations[];
  webhookPath: string;
  /** The CSV schema has no namespaceSelector (OLM derives one from the OperatorGroup). */
  objectSelector: V1LabelSelector;
}

export function olmWebhookDefinition(): OlmWebhookDefinition {
  return {
    type: 'MutatingAdmissionWebhook',
    generateName: NAME.webhook,
    deploymentName: NAME.deployment,
    // OLM's Service listens on containerPort and forwards to targetPort.
    containerPort: PORT.webhookService,
    targetPort: PORT.webhook,
    admissionReviewVersions: ['v1'],
    sideEffects: 'None',
    failurePolicy: WEBHOOK_FAILURE_POLICY,
    matchPolicy: 'Equivalent',
    timeoutSeconds: WEBHOOK_TIMEOUT_SECONDS,
    reinvocationPolicy: 'Never',
    rules: POD_CREATE_RULES,
    webhookPath: WEBHOOK_PATH,
    // System namespaces are skipped by the operator's own code (webhook
    // settings skipNamespaces); its own pods are kept out here.
    objectSelector: notTheOperatorsPods(),
  };
}
