// The pod mutation: a pure function of (pod, namespace, settings) that edits a
// clone and derives the JSON Patch by diff. Every step is "ensure" (add only
// what is missing), so re-admitting a mutated pod produces no patch.

import type { V1Container, V1Pod, V1Volume, V1VolumeMount } from '@kubernetes/client-node';
import { type JsonPatchOperation } from '../framework/index.js';
import { serviceAccountRoleName } from '../api/naming.js';
import { INJECTED, PodAnnotation, parsePodAnnotations, type AgentRequest, type ParsedAnnotations } from './annotations.js';
import { encodeAgentConfig, renderAgentConfig } from './agent-config.js';
import { diffToJsonPatch } from './json-patch.js';
import type { PodMutationSettings } from './settings.js';
import { inWatchScope } from '../settings.js';

/** Names and paths of what the webhook adds; other code and tests refer to these. */
export const INJECTED_NAMES = {
  initContainer: 'vault-agent-init',
  sidecar: 'vault-agent',
  secretsVolume: 'vault-secrets',
  homeVolume: 'vault-agent-home',
  tokenVolume: 'vault-agent-token',
  caVolume: 'vault-ca',
  secretsDir: '/vault/secrets',
  homeDir: '/home/vault',
  tokenDir: '/var/run/secrets/vault-autopilot',
  caDir: '/vault/tls',
  caKey: 'ca.crt',
} as const;

export const VAULT_ENV = { address: 'VAULT_ADDR', caCert: 'VAULT_CACERT' } as const;

const AGENT_COMMAND = [
  '/bin/sh',
  '-ec',
  `echo "$VAULT_CONFIG" | base64 -d > ${INJECTED_NAMES.homeDir}/config.json && exec vault agent -config=${INJECTED_NAMES.homeDir}/config.json`,
];

/** Where the pod reaches its Vault: resolved by the handler (I/O) before the pure mutation. */
export interface VaultTarget {
  address: string;
  /** ConfigMap in the pod's namespace holding the Vault CA under `ca.crt`; absent = Vault is not TLS. */
  caConfigMapName?: string;
}

export interface MutationSettings extends PodMutationSettings {
  /** Native sidecars (init container, restartPolicy: Always): the cluster supports them. */
  nativeSidecars: boolean;
  /** The pod's target Vault; required whenever something is injected. */
  vault?: VaultTarget;
}

export type MutationOutcome =
  | { action: 'skip'; reason: string }
  | { action: 'deny'; message: string }
  | { action: 'patch'; pod: V1Pod; patch: JsonPatchOperation[]; warnings: string[] };

/** `parsed`: the pod's annotations as the caller already parsed them (parsePodAnnotations with the same prefix and namespace). */
export function mutatePod(pod: V1Pod, namespace: string, settings: MutationSettings, parsed?: ParsedAnnotations): MutationOutcome {
  if (settings.skipNamespaces.includes(namespace)) return { action: 'skip', reason: `namespace ${namespace} is excluded` };
  if (!inWatchScope(settings.watchNamespaces, namespace)) return { action: 'skip', reason: `namespace ${namespace} is outside the install scope` };
  parsed ??= parsePodAnnotations(pod, settings.annotationPrefix, namespace);
  if (parsed.kind === 'none') return { action: 'skip', reason: 'no annotations' };
  if (parsed.kind === 'invalid') return { action: 'deny', message: parsed.problems.join('; ') };
  const request = parsed.request;
  if (!request.agent && request.envContainers.length === 0) return { action: 'patch', pod, patch: [], warnings: request.warnings };
  if (!settings.vault) return { action: 'deny', message: 'the target Vault of this pod is unknown' };
  const vault = settings.vault;

  const out = cloneJson(pod);
  const spec = out.spec ?? (out.spec = { containers: [] });

  if (request.agent) {
    const taken = reservedNameClash(out);
    if (taken) return { action: 'deny', message: `${taken} is reserved for the injected Vault Agent; rename it or remove ${settings.annotationPrefix}${PodAnnotation.AgentInject}` };
  }

  if (vault.caConfigMapName) {
    ensureVolume(out, { name: INJECTED_NAMES.caVolume, configMap: { name: vault.caConfigMapName, items: [{ key: INJECTED_NAMES.caKey, path: INJECTED_NAMES.caKey }] } });
  }

  const warnings = [...request.warnings];
  if (request.agent) {
    injectAgent(out, namespace, request.agent, settings, vault);
    if (!request.agent.role && out.spec!.serviceAccountName === 'default') {
      warnings.push(
        `the pod runs as ServiceAccount "default": its Vault role ${serviceAccountRoleName(namespace, 'default')} exists only if the ServiceAccount controller may configure "default"; give the pod its own ServiceAccount or set ${settings.annotationPrefix}${PodAnnotation.Role}`,
      );
    }
  }

  for (const name of request.envContainers) {
    const container = [...spec.containers, ...(spec.initContainers ?? [])].find((c) => c.name === name)!;
    ensureEnv(container, VAULT_ENV.address, vault.address);
    if (vault.caConfigMapName) {
      ensureEnv(container, VAULT_ENV.caCert, `${INJECTED_NAMES.caDir}/${INJECTED_NAMES.caKey}`);
      ensureMount(container, { name: INJECTED_NAMES.caVolume, mountPath: INJECTED_NAMES.caDir, readOnly: true });
    }
  }

  return { action: 'patch', pod: out, patch: diffToJsonPatch(pod, out), warnings };
}

