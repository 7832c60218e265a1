// Least-privilege RBAC of the operator, as data: one entry per thing the
// operator does, with the reason. install.yaml's ClusterRole/Role and the OLM
// CSV's clusterPermissions/permissions are both generated from this list, and
// the integration suite proves every entry is needed (no rule unused) and
// sufficient (no 403) by recording the operator's requests.

import type { V1ClusterRole, V1ClusterRoleBinding, V1PolicyRule, V1Role, V1RoleBinding, V1ServiceAccount } from '@kubernetes/client-node';
import { API_GROUP, SERVICE_REGISTRATION_CLUSTER_ROLE } from '../api/naming.js';
import { InstallMode, NAME, type InstallSettings } from './install-settings.js';
import { commonLabels } from './labels.js';

export type Verb = 'get' | 'list' | 'watch' | 'create' | 'update' | 'patch' | 'delete' | 'bind';

export const Scope = {
  /**
   * Cluster-scoped objects or cluster-wide effects, whatever the install
   * scope: ClusterRole (install.yaml) / clusterPermissions (CSV).
   */
  Cluster: 'cluster',
  /**
   * Objects in the namespaces the operator watches: part of the ClusterRole
   * when it watches all of them; otherwise a Role in each watched namespace
   * (install.yaml) / permissions (CSV: OLM copies them into every target
   * namespace, and lifts them to a ClusterRole for AllNamespaces).
   */
  Watched: 'watched-namespaces',
  /** Role in the operator's own namespace (install.yaml) / permissions (CSV). */
  OperatorNamespace: 'operator-namespace',
} as const;
export type Scope = (typeof Scope)[keyof typeof Scope];

export interface Permission {
  apiGroup: string;
  /** Plural, or `plural/subresource`. */
  resource: string;
  verbs: Verb[];
  resourceNames?: string[];
  scope: Scope;
  /** Why the operator needs it: what breaks without it. */
  why: string;
}

const core = '';

/**
 * Everything the operator does with the Kubernetes API, for one install mode.
 * Pure. Proven exact by test/integration/deploy/install-rbac.test.ts: a verb
 * missing here is a 403 there, a verb no lifecycle uses fails it too.
 * Server-side apply (the Vault controller's children, the ServiceAccount
 * controller's entries) is `patch`, plus `create` when it creates the object.
 */
