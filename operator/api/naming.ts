// Names the lifecycles share: the ServiceAccount controller creates them, the
// webhook defaults a pod's role to them, tests look them up.

/**
 * The Kubernetes-auth role (and policy) the ServiceAccount controller owns for
 * one ServiceAccount. A namespace is a DNS label and cannot contain a dot, so
 * `sa.<namespace>.<name>` is unique per namespace/ServiceAccount.
 */
export function serviceAccountRoleName(namespace: string, serviceAccount: string): string {
  return `sa.${namespace}.${serviceAccount}`;
}

export function serviceAccountPolicyName(namespace: string, serviceAccount: string): string {
  return serviceAccountRoleName(namespace, serviceAccount);
}

export const API_GROUP = 'vault.autopilot.dev';
export const API_VERSION = 'v1alpha1';
export const API_GROUP_VERSION = `${API_GROUP}/${API_VERSION}`;
export const FINALIZER = `${API_GROUP}/cleanup`;
export const DEFAULT_ANNOTATION_PREFIX = `${API_GROUP}/`;

/** The Kubernetes-auth mount and role through which the operator logs in (the Vault lifecycle keeps them; KMSVaultSecrets log in there too). */
export const OPERATOR_AUTH_PATH = 'vault-autopilot';
export const OPERATOR_AUTH_ROLE = 'operator';

/**
 * ClusterRole shipped with the install (pods get/update/patch): a managed
 * Vault with serviceRegistrationEnabled gets a RoleBinding to it in its own
 * namespace, so Vault can label its pods (vault-active, vault-sealed, ...).
 */
export const SERVICE_REGISTRATION_CLUSTER_ROLE = 'vault-autopilot-vault-service-registration';
