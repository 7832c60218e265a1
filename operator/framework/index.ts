// The framework's public API: everything other folders import comes from here.
export { createLogger, secret, markSecret, setScopedSecrets, addScopedSecret, dropScopedSecrets, objectScope, redactText, errorMessage, Secret, REDACTED, type Logger, type LoggerOptions } from './logger.js';
export { systemClock, FakeClock, type Clock, type TimerHandle } from './clock.js';
export { backoffDelay, DEFAULT_BACKOFF, type BackoffPolicy } from './backoff.js';
export { WorkQueue, type KeySlot, type WorkQueueOptions, type ProcessResult } from './work-queue.js';
export { setCondition, setConditions, getCondition, isConditionTrue, removeCondition, toKubeTime, type Condition, type ConditionStatus, type ConditionUpdate } from './conditions.js';
export { parseDuration, SettingsError, SettingsReader, type Env } from './settings-kit.js';
export { isStatusUnchanged, deepEqual, applyMergePatch, mergePatchFor, canonicalJson } from './status.js';
export { ExpectedState, ReportedFailure } from './reconcile-failure.js';
export { makeKubeClients, resourcePath, errorCode, isNotFound, getOrUndefined, KubeApiError, RawKube, PATCH, type KubeClients, type RawRequest } from './kube.js';
export { cappedMessages, EventRecorder, type EventType } from './events.js';
export { ResilientWatch, diffRelist, objectKey, type WatchEventType, type ResourceRef } from './watch.js';
export { NamespacedWatchSet, type ObjectWatch } from './watch-set.js';
export { MetricsRegistry, Counter, Gauge, Histogram, createOperatorMetrics, metrics, defaultRegistry, type OperatorMetrics, type Labels } from './metrics.js';
export { startHealthServer, healthRequestHandler, type HealthServer, type HealthServerOptions } from './health-server.js';
export {
  AutopilotOperator,
  isRelevantChange,
  type AutopilotOperatorOptions,
  type ObjectKey,
  type OwnedWatchSpec,
  type RelatedWatchSpec,
  type ControllerSpec,
  type ReconcileContext,
  type ReconcileResult,
} from './operator.js';
export type { AdmissionHandler, AdmissionDecision, AdmissionRequest, AdmissionReview, AdmissionWebhookHost, JsonPatchOperation } from './admission.js';
export { LeaderElector, decideLease, type LeaderElectionOptions, type LeaseDecision, type LeaseRecord } from './leader-election.js';
export {
  createCertificateAuthority,
  createServingCertificate,
  SelfManagedCertificates,
  type BundlePublisher,
  type IssuedPair,
  type RotationPolicy,
} from './webhook-certs.js';
export { FileCertificateSource, type CertificateSource, type WebhookLog } from './certificate-source.js';
export { WebhookServer } from './webhook-server.js';