export function operatorPermissions(settings: Pick<InstallSettings, 'mode'> & Partial<Pick<InstallSettings, 'namespace' | 'watchNamespaces'>>): Permission[] {
  const reconciled = ['vaults', 'kmsvaultsecrets'];
  const permissions: Permission[] = [
    // --- the operator's own resources
    {
      apiGroup: API_GROUP, resource: 'vaults', verbs: ['get', 'list', 'watch', 'patch'], scope: Scope.Watched,
      why: 'watch Vaults; finalizer (merge patch); the ServiceAccount controller server-side-applies its roles/policies into the target Vault; the webhook reads the target Vault',
    },
    {
      apiGroup: API_GROUP, resource: 'kmsvaultsecrets', verbs: ['list', 'watch', 'patch'], scope: Scope.Watched,
      why: 'watch KMSVaultSecrets; add/remove the finalizer (merge patch); list those that include a changed partial',
    },
    {
      apiGroup: API_GROUP, resource: 'partialkmsvaultsecrets', verbs: ['get', 'list', 'watch'], scope: Scope.Watched,
      why: 'read the partials a KMSVaultSecret includes; watch them to re-sync their includers (no finalizer, no status)',
    },
    ...reconciled.map((plural): Permission => ({
      apiGroup: API_GROUP, resource: `${plural}/status`, verbs: ['patch'], scope: Scope.Watched,
      why: `write ${plural} status (conditions, observedGeneration) as a merge patch`,
    })),
    {
      apiGroup: API_GROUP, resource: 'vaults/finalizers', verbs: ['update'], scope: Scope.Watched,
      why: "the Vault controller's children carry ownerReferences with blockOwnerDeletion to their Vault (OwnerReferencesPermissionEnforcement, e.g. OpenShift)",
    },
    // --- ServiceAccount controller; the Vault controller's Vault ServiceAccount
    {
      apiGroup: core, resource: 'serviceaccounts', verbs: ['get', 'list', 'watch', 'create', 'patch'], scope: Scope.Watched,
      why: 'ServiceAccount controller watches annotated ServiceAccounts (finalizer, applied-vault record: patch); the Vault controller applies the Vault ServiceAccount',
    },
    // --- Vault controller (managed Vault clusters) and the webhook certificates
    {
      apiGroup: core, resource: 'secrets', verbs: ['get', 'list', 'create', 'update', 'patch', 'delete'], scope: Scope.Watched,
      why: "Vault config/TLS/CA/unseal-key/operator-token Secrets; the webhook's self-managed certificate Secret (rotation: update); unseal keys removed on delete; a Vault's CA copies in its caNamespaces (created, updated, deleted); list: the Secrets of a Vault's namespace its watchedSecretsLabels/Annotations select (get already reads any of them)",
    },
    {
      apiGroup: core, resource: 'configmaps', verbs: ['get', 'list', 'create', 'update'], scope: Scope.Watched,
      why: "the webhook's Vault CA ConfigMaps in application namespaces, and their periodic sync (list across namespaces)",
    },
    {
      apiGroup: core, resource: 'services', verbs: ['get', 'create', 'patch'], scope: Scope.Watched,
      why: 'client and headless peer Services of managed Vaults',
    },
    {
      apiGroup: 'apps', resource: 'statefulsets', verbs: ['get', 'create', 'patch'], scope: Scope.Watched,
      why: 'the StatefulSet of a managed Vault',
    },
    {
      apiGroup: core, resource: 'pods', verbs: ['list', 'watch'], scope: Scope.Watched,
      why: "watch the managed Vaults' pods (labelled by the operator) so a restarted pod is unsealed at once, and say why a node is down (Pending, image pull, crash loop)",
    },
    {
      apiGroup: core, resource: 'persistentvolumeclaims', verbs: ['list'], scope: Scope.Watched,
      why: "say when a managed Vault pod waits for its data claim (unbound, no default StorageClass)",
    },
    {
      apiGroup: 'monitoring.coreos.com', resource: 'servicemonitors', verbs: ['get', 'create', 'patch', 'delete'], scope: Scope.Watched,
      why: "the ServiceMonitor of a managed Vault's serviceMonitorEnabled (Bank-Vaults field), when the Prometheus Operator CRD exists; deleted when set to false",
    },
    {
      apiGroup: 'networking.k8s.io', resource: 'ingresses', verbs: ['get', 'create', 'patch', 'delete'], scope: Scope.Watched,
      why: "the Ingress of a managed Vault's spec.ingress (Bank-Vaults field); deleted when the field is unset",
    },
    {
      apiGroup: 'policy', resource: 'poddisruptionbudgets', verbs: ['get', 'create', 'patch'], scope: Scope.Watched,
      why: 'keep a quorum of Vault pods during node drains',
    },
    {
      apiGroup: 'rbac.authorization.k8s.io', resource: 'clusterrolebindings', verbs: ['get', 'create', 'patch', 'delete'], scope: Scope.Cluster,
      why: "bind the Vault ServiceAccount to system:auth-delegator (TokenReview for Kubernetes auth); removed with the Vault. Cluster-wide in every install scope: TokenReview is a cluster-scoped API, so only a ClusterRoleBinding grants it (a RoleBinding to system:auth-delegator would not), and ClusterRoleBindings are cluster-scoped objects (their names are per Vault, so resourceNames cannot narrow create)",
    },
    {
      apiGroup: 'rbac.authorization.k8s.io', resource: 'clusterroles', verbs: ['bind'], resourceNames: ['system:auth-delegator'], scope: Scope.Cluster,
      why: 'grant system:auth-delegator without holding its permissions (RBAC escalation check)',
    },
    {
      apiGroup: 'rbac.authorization.k8s.io', resource: 'rolebindings', verbs: ['get', 'create', 'patch', 'delete'], scope: Scope.Watched,
      why: `serviceRegistrationEnabled (Bank-Vaults field): bind the Vault's own ServiceAccount to ${SERVICE_REGISTRATION_CLUSTER_ROLE} in its namespace so Vault can label its pods; deleted when the field is unset`,
    },
    {
      apiGroup: 'rbac.authorization.k8s.io', resource: 'clusterroles', verbs: ['bind'], resourceNames: [SERVICE_REGISTRATION_CLUSTER_ROLE], scope: Scope.Cluster,
      why: 'grant pods get/update/patch (that ClusterRole, shipped with the install) without holding those permissions itself (RBAC escalation check)',
    },
    {
      apiGroup: core, resource: 'namespaces', verbs: ['get', 'list'], scope: Scope.Cluster,
      why: "read a namespace's labels when a Vault admits self-service by namespace selector (spec.selfService.namespaces); list: a Vault's caNamespaces \"*\" (every namespace its selfService admits)",
    },
    // --- leader election (two replicas: only the Lease holder reconciles)
    {
      apiGroup: 'coordination.k8s.io', resource: 'leases', verbs: ['get', 'create', 'update'], scope: Scope.OperatorNamespace,
      why: 'leader election: read, create and renew the Lease in its own namespace (only the holder runs controllers)',
    },
    // --- every lifecycle
    {
      apiGroup: core, resource: 'events', verbs: ['create', 'patch'], scope: Scope.Watched,
      why: 'Normal/Warning Events on the objects it reconciles (patch: the count of a repeated Event)',
    },
  ];
  const ownNamespaceOutsideScope = !!settings.watchNamespaces?.length && !!settings.namespace && !settings.watchNamespaces.includes(settings.namespace);
  if (settings.mode === InstallMode.Kubectl && ownNamespaceOutsideScope) {
    permissions.push({
      apiGroup: core, resource: 'secrets', verbs: ['get', 'create', 'update'], scope: Scope.OperatorNamespace,
      why: "the webhook's self-managed certificate Secret in the operator's own namespace (rotation: update), which is outside the watched namespaces",
    });
  }
  if (settings.mode === InstallMode.Kubectl) {
    permissions.push({
      apiGroup: 'admissionregistration.k8s.io', resource: 'mutatingwebhookconfigurations', verbs: ['get', 'update'],
      resourceNames: [NAME.webhookConfiguration], scope: Scope.Cluster,
      why: "self-managed certificates: keep the webhook configuration's caBundle current (its own configuration only)",
    });
  }
  return permissions;
}

