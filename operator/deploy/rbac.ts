// Least-privilege RBAC of the operator, as data: one entry per thing the
// operator does, with the reason. install.yaml's ClusterRole/Role and the OLM
// CSV's clusterPermissions/permissions are both generated from this list, and
// the integration suite proves every entry is needed (no rule unused) and
// sufficient (no 403) by recording the operator's requests.

import type { V1ClusterRole, V1ClusterRoleBinding, V1PolicyRule, V1Role, V1RoleBinding, V1ServiceAccount } from '@kubernetes/client-node';
import { API_GROUP } from '../api/naming.js';
import { InstallMode, NAME, type InstallSettings } from './install-settings.js';
import { commonLabels } from './labels.js';

export type Verb = 'get' | 'list' | 'watch' | 'create' | 'update' | 'patch' | 'delete' | 'bind';

export const Scope = {
  /** ClusterRole (install.yaml) / clusterPermissions (CSV). */
  Cluster: 'cluster',
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
const CRUD: Verb[] = ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete'];

/** Everything the operator does with the Kubernetes API, for one install mode. Pure. */
export function operatorPermissions(settings: Pick<InstallSettings, 'mode'>): Permission[] {
  const kinds = ['vaults', 'kmsvaultsecrets', 'partialkmsvaultsecrets'];
  const permissions: Permission[] = [
    // --- the operator's own resources
    ...kinds.map((plural): Permission => ({
      apiGroup: API_GROUP, resource: plural, verbs: ['get', 'list', 'watch', 'patch', 'update'], scope: Scope.Cluster,
      why: `watch ${plural}; add/remove the finalizer (patch/update of metadata)`,
    })),
    ...kinds.map((plural): Permission => ({
      apiGroup: API_GROUP, resource: `${plural}/status`, verbs: ['get', 'patch', 'update'], scope: Scope.Cluster,
      why: `write ${plural} status (conditions, observedGeneration)`,
    })),
    ...kinds.map((plural): Permission => ({
      apiGroup: API_GROUP, resource: `${plural}/finalizers`, verbs: ['update'], scope: Scope.Cluster,
      why: `set ownerReferences with blockOwnerDeletion to ${plural} (OwnerReferencesPermissionEnforcement)`,
    })),
    // --- ServiceAccount controller; the Vault controller's Vault ServiceAccount
    {
      apiGroup: core, resource: 'serviceaccounts', verbs: ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete'], scope: Scope.Cluster,
      why: 'ServiceAccount controller watches annotated ServiceAccounts (finalizer: patch); the Vault controller creates the Vault ServiceAccount',
    },
    {
      apiGroup: core, resource: 'serviceaccounts/token', verbs: ['create'], scope: Scope.Cluster,
      why: 'TokenRequest: a short-lived token for Vault\'s Kubernetes auth (token_reviewer_jwt)',
    },
    // --- Vault controller (managed Vault clusters)
    {
      apiGroup: core, resource: 'secrets', verbs: CRUD, scope: Scope.Cluster,
      why: 'Vault config, TLS, CA, unseal keys and operator token Secrets of managed Vaults',
    },
    {
      apiGroup: core, resource: 'configmaps', verbs: CRUD, scope: Scope.Cluster,
      why: 'Vault CA bundle ConfigMaps injected into application namespaces',
    },
    {
      apiGroup: core, resource: 'services', verbs: CRUD, scope: Scope.Cluster,
      why: 'client and headless peer Services of managed Vaults',
    },
    {
      apiGroup: core, resource: 'pods', verbs: ['get', 'list', 'watch'], scope: Scope.Cluster,
      why: 'find the Vault pods to initialise and unseal',
    },
    {
      apiGroup: 'apps', resource: 'statefulsets', verbs: CRUD, scope: Scope.Cluster,
      why: 'the StatefulSet of a managed Vault',
    },
    {
      apiGroup: 'policy', resource: 'poddisruptionbudgets', verbs: CRUD, scope: Scope.Cluster,
      why: 'keep a quorum of Vault pods during node drains',
    },
    {
      apiGroup: 'rbac.authorization.k8s.io', resource: 'clusterrolebindings', verbs: CRUD, scope: Scope.Cluster,
      why: 'bind the Vault ServiceAccount to system:auth-delegator (TokenReview for Kubernetes auth)',
    },
    {
      apiGroup: 'rbac.authorization.k8s.io', resource: 'clusterroles', verbs: ['bind'], resourceNames: ['system:auth-delegator'], scope: Scope.Cluster,
      why: 'grant system:auth-delegator without holding its permissions (RBAC escalation check)',
    },
    // --- every lifecycle
    {
      apiGroup: core, resource: 'events', verbs: ['create', 'patch'], scope: Scope.Cluster,
      why: 'Normal/Warning Events on the objects it reconciles (patch: repeat count)',
    },
    // --- the operator process itself, in its own namespace
    {
      apiGroup: 'coordination.k8s.io', resource: 'leases', verbs: ['get', 'list', 'watch', 'create', 'update', 'patch'], scope: Scope.OperatorNamespace,
      why: 'leader election: one active replica',
    },
  ];
  if (settings.mode === InstallMode.Kubectl) {
    permissions.push(
      {
        apiGroup: 'admissionregistration.k8s.io', resource: 'mutatingwebhookconfigurations', verbs: ['get', 'update'],
        resourceNames: [NAME.webhookConfiguration], scope: Scope.Cluster,
        why: 'self-managed certificates: keep the webhook configuration\'s caBundle current (its own configuration only)',
      },
    );
  }
  return permissions;
}

/** One PolicyRule per permission, in list order, so each rule keeps a reason. Pure. */
export function policyRules(permissions: Permission[], scope: Scope): V1PolicyRule[] {
  return permissions
    .filter((p) => p.scope === scope)
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
    rules: policyRules(operatorPermissions(settings), Scope.Cluster),
  };
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

/** The permission (and verb) that allows a request, if any. Pure. */
export function permissionFor(request: ApiRequest, permissions: Permission[], operatorNamespace: string): Permission | undefined {
  return permissions.find((p) =>
    p.apiGroup === request.apiGroup &&
    p.resource === request.resource &&
    (p.verbs as string[]).includes(request.verb) &&
    (!p.resourceNames || (request.name !== undefined && p.resourceNames.includes(request.name))) &&
    (p.scope === Scope.Cluster || request.namespace === operatorNamespace));
}

/** `group/resource:verb` keys of every verb of every permission no request used. Pure. */
export function unusedPermissionVerbs(permissions: Permission[], requests: ApiRequest[], operatorNamespace: string): string[] {
  const used = new Set<string>();
  for (const r of requests) {
    const p = permissionFor(r, permissions, operatorNamespace);
    if (p) used.add(permissionVerbKey(p, r.verb));
  }
  return permissions.flatMap((p) => p.verbs.map((v) => permissionVerbKey(p, v))).filter((k) => !used.has(k));
}

export function permissionVerbKey(p: Pick<Permission, 'apiGroup' | 'resource' | 'scope'>, verb: string): string {
  return `${p.apiGroup || 'core'}/${p.resource}:${verb}${p.scope === Scope.OperatorNamespace ? ' (own namespace)' : ''}`;
}