function injectAgent(pod: V1Pod, namespace: string, agent: AgentRequest, settings: MutationSettings, vault: VaultTarget): void {
  const spec = pod.spec!;
  ensureVolume(pod, { name: INJECTED_NAMES.secretsVolume, emptyDir: { medium: 'Memory' } });
  ensureVolume(pod, { name: INJECTED_NAMES.homeVolume, emptyDir: { medium: 'Memory' } });
  // Our own projected token: works with automountServiceAccountToken: false
  // and does not depend on admission order (the ServiceAccount plugin mounts
  // its token only into containers that exist when it runs).
  ensureVolume(pod, {
    name: INJECTED_NAMES.tokenVolume,
    projected: { sources: [{ serviceAccountToken: { path: 'token', expirationSeconds: 3600 } }] },
  });

  // A projected token needs a named ServiceAccount; the ServiceAccount admission
  // plugin normally defaults it before us, but say it explicitly when it did not.
  if (!spec.serviceAccountName) spec.serviceAccountName = 'default';
  const role = agent.role ?? serviceAccountRoleName(namespace, spec.serviceAccountName);
  const container = (name: string, exitAfterAuth: boolean): V1Container => {
    const config = renderAgentConfig({
      vaultAddress: vault.address,
      caCertPath: vault.caConfigMapName ? `${INJECTED_NAMES.caDir}/${INJECTED_NAMES.caKey}` : undefined,
      role,
      authPath: agent.authPath ?? settings.defaultAuthPath,
      tokenPath: `${INJECTED_NAMES.tokenDir}/token`,
      secretsDir: INJECTED_NAMES.secretsDir,
      homeDir: INJECTED_NAMES.homeDir,
      secrets: agent.secrets,
      exitAfterAuth,
    });
    const mounts: V1VolumeMount[] = [
      { name: INJECTED_NAMES.secretsVolume, mountPath: INJECTED_NAMES.secretsDir },
      { name: INJECTED_NAMES.homeVolume, mountPath: INJECTED_NAMES.homeDir },
      { name: INJECTED_NAMES.tokenVolume, mountPath: INJECTED_NAMES.tokenDir, readOnly: true },
    ];
    if (vault.caConfigMapName) mounts.push({ name: INJECTED_NAMES.caVolume, mountPath: INJECTED_NAMES.caDir, readOnly: true });
    const pick = (annotation: string | undefined, fallback: string): string => annotation ?? fallback;
    return {
      name,
      image: agent.image ?? settings.agentImage,
      imagePullPolicy: 'IfNotPresent',
      command: [...AGENT_COMMAND],
      env: [{ name: 'VAULT_CONFIG', value: encodeAgentConfig(config) }],
      resources: {
        requests: {
          cpu: pick(agent.resources.requests.cpu, settings.agentResources.requests.cpu),
          memory: pick(agent.resources.requests.memory, settings.agentResources.requests.memory),
        },
        limits: {
          cpu: pick(agent.resources.limits.cpu, settings.agentResources.limits.cpu),
          memory: pick(agent.resources.limits.memory, settings.agentResources.limits.memory),
        },
      },
      securityContext: {
        runAsUser: settings.agentRunAsUser,
        runAsGroup: settings.agentRunAsGroup,
        runAsNonRoot: true,
        allowPrivilegeEscalation: false,
        readOnlyRootFilesystem: true,
        capabilities: { drop: ['ALL'] },
      },
      volumeMounts: mounts,
    };
  };

  const init = container(INJECTED_NAMES.initContainer, true);
  const injectedInit: V1Container[] = [init];
  if (!agent.prePopulateOnly) {
    const sidecar = container(INJECTED_NAMES.sidecar, false);
    if (settings.nativeSidecars) injectedInit.push({ ...sidecar, restartPolicy: 'Always' });
    else spec.containers.push(sidecar);
  }
  const userInit = spec.initContainers ?? [];
  spec.initContainers = agent.initFirst ? [...injectedInit, ...userInit] : [...userInit, ...injectedInit];

  // The application reads what the agent renders. User init containers see it
  // only when they run after the agent's init container.
  const readers = agent.initFirst ? [...spec.containers, ...userInit] : spec.containers;
  for (const c of readers) {
    if (c.name === INJECTED_NAMES.sidecar) continue;
    if (!(c.volumeMounts ?? []).some((m) => m.mountPath === INJECTED_NAMES.secretsDir)) {
      ensureMount(c, { name: INJECTED_NAMES.secretsVolume, mountPath: INJECTED_NAMES.secretsDir, readOnly: true });
    }
  }

  const annotations = pod.metadata?.annotations ?? {};
  annotations[settings.annotationPrefix + PodAnnotation.AgentInjectStatus] = INJECTED;
  (pod.metadata ??= {}).annotations = annotations;
}