/** One PolicyRule per permission of the scope(s), in list order, so each rule keeps a reason. Pure. */
export function policyRules(permissions: Permission[], scope: Scope | Scope[]): V1PolicyRule[] {
  const scopes: Scope[] = Array.isArray(scope) ? scope : [scope];
  return permissions
    .filter((p) => scopes.includes(p.scope))
    .map((p) => ({
      apiGroups: [p.apiGroup],
      resources: [p.resource],
      ...(p.resourceNames ? { resourceNames: [...p.resourceNames] } : {}),
      verbs: [...p.verbs],
    }));
}

export function serviceAccount(settings: InstallSettings): V1ServiceAccount {
  return {
    apiVersion: 'v1',
    kind: 'ServiceAccount',
    metadata: { name: NAME.serviceAccount, namespace: settings.namespace, labels: commonLabels(settings) },
  };
}

export function clusterRole(settings: InstallSettings): V1ClusterRole {
  return {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRole',
    metadata: { name: NAME.clusterRole, labels: commonLabels(settings) },
    // watching all namespaces: the namespaced rights are cluster-wide too
    rules: policyRules(operatorPermissions(settings), settings.watchNamespaces?.length ? Scope.Cluster : [Scope.Watched, Scope.Cluster]),
  };
}

/**
 * Not the operator's: what a managed Vault with serviceRegistrationEnabled
 * may do (label its own pods); the operator binds it per Vault, in the Vault's
 * namespace, through `bind` on exactly this name.
 */
