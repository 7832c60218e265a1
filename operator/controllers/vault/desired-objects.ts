// Managed mode: the Kubernetes objects a `Vault` resource stands for, as pure
// functions of the resource (Bank-Vaults' `serviceForVault` etc.). The
// controller creates them, and updates them when they stop matching.
import { createHash } from 'node:crypto';
import type {
  KubernetesObject,
  V1ClusterRoleBinding,
  V1OwnerReference,
  V1PersistentVolumeClaim,
  V1PodDisruptionBudget,
  V1Secret,
  V1Service,
  V1ServiceAccount,
  V1StatefulSet,
  V1Affinity,
} from '@kubernetes/client-node';
import { API_GROUP, API_GROUP_VERSION } from '../../api/naming.js';
import { VAULT_KIND, type VaultResource } from '../../api/vault.js';
import { tlsSecretName } from '../../api/vault-endpoint.js';
import { ACTIVE_LABEL, desiredServiceRegistrationBinding, SERVICE_REGISTRATION_ENV, serviceRegistrationOn, withServiceRegistration } from './service-registration.js';
import { WATCHED_SECRETS_ANNOTATION } from './watched-secrets.js';
import { raftLeaderApiAddr } from './raft-follower.js';
import { apiPortName, desiredIngress, desiredServiceMonitor, overlayCommon, overlayService, overlayStatefulSet, vaultContainerResources } from './bankvaults-overlay.js';

export const DEFAULT_VAULT_IMAGE = 'hashicorp/vault:1.21.4';
export const API_PORT = 8200;
export const CLUSTER_PORT = 8201;
export const CONFIG_FILE = 'vault.json';
const CONFIG_DIR = '/vault/config';
const TLS_DIR = '/vault/tls';
const DATA_DIR = '/vault/data';
export const CONFIG_CHECKSUM_ANNOTATION = `${API_GROUP}/config-checksum`;
/** Vault reads its certificate at start only: a new certificate rolls the pods (the operator unseals them again). */
export const TLS_CHECKSUM_ANNOTATION = `${API_GROUP}/tls-checksum`;
/** Labels on cluster-scoped objects, which cannot carry an owner reference to a namespaced resource. */
export const OWNER_NAMESPACE_LABEL = `${API_GROUP}/vault-namespace`;
export const OWNER_NAME_LABEL = `${API_GROUP}/vault-name`;

export const clientServiceName = (name: string): string => name;
export const peerServiceName = (name: string): string => `${name}-internal`;
export const configSecretName = (name: string): string => `${name}-config`;
export const caSecretName = (name: string): string => `${name}-ca`;
export const unsealKeysSecretName = (vault: VaultResource): string =>
  vault.spec.unsealConfig?.kubernetes?.secretName ?? `${vault.metadata?.name}-unseal-keys`;
export const operatorTokenSecretName = (name: string): string => `${name}-operator-token`;
export const serviceAccountName = (vault: VaultResource): string => vault.spec.serviceAccount ?? vault.metadata!.name!;
export const authDelegatorBindingName = (namespace: string, name: string): string => `vault-autopilot:${namespace}:${name}:auth-delegator`;
export const podName = (name: string, ordinal: number): string => `${name}-${ordinal}`;
export { generatedTlsSecretName, tlsSecretName } from '../../api/vault-endpoint.js';

export function vaultSize(vault: VaultResource): number {
  return Math.max(1, vault.spec.size ?? 1);
}

/** Address of one pod through the headless Service; what peers and the operator use. */
export function podAddress(name: string, namespace: string, ordinal: number): string {
  return `https://${podName(name, ordinal)}.${peerServiceName(name)}.${namespace}.svc:${API_PORT}`;
}

export function selectorLabels(name: string): Record<string, string> {
  return { 'app.kubernetes.io/name': 'vault', 'app.kubernetes.io/instance': name };
}

const MANAGED_BY = { 'app.kubernetes.io/managed-by': 'vault-autopilot' };

function labels(name: string): Record<string, string> {
  return { ...selectorLabels(name), ...MANAGED_BY };
}