/** A deep copy of JSON data (what an AdmissionReview's object is); a third of structuredClone's time on a pod. */
function cloneJson<T>(value: T): T {
  if (typeof value !== 'object' || value === null) return value;
  if (Array.isArray(value)) return value.map(cloneJson) as T;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value)) out[key] = cloneJson((value as Record<string, unknown>)[key]);
  return out as T;
}

function reservedNameClash(pod: V1Pod): string | undefined {
  const containers = [...(pod.spec?.containers ?? []), ...(pod.spec?.initContainers ?? [])].map((c) => c.name);
  for (const name of [INJECTED_NAMES.initContainer, INJECTED_NAMES.sidecar]) if (containers.includes(name)) return `container name ${name}`;
  const volumes = (pod.spec?.volumes ?? []).map((v) => v.name);
  for (const name of [INJECTED_NAMES.secretsVolume, INJECTED_NAMES.homeVolume, INJECTED_NAMES.tokenVolume]) {
    if (volumes.includes(name)) return `volume name ${name}`;
  }
  return undefined;
}

function ensureVolume(pod: V1Pod, volume: V1Volume): void {
  const volumes = pod.spec!.volumes ?? (pod.spec!.volumes = []);
  if (!volumes.some((v) => v.name === volume.name)) volumes.push(volume);
}

function ensureMount(container: V1Container, mount: V1VolumeMount): void {
  const mounts = container.volumeMounts ?? (container.volumeMounts = []);
  if (mounts.some((m) => m.name === mount.name || m.mountPath === mount.mountPath)) return;
  mounts.push(mount);
}

/** Adds `name` unless the container already sets it (a user's value wins). */
function ensureEnv(container: V1Container, name: string, value: string): void {
  const env = container.env ?? (container.env = []);
  if (!env.some((e) => e.name === name)) env.push({ name, value });
}