export function serviceRegistrationClusterRole(settings: InstallSettings): V1ClusterRole {
  return {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRole',
    metadata: { name: SERVICE_REGISTRATION_CLUSTER_ROLE, labels: commonLabels(settings) },
    rules: [{ apiGroups: [''], resources: ['pods'], verbs: ['get', 'update', 'patch'] }],
  };
}

/** Install scope: a Role + RoleBinding in each watched namespace (none when it watches all). */
export function watchedNamespaceRbac(settings: InstallSettings): (V1Role | V1RoleBinding)[] {
  const rules = policyRules(operatorPermissions(settings), Scope.Watched);
  return (settings.watchNamespaces ?? []).flatMap((namespace): (V1Role | V1RoleBinding)[] => [
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'Role',
      metadata: { name: NAME.watchRole, namespace, labels: commonLabels(settings) },
      rules,
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: { name: NAME.watchRole, namespace, labels: commonLabels(settings) },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: NAME.watchRole },
      subjects: [{ kind: 'ServiceAccount', name: NAME.serviceAccount, namespace: settings.namespace }],
    },
  ]);
}

export function clusterRoleBinding(settings: InstallSettings): V1ClusterRoleBinding {
  return {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRoleBinding',
    metadata: { name: NAME.clusterRole, labels: commonLabels(settings) },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: NAME.clusterRole },
    subjects: [{ kind: 'ServiceAccount', name: NAME.serviceAccount, namespace: settings.namespace }],
  };
}

export function role(settings: InstallSettings): V1Role {
  return {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'Role',
    metadata: { name: NAME.role, namespace: settings.namespace, labels: commonLabels(settings) },
    rules: policyRules(operatorPermissions(settings), Scope.OperatorNamespace),
  };
}

export function roleBinding(settings: InstallSettings): V1RoleBinding {
  return {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'RoleBinding',
    metadata: { name: NAME.role, namespace: settings.namespace, labels: commonLabels(settings) },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: NAME.role },
    subjects: [{ kind: 'ServiceAccount', name: NAME.serviceAccount, namespace: settings.namespace }],
  };
}

// ---------------------------------------------------------------------------
// Matching API requests to permissions (the proof that the list is exact).

/** One API request as RBAC sees it. */
export interface ApiRequest {
  verb: string;
  apiGroup: string;
  /** Plural, or `plural/subresource`. */
  resource: string;
  namespace?: string;
  name?: string;
}

/** The RBAC attributes of an HTTP request to the apiserver, or undefined for non-resource URLs. Pure. */
export function apiRequestOf(method: string, url: string): ApiRequest | undefined {
  const parsed = new URL(url, 'http://apiserver');
  const parts = parsed.pathname.split('/').filter(Boolean).map(decodeURIComponent);
  let apiGroup: string;
  let rest: string[];
  if (parts[0] === 'api' && parts.length >= 3) {
    apiGroup = '';
    rest = parts.slice(2);
  } else if (parts[0] === 'apis' && parts.length >= 4) {
    apiGroup = parts[1]!;
    rest = parts.slice(3);
  } else {
    return undefined;
  }
  let namespace: string | undefined;
  if (rest[0] === 'namespaces' && rest.length >= 3) {
    namespace = rest[1];
    rest = rest.slice(2);
  }
  const [plural, name, subresource] = rest;
  if (!plural) return undefined;
  const watch = parsed.searchParams.get('watch');
  const verb = ((): string => {
    switch (method.toUpperCase()) {
      case 'GET': case 'HEAD':
        if (watch === 'true' || watch === '1') return 'watch';
        return name ? 'get' : 'list';
      case 'POST': return 'create';
      case 'PUT': return 'update';
      case 'PATCH': return 'patch';
      case 'DELETE': return name ? 'delete' : 'deletecollection';
      default: return method.toLowerCase();
    }
  })();
  return {
    verb,
    apiGroup,
    resource: subresource ? `${plural}/${subresource}` : plural,
    ...(namespace !== undefined ? { namespace } : {}),
    ...(name !== undefined ? { name } : {}),
  };
}

/**
 * The permission (and verb) that allows a request, if any. Pure.
 * `watchNamespaces` (install scope): Watched permissions hold only in those
 * namespaces; undefined = cluster-wide.
 */