/** The label selector of every managed Vault's pods (the pod watch), and the label naming their Vault. */
export const MANAGED_POD_SELECTOR = Object.entries({ 'app.kubernetes.io/name': 'vault', ...MANAGED_BY }).map(([k, v]) => `${k}=${v}`).join(',');
export const INSTANCE_LABEL = 'app.kubernetes.io/instance';

export function ownerReference(vault: VaultResource): V1OwnerReference {
  return {
    apiVersion: API_GROUP_VERSION,
    kind: VAULT_KIND,
    name: vault.metadata!.name!,
    uid: vault.metadata!.uid!,
    controller: true,
    blockOwnerDeletion: true,
  };
}

function meta(vault: VaultResource, name: string) {
  return { name, namespace: vault.metadata!.namespace!, labels: labels(vault.metadata!.name!), ownerReferences: [ownerReference(vault)] };
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Objects merge, anything else from `over` replaces. */
export function deepMerge(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(over)) {
    out[key] = isPlainObject(value) && isPlainObject(out[key]) ? deepMerge(out[key] as Record<string, unknown>, value) : value;
  }
  return out;
}

/** Vault's server configuration: Raft with retry_join to every peer, TLS listener, then spec.config on top. */
export function serverConfig(vault: VaultResource): Record<string, unknown> {
  const name = vault.metadata!.name!;
  const namespace = vault.metadata!.namespace!;
  // raftLeaderAddress (another cluster's leader) first: the pods join it, never form their own cluster
  const leader = raftLeaderApiAddr(vault);
  const retryJoin = [...(leader ? [leader] : []), ...Array.from({ length: vaultSize(vault) }, (_, i) => podAddress(name, namespace, i))].map((address) => ({
    leader_api_addr: address,
    leader_ca_cert_file: `${TLS_DIR}/ca.crt`,
  }));
  const defaults: Record<string, unknown> = {
    ui: true,
    disable_mlock: true,
    listener: { tcp: { address: `[::]:${API_PORT}`, cluster_address: `[::]:${CLUSTER_PORT}`, tls_cert_file: `${TLS_DIR}/tls.crt`, tls_key_file: `${TLS_DIR}/tls.key` } },
    storage: { raft: { path: DATA_DIR, retry_join: retryJoin } },
  };
  return withServiceRegistration(vault, deepMerge(defaults, vault.spec.config ?? {}));
}

export function desiredConfigSecret(vault: VaultResource): V1Secret {
  const json = JSON.stringify(serverConfig(vault), null, 2);
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: meta(vault, configSecretName(vault.metadata!.name!)),
    type: 'Opaque',
    data: { [CONFIG_FILE]: Buffer.from(json).toString('base64') },
  };
}

export function desiredServiceAccount(vault: VaultResource): V1ServiceAccount {
  return { apiVersion: 'v1', kind: 'ServiceAccount', metadata: meta(vault, serviceAccountName(vault)) };
}

/** Kubernetes auth in Vault calls TokenReview with the pods' ServiceAccount. */
export function desiredAuthDelegatorBinding(vault: VaultResource): V1ClusterRoleBinding {
  const name = vault.metadata!.name!;
  const namespace = vault.metadata!.namespace!;
  return {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRoleBinding',
    metadata: {
      name: authDelegatorBindingName(namespace, name),
      labels: { ...labels(name), [OWNER_NAMESPACE_LABEL]: namespace, [OWNER_NAME_LABEL]: name },
    },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'system:auth-delegator' },
    subjects: [{ kind: 'ServiceAccount', name: serviceAccountName(vault), namespace }],
  };
}

const servicePorts = [
  { name: 'api', port: API_PORT, targetPort: API_PORT, protocol: 'TCP' },
  { name: 'cluster', port: CLUSTER_PORT, targetPort: CLUSTER_PORT, protocol: 'TCP' },
];

