// Small object builders for the webhook tests.
import type { V1Container, V1Pod } from '@kubernetes/client-node';
import type { MutationSettings } from '../../../../operator/webhook/mutate.js';

export const PREFIX = 'vault.autopilot.dev/';

export function aPod(opts: {
  annotations?: Record<string, string>;
  containers?: Array<Partial<V1Container> & { name: string }>;
  initContainers?: Array<Partial<V1Container> & { name: string }>;
  serviceAccountName?: string;
} = {}): V1Pod {
  const pod: V1Pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'app', namespace: 'team-a' },
    spec: {
      containers: (opts.containers ?? [{ name: 'app' }]).map((c) => ({ image: 'busybox:1.36', ...c })),
    },
  };
  if (opts.annotations) pod.metadata!.annotations = { ...opts.annotations };
  if (opts.initContainers) pod.spec!.initContainers = opts.initContainers.map((c) => ({ image: 'busybox:1.36', ...c }));
  if (opts.serviceAccountName) pod.spec!.serviceAccountName = opts.serviceAccountName;
  return pod;
}

export function ann(values: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(values).map(([k, v]) => [PREFIX + k, v]));
}

export function someSettings(overrides: Partial<MutationSettings> = {}): MutationSettings {
  return {
    annotationPrefix: PREFIX,
    agentImage: 'hashicorp/vault:1.21.4',
    agentResources: { requests: { cpu: '50m', memory: '64Mi' }, limits: { cpu: '500m', memory: '128Mi' } },
    defaultVault: { namespace: 'vault-system', name: 'vault' },
    defaultAuthPath: 'auth/kubernetes',
    skipNamespaces: ['kube-system', 'kube-public', 'kube-node-lease', 'vault-autopilot'],
    agentRunAsUser: 100,
    agentRunAsGroup: 1000,
    nativeSidecars: true,
    vault: { address: 'https://vault.vault-system.svc:8200', caConfigMapName: 'vault-ca-vault-system-vault' },
    ...overrides,
  };
}