export function permissionFor(request: ApiRequest, permissions: Permission[], operatorNamespace: string, watchNamespaces?: readonly string[]): Permission | undefined {
  const inScope = (p: Permission) => {
    switch (p.scope) {
      case Scope.Cluster: return true;
      case Scope.OperatorNamespace: return request.namespace === operatorNamespace;
      default: return !watchNamespaces?.length || (request.namespace !== undefined && watchNamespaces.includes(request.namespace));
    }
  };
  return permissions.find((p) =>
    p.apiGroup === request.apiGroup &&
    p.resource === request.resource &&
    (p.verbs as string[]).includes(request.verb) &&
    (!p.resourceNames || (request.name !== undefined && p.resourceNames.includes(request.name))) &&
    inScope(p));
}

/** `group/resource:verb` keys of every verb of every permission no request used. Pure. */
export function unusedPermissionVerbs(permissions: Permission[], requests: ApiRequest[], operatorNamespace: string, watchNamespaces?: readonly string[]): string[] {
  const used = new Set<string>();
  for (const r of requests) {
    const p = permissionFor(r, permissions, operatorNamespace, watchNamespaces);
    if (p) used.add(permissionVerbKey(p, r.verb));
  }
  return permissions.flatMap((p) => p.verbs.map((v) => permissionVerbKey(p, v))).filter((k) => !used.has(k));
}

export function permissionVerbKey(p: Pick<Permission, 'apiGroup' | 'resource' | 'scope'>, verb: string): string {
  return `${p.apiGroup || 'core'}/${p.resource}:${verb}${p.scope === Scope.OperatorNamespace ? ' (own namespace)' : ''}`;
}

/** The owned kinds' plurals, for the ownerReferences check below. */
const OWNED_PLURALS: Record<string, string> = { Vault: 'vaults', KMSVaultSecret: 'kmsvaultsecrets', PartialKMSVaultSecret: 'partialkmsvaultsecrets' };

/**
 * Authorization checks the apiserver makes for a write beyond its own verb,
 * which a recording of the HTTP requests does not show. Pure.
 *  - server-side apply that creates the object (201) is also checked as `create`;
 *  - creating/changing a (Cluster)RoleBinding checks `bind` on its role unless
 *    the caller already holds the role's permissions (RBAC escalation check);
 *  - an ownerReference with blockOwnerDeletion checks `update` on the owner's
 *    `finalizers` subresource (OwnerReferencesPermissionEnforcement).
 */
export function impliedRequests(request: ApiRequest, status: number, body: Record<string, unknown> | undefined): ApiRequest[] {
  if (status >= 400 || !['create', 'update', 'patch'].includes(request.verb)) return [];
  const implied: ApiRequest[] = [];
  if (request.verb === 'patch' && status === 201) implied.push({ ...request, verb: 'create' });
  const roleRef = body?.['roleRef'] as { kind?: string; name?: string } | undefined;
  if (request.apiGroup === 'rbac.authorization.k8s.io' && /^(cluster)?rolebindings$/.test(request.resource) && roleRef?.name) {
    implied.push({
      verb: 'bind',
      apiGroup: 'rbac.authorization.k8s.io',
      resource: roleRef.kind === 'ClusterRole' ? 'clusterroles' : 'roles',
      name: roleRef.name,
      ...(roleRef.kind === 'Role' && request.namespace ? { namespace: request.namespace } : {}),
    });
  }
  const metadata = body?.['metadata'] as { ownerReferences?: { apiVersion?: string; kind?: string; name?: string; blockOwnerDeletion?: boolean }[] } | undefined;
  for (const owner of metadata?.ownerReferences ?? []) {
    const plural = owner.kind ? OWNED_PLURALS[owner.kind] : undefined;
    if (!owner.blockOwnerDeletion || !plural || !owner.apiVersion?.startsWith(`${API_GROUP}/`)) continue;
    implied.push({ verb: 'update', apiGroup: API_GROUP, resource: `${plural}/finalizers`, ...(request.namespace ? { namespace: request.namespace } : {}), ...(owner.name ? { name: owner.name } : {}) });
  }
  return implied;
}
