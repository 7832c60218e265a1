// serviceRegistrationEnabled (Bank-Vaults): Vault's `service_registration
// "kubernetes"` stanza, so each Vault pod labels itself (vault-active,
// vault-sealed, vault-initialized, ...) and the client Service sends traffic
// to the active node only (selector vault-active=true). Vault needs to get and
// patch its own pod: a RoleBinding in the Vault's namespace to the ClusterRole
// the install ships (SERVICE_REGISTRATION_CLUSTER_ROLE), for the ServiceAccount
// this Vault created only (like system:auth-delegator). As in Bank-Vaults, only
// with an HA storage backend (Raft, the default, is one).
import type { V1EnvVar, V1OwnerReference, V1RoleBinding } from '@kubernetes/client-node';
import { SERVICE_REGISTRATION_CLUSTER_ROLE } from '../../api/naming.js';
import type { VaultResource } from '../../api/vault.js';

export const ACTIVE_LABEL = 'vault-active';
export const serviceRegistrationBindingName = (name: string): string => `${name}-service-registration`;

/** Storage backends that can run HA (Bank-Vaults' list); Consul and Raft always do, others with ha_enabled. */
const HA_STORAGE = ['consul', 'dynamodb', 'etcd', 'gcs', 'mysql', 'postgresql', 'raft', 'oci', 'spanner', 'zookeeper'];

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Pure: does this Vault server configuration have HA storage? */
export function hasHaStorage(config: Record<string, unknown>): boolean {
  if (isObject(config['ha_storage']) && Object.keys(config['ha_storage']).length) return true;
  const storage = isObject(config['storage']) ? config['storage'] : {};
  return Object.entries(storage).some(([type, options]) => {
    if (!HA_STORAGE.includes(type) || options === null || options === undefined) return false;
    const haEnabled = isObject(options) ? options['ha_enabled'] : undefined;
    return type === 'consul' || type === 'raft' || haEnabled === true || haEnabled === 'true';
  });
}

/** Pure: is service registration on for this Vault, given its merged server configuration? */
export function serviceRegistrationOn(vault: VaultResource, config: Record<string, unknown>): boolean {
  return vault.spec.serviceRegistrationEnabled === true && hasHaStorage(config);
}

/** Pure: the stanza (spec.config's own service_registration wins, as in Bank-Vaults). */
export function withServiceRegistration(vault: VaultResource, config: Record<string, unknown>): Record<string, unknown> {
  if (!serviceRegistrationOn(vault, config) || config['service_registration'] !== undefined) return config;
  return { ...config, service_registration: { kubernetes: { namespace: vault.metadata!.namespace! } } };
}

/** The variables Vault's Kubernetes service registration reads to find its own pod. */
export const SERVICE_REGISTRATION_ENV: V1EnvVar[] = [
  { name: 'VAULT_K8S_POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
  { name: 'VAULT_K8S_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
];

export function desiredServiceRegistrationBinding(
  vault: VaultResource,
  serviceAccount: string,
  meta: { namespace: string; labels: Record<string, string>; ownerReferences: V1OwnerReference[] },
): V1RoleBinding {
  return {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'RoleBinding',
    metadata: { ...meta, name: serviceRegistrationBindingName(vault.metadata!.name!) },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: SERVICE_REGISTRATION_CLUSTER_ROLE },
    subjects: [{ kind: 'ServiceAccount', name: serviceAccount, namespace: meta.namespace }],
  };
}

/** Pure: why serviceRegistrationEnabled is off (no HA storage; external mode) or needs the user's RBAC (`unbound`: the ServiceAccount not bound). */
export function serviceRegistrationReport(vault: VaultResource, unbound: string | undefined, config?: Record<string, unknown>): string | undefined {
  if (!vault.spec.serviceRegistrationEnabled) return undefined;
  if (vault.spec.external) return 'an external Vault is not deployed by the operator: configure service_registration where it runs';
  if (config && !hasHaStorage(config)) return 'only with an HA storage backend (as in Bank-Vaults): the storage in spec.config is not one';
  if (unbound) {
    return `ServiceAccount ${unbound} was not created by this Vault, so it is not bound to ClusterRole ${SERVICE_REGISTRATION_CLUSTER_ROLE}: bind it in this namespace (RoleBinding), or Vault cannot label its pods and the client Service (selector ${ACTIVE_LABEL}=true) has no endpoints`;
  }
  return undefined;
}
