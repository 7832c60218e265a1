// The operator's Deployment, Services and namespace. Sized for a Raspberry Pi 4
// (4 GB, 4 cores) sharing the node with the workloads it serves.

import type { V1Deployment, V1EnvVar, V1Namespace, V1PodDisruptionBudget, V1Service } from '@kubernetes/client-node';
import { installEnvironment, InstallMode, NAME, OLM_TARGET_NAMESPACES, PORT, type InstallSettings } from './install-settings.js';
import { OperatorEnv } from '../settings.js';
import { commonLabels, selectorLabels } from './labels.js';

/**
 * Measured: all four lifecycles started and idle, the image's bundle uses
 * 71-81 MB RSS (`make bench-memory`; 164 MiB before the bundle). The request
 * covers that and the object caches; the limit leaves room for a burst of
 * reconciles and fits a Raspberry Pi 4 (2-8 GB) next to its workloads. One
 * core at most: start-up on a Pi is CPU-bound.
 */
export const RESOURCES = {
  requests: { cpu: '50m', memory: '192Mi' },
  limits: { cpu: '1', memory: '384Mi' },
} as const;

/** V8's old space is kept well below the container limit so Node collects garbage instead of being OOM-killed. */
export const MAX_OLD_SPACE_MB = 224;

/**
 * Node's flags in the Deployment (NODE_OPTIONS). A 1 MB young generation
 * (semi-space; V8 grows it to 16 MB by default) keeps ~8 MB less resident
 * when idle (`make bench-memory`); the webhook's per-request garbage is small.
 */
export const NODE_FLAGS = [`--max-old-space-size=${MAX_OLD_SPACE_MB}`, '--max-semi-space-size=1'];

/**
 * Node's flags on the image's command line (the Dockerfile's ENTRYPOINT and
 * build-image.sh's; a unit test keeps the three equal): V8 flags Node refuses
 * in NODE_OPTIONS. `--max-opt=2`: hot code is optimised by Maglev, never by
 * Turbofan, whose own machine code (pages of the node binary, resident once
 * it runs, whatever thread compiles) costs 4-7 MB idle and 10-20 MB at peak
 * under webhook load. Turbofan halves the webhook's CPU per request at full
 * rate; its leanest variant (--no-concurrent-recompilation with
 * MALLOC_ARENA_MAX=2) keeps the idle targets but holds 2x vault-k8s's memory
 * under load and +12 MB at scale (README "Performance", 2026-12-01).
 */
export const ENTRYPOINT_NODE_FLAGS = ['--max-opt=2'];

/** The arm64 and amd64 variants of the image exist; nothing else does. */
export const SUPPORTED_ARCHITECTURES = ['amd64', 'arm64'] as const;

/**
 * Two replicas: the Lease holder runs the controllers, both serve the webhook,
 * so a crash, an upgrade or a node drain never leaves the webhook without a
 * server. The PodDisruptionBudget keeps one through voluntary disruptions.
 */
export const REPLICAS = 2;

export function namespace(settings: InstallSettings): V1Namespace {
  return { apiVersion: 'v1', kind: 'Namespace', metadata: { name: settings.namespace, labels: commonLabels(settings) } };
}

function environment(settings: InstallSettings): V1EnvVar[] {
  const fromField = (name: string, fieldPath: string): V1EnvVar => ({ name, valueFrom: { fieldRef: { fieldPath } } });
  return [
    fromField('POD_NAMESPACE', 'metadata.namespace'),
    fromField('POD_NAME', 'metadata.name'),
    fromField('VAULT_AUTOPILOT_NAMESPACE', 'metadata.namespace'),
    // the operator logs in to the Vaults it manages as this ServiceAccount (and KMSVaultSecrets are written that way)
    fromField('VAULT_AUTOPILOT_OPERATOR_SERVICE_ACCOUNT', 'spec.serviceAccountName'),
    fromField('VAULT_AUTOPILOT_OPERATOR_NAMESPACE', 'metadata.namespace'),
    ...Object.entries(installEnvironment(settings)).map(([name, value]) => ({ name, value })),
    // OLM's convention: the OperatorGroup's target namespaces ("" = all) are an annotation OLM puts on the pod
    ...(settings.mode === InstallMode.Olm ? [fromField(OperatorEnv.watchNamespaces, `metadata.annotations['${OLM_TARGET_NAMESPACES}']`)] : []),
    { name: 'NODE_OPTIONS', value: NODE_FLAGS.join(' ') },
  ];
}