export function desiredClientService(vault: VaultResource): V1Service {
  const name = vault.metadata!.name!;
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: meta(vault, clientServiceName(name)),
    // service registration: only the active node (the pod Vault labels vault-active=true)
    spec: {
      type: vault.spec.serviceType ?? 'ClusterIP',
      selector: { ...selectorLabels(name), ...(serviceRegistrationOn(vault, serverConfig(vault)) ? { [ACTIVE_LABEL]: 'true' } : {}) },
      ports: servicePorts,
      // raftLeaderAddress: the other cluster's leader reaches a joining pod before it is ready (as in Bank-Vaults)
      ...(raftLeaderApiAddr(vault) ? { publishNotReadyAddresses: true } : {}),
    },
  };
}

/** Headless: a DNS name per pod for retry_join and unsealing, published before the pods are ready (they start sealed). */
export function desiredPeerService(vault: VaultResource): V1Service {
  const name = vault.metadata!.name!;
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: meta(vault, peerServiceName(name)),
    spec: { clusterIP: 'None', publishNotReadyAddresses: true, selector: selectorLabels(name), ports: servicePorts },
  };
}

export function desiredPodDisruptionBudget(vault: VaultResource): V1PodDisruptionBudget {
  const name = vault.metadata!.name!;
  return {
    apiVersion: 'policy/v1',
    kind: 'PodDisruptionBudget',
    metadata: meta(vault, name),
    // Raft keeps quorum while at most one voter is away
    spec: { maxUnavailable: 1, selector: { matchLabels: selectorLabels(name) } },
  };
}

function defaultAntiAffinity(name: string): V1Affinity {
  return {
    podAntiAffinity: {
      preferredDuringSchedulingIgnoredDuringExecution: [
        { weight: 100, podAffinityTerm: { topologyKey: 'kubernetes.io/hostname', labelSelector: { matchLabels: selectorLabels(name) } } },
      ],
    },
  };
}

function dataClaims(vault: VaultResource): V1PersistentVolumeClaim[] {
  const claims = vault.spec.volumeClaimTemplates ?? [];
  if (claims.some((c) => c.metadata?.name === 'data')) return claims;
  return [
    ...claims,
    { apiVersion: 'v1', kind: 'PersistentVolumeClaim', metadata: { name: 'data' }, spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '10Gi' } } } },
  ];
}

export function desiredStatefulSet(vault: VaultResource, defaultImage: string = DEFAULT_VAULT_IMAGE, tlsCert?: string, watchedSecrets?: string): V1StatefulSet {
  const name = vault.metadata!.name!;
  const namespace = vault.metadata!.namespace!;
  // a change of the user's server config rolls the pods; a change of size alone does not
  const checksum = createHash('sha256').update(JSON.stringify(vault.spec.config ?? {})).digest('hex').slice(0, 16);
  const peerHost = `$(POD_NAME).${peerServiceName(name)}.${namespace}.svc`;
  return {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: meta(vault, name),
    spec: {
      serviceName: peerServiceName(name),
      replicas: vaultSize(vault),
      podManagementPolicy: 'Parallel',
      selector: { matchLabels: selectorLabels(name) },
      template: {
        metadata: {
          labels: { ...(vault.spec.vaultLabels ?? {}), ...labels(name) },
          annotations: {
            ...(vault.spec.annotations ?? {}),
            [CONFIG_CHECKSUM_ANNOTATION]: checksum,
            ...(tlsCert ? { [TLS_CHECKSUM_ANNOTATION]: createHash('sha256').update(tlsCert).digest('hex').slice(0, 16) } : {}),
            ...(watchedSecrets ? { [WATCHED_SECRETS_ANNOTATION]: watchedSecrets } : {}),
          },
        },
        spec: {
          serviceAccountName: serviceAccountName(vault),
          securityContext: { runAsNonRoot: true, runAsUser: 100, runAsGroup: 1000, fsGroup: 1000 },
          affinity: vault.spec.affinity ?? defaultAntiAffinity(name),
          ...(vault.spec.nodeSelector ? { nodeSelector: vault.spec.nodeSelector } : {}),
          ...(vault.spec.tolerations ? { tolerations: vault.spec.tolerations } : {}),
          containers: [
            {
              name: 'vault',
              image: vault.spec.image ?? defaultImage,
              command: ['vault'],
              args: ['server', `-config=${CONFIG_DIR}/${CONFIG_FILE}`],
              env: [
                { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
                { name: 'VAULT_API_ADDR', value: `https://${peerHost}:${API_PORT}` },
                { name: 'VAULT_CLUSTER_ADDR', value: `https://${peerHost}:${CLUSTER_PORT}` },
                { name: 'VAULT_ADDR', value: `https://127.0.0.1:${API_PORT}` },
                { name: 'VAULT_CACERT', value: `${TLS_DIR}/ca.crt` },
                { name: 'SKIP_SETCAP', value: 'true' },
                ...(serviceRegistrationOn(vault, serverConfig(vault)) ? SERVICE_REGISTRATION_ENV : []),
              ],
              ports: [
                { name: 'api', containerPort: API_PORT, protocol: 'TCP' },
                { name: 'cluster', containerPort: CLUSTER_PORT, protocol: 'TCP' },
              ],
              // ready = initialised, unsealed, active or standby
              readinessProbe: {
                httpGet: { path: '/v1/sys/health?standbyok=true&perfstandbyok=true', port: API_PORT, scheme: 'HTTPS' },
                periodSeconds: 5,
                failureThreshold: 2,
              },
              ...(vaultContainerResources(vault.spec) ? { resources: vaultContainerResources(vault.spec) } : {}),
              securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } },
              volumeMounts: [
                { name: 'config', mountPath: CONFIG_DIR, readOnly: true },
                { name: 'tls', mountPath: TLS_DIR, readOnly: true },
                { name: 'data', mountPath: DATA_DIR },
              ],
            },
          ],
          volumes: [
            { name: 'config', secret: { secretName: configSecretName(name) } },
            { name: 'tls', secret: { secretName: tlsSecretName(vault) } },
          ],
        },
      },
      volumeClaimTemplates: dataClaims(vault),
    },
  };
}