export function deployment(settings: InstallSettings): V1Deployment {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: NAME.deployment, namespace: settings.namespace, labels: { ...commonLabels(settings), ...selectorLabels() } },
    spec: {
      replicas: REPLICAS,
      selector: { matchLabels: selectorLabels() },
      // A new pod is ready (and leader-elected) before the old one goes.
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } },
      template: {
        metadata: {
          labels: { ...commonLabels(settings), ...selectorLabels() },
          annotations: { 'kubectl.kubernetes.io/default-container': 'operator' },
        },
        spec: {
          serviceAccountName: NAME.serviceAccount,
          automountServiceAccountToken: true,
          securityContext: {
            runAsNonRoot: true,
            runAsUser: 65532,
            runAsGroup: 65532,
            fsGroup: 65532,
            seccompProfile: { type: 'RuntimeDefault' },
          },
          affinity: {
            // spread the replicas over nodes where there are several (a preference: one node still runs both)
            podAntiAffinity: {
              preferredDuringSchedulingIgnoredDuringExecution: [{
                weight: 100,
                podAffinityTerm: { topologyKey: 'kubernetes.io/hostname', labelSelector: { matchLabels: selectorLabels() } },
              }],
            },
            nodeAffinity: {
              requiredDuringSchedulingIgnoredDuringExecution: {
                nodeSelectorTerms: [{
                  matchExpressions: [
                    { key: 'kubernetes.io/arch', operator: 'In', values: [...SUPPORTED_ARCHITECTURES] },
                    { key: 'kubernetes.io/os', operator: 'In', values: ['linux'] },
                  ],
                }],
              },
            },
          },
          terminationGracePeriodSeconds: 30,
          containers: [{
            name: 'operator',
            image: settings.image,
            imagePullPolicy: 'IfNotPresent',
            env: environment(settings),
            ports: [
              { name: 'webhook', containerPort: PORT.webhook, protocol: 'TCP' },
              { name: 'health', containerPort: PORT.health, protocol: 'TCP' },
            ],
            resources: { requests: { ...RESOURCES.requests }, limits: { ...RESOURCES.limits } },
            securityContext: {
              allowPrivilegeEscalation: false,
              readOnlyRootFilesystem: true,
              runAsNonRoot: true,
              capabilities: { drop: ['ALL'] },
            },
            // A Pi's SD card can make the first start slow: allow up to 2 minutes.
            startupProbe: { httpGet: { path: '/healthz', port: 'health' }, periodSeconds: 2, failureThreshold: 60 },
            livenessProbe: { httpGet: { path: '/healthz', port: 'health' }, periodSeconds: 20, timeoutSeconds: 5, failureThreshold: 3 },
            readinessProbe: { httpGet: { path: '/readyz', port: 'health' }, periodSeconds: 10, timeoutSeconds: 5, failureThreshold: 3 },
            volumeMounts: [{ name: 'tmp', mountPath: '/tmp' }],
          }],
          volumes: [{ name: 'tmp', emptyDir: { sizeLimit: '64Mi' } }],
        },
      },
    },
  };
}

/** At most one replica away at a time through voluntary disruptions (drain, upgrade). */
export function podDisruptionBudget(settings: InstallSettings): V1PodDisruptionBudget {
  return {
    apiVersion: 'policy/v1',
    kind: 'PodDisruptionBudget',
    metadata: { name: NAME.deployment, namespace: settings.namespace, labels: commonLabels(settings) },
    spec: { minAvailable: 1, selector: { matchLabels: selectorLabels() } },
  };
}

export function webhookService(settings: InstallSettings): V1Service {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: NAME.webhookService, namespace: settings.namespace, labels: commonLabels(settings) },
    spec: {
      selector: selectorLabels(),
      ports: [{ name: 'https', port: PORT.webhookService, targetPort: 'webhook', protocol: 'TCP' }],
    },
  };
}

export function metricsService(settings: InstallSettings): V1Service {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: NAME.metricsService, namespace: settings.namespace, labels: { ...commonLabels(settings), 'app.kubernetes.io/component': 'metrics' } },
    spec: {
      selector: selectorLabels(),
      ports: [{ name: 'metrics', port: PORT.health, targetPort: 'health', protocol: 'TCP' }],
    },
  };
}