/** Every object of managed mode except TLS (decided separately, see tls.ts), in creation order. `watchedSecrets`: watched-secrets.ts's checksum. */
export function desiredObjects(vault: VaultResource, defaultImage?: string, tlsCert?: string, watchedSecrets?: string): KubernetesObject[] {
  const name = vault.metadata!.name!;
  // Bank-Vaults' pod/Service-level fields are laid over the operator's objects (bankvaults-overlay.ts)
  const objects: KubernetesObject[] = [
    desiredServiceAccount(vault),
    desiredAuthDelegatorBinding(vault),
    ...(serviceRegistrationOn(vault, serverConfig(vault)) ? [desiredServiceRegistrationBinding(vault, serviceAccountName(vault), meta(vault, ''))] : []),
    overlayCommon(vault, desiredConfigSecret(vault)),
    overlayService(vault, desiredPeerService(vault), false),
    overlayService(vault, desiredClientService(vault), true),
    overlayCommon(vault, desiredPodDisruptionBudget(vault)),
    overlayStatefulSet(vault, desiredStatefulSet(vault, defaultImage, tlsCert, watchedSecrets), selectorLabels(name)),
  ];
  const ingress = desiredIngress(vault, meta(vault, name));
  if (ingress) objects.push(ingress);
  const monitor = desiredServiceMonitor(vault, meta(vault, name), selectorLabels(name), apiPortName(objects[4] as V1Service), tlsSecretName(vault));
  if (monitor) objects.push(monitor);
  return objects;
}

/**
 * Does the live object already hold everything we set? Only fields present in
 * `desired` are compared (the apiserver adds defaults); lists must match in
 * length and each element must hold its counterpart.
 */
export function containsDesired(desired: unknown, actual: unknown): boolean {
  if (desired === undefined) return true;
  if (Array.isArray(desired)) {
    return Array.isArray(actual) && actual.length === desired.length && desired.every((d, i) => containsDesired(d, actual[i]));
  }
  if (isPlainObject(desired)) {
    if (!isPlainObject(actual)) return false;
    return Object.entries(desired).every(([key, value]) => containsDesired(value, actual[key]));
  }
  return desired === actual;
}
