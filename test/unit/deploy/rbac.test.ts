import test from 'ava';
import {
  apiRequestOf,
  impliedRequests,
  clusterRole,
  operatorPermissions,
  watchedNamespaceRbac,
  permissionFor,
  policyRules,
  role,
  Scope,
  unusedPermissionVerbs,
  type ApiRequest,
} from '../../../operator/deploy/rbac.js';
import { defaultInstallSettings, InstallMode, NAME } from '../../../operator/deploy/install-settings.js';
import { SERVICE_REGISTRATION_CLUSTER_ROLE } from '../../../operator/api/naming.js';

const kubectl = defaultInstallSettings(InstallMode.Kubectl, '1.2.3');
const olm = defaultInstallSettings(InstallMode.Olm, '1.2.3');

test('apiRequestOf maps HTTP requests to RBAC verbs, groups, resources and subresources', (t) => {
  t.deepEqual(apiRequestOf('GET', '/apis/vault.autopilot.dev/v1alpha1/vaults?watch=true&resourceVersion=5'), { verb: 'watch', apiGroup: 'vault.autopilot.dev', resource: 'vaults' });
  t.deepEqual(apiRequestOf('GET', '/api/v1/namespaces/a/secrets'), { verb: 'list', apiGroup: '', resource: 'secrets', namespace: 'a' });
  t.deepEqual(apiRequestOf('GET', '/api/v1/namespaces/a/secrets/s1'), { verb: 'get', apiGroup: '', resource: 'secrets', namespace: 'a', name: 's1' });
  t.deepEqual(apiRequestOf('PATCH', '/apis/vault.autopilot.dev/v1alpha1/namespaces/a/vaults/v/status'), { verb: 'patch', apiGroup: 'vault.autopilot.dev', resource: 'vaults/status', namespace: 'a', name: 'v' });
  t.deepEqual(apiRequestOf('POST', '/api/v1/namespaces/a/serviceaccounts/sa/token'), { verb: 'create', apiGroup: '', resource: 'serviceaccounts/token', namespace: 'a', name: 'sa' });
  t.deepEqual(apiRequestOf('PUT', '/apis/coordination.k8s.io/v1/namespaces/op/leases/l'), { verb: 'update', apiGroup: 'coordination.k8s.io', resource: 'leases', namespace: 'op', name: 'l' });
  t.deepEqual(apiRequestOf('DELETE', '/apis/apps/v1/namespaces/a/statefulsets/x'), { verb: 'delete', apiGroup: 'apps', resource: 'statefulsets', namespace: 'a', name: 'x' });
  t.deepEqual(apiRequestOf('DELETE', '/api/v1/namespaces/a/pods'), { verb: 'deletecollection', apiGroup: '', resource: 'pods', namespace: 'a' });
  t.deepEqual(apiRequestOf('GET', '/api/v1/namespaces'), { verb: 'list', apiGroup: '', resource: 'namespaces' });
  t.deepEqual(apiRequestOf('GET', '/api/v1/namespaces/a'), { verb: 'get', apiGroup: '', resource: 'namespaces', name: 'a' });
  t.is(apiRequestOf('GET', '/version'), undefined);
  t.is(apiRequestOf('GET', '/apis'), undefined);
  t.is(apiRequestOf('GET', '/apis/apps/v1'), undefined);
});

test('permissionFor honours resourceNames and the operator-namespace scope', (t) => {
  const permissions = [
    ...operatorPermissions(kubectl),
    { apiGroup: 'coordination.k8s.io', resource: 'leases', verbs: ['get' as const, 'update' as const], scope: Scope.OperatorNamespace, why: 'leader election' },
  ];
  const webhook: ApiRequest = { verb: 'update', apiGroup: 'admissionregistration.k8s.io', resource: 'mutatingwebhookconfigurations', name: NAME.webhookConfiguration };
  t.truthy(permissionFor(webhook, permissions, 'op'));
  t.is(permissionFor({ ...webhook, name: 'someone-elses' }, permissions, 'op'), undefined);
  const lease: ApiRequest = { verb: 'update', apiGroup: 'coordination.k8s.io', resource: 'leases', namespace: 'op', name: 'x' };
  t.truthy(permissionFor(lease, permissions, 'op'));
  t.is(permissionFor({ ...lease, namespace: 'other' }, permissions, 'op'), undefined);
  t.is(permissionFor({ verb: 'create', apiGroup: 'apiextensions.k8s.io', resource: 'customresourcedefinitions' }, permissions, 'op'), undefined);
});

test('unusedPermissionVerbs lists exactly the verbs no request used', (t) => {
  const permissions = [
    { apiGroup: '', resource: 'secrets', verbs: ['get' as const, 'list' as const], scope: Scope.Cluster, why: 'x' },
    { apiGroup: 'coordination.k8s.io', resource: 'leases', verbs: ['get' as const], scope: Scope.OperatorNamespace, why: 'y' },
  ];
  t.deepEqual(unusedPermissionVerbs(permissions, [{ verb: 'get', apiGroup: '', resource: 'secrets', namespace: 'a', name: 'b' }], 'op'),
    ['core/secrets:list', 'coordination.k8s.io/leases:get (own namespace)']);
  t.deepEqual(unusedPermissionVerbs(permissions, [
    { verb: 'get', apiGroup: '', resource: 'secrets', name: 'b' },
    { verb: 'list', apiGroup: '', resource: 'secrets' },
    { verb: 'get', apiGroup: 'coordination.k8s.io', resource: 'leases', namespace: 'op', name: 'l' },
  ], 'op'), []);
});

test('least privilege: no wildcards, no CRD writes, no escalate/impersonate, bind only on system:auth-delegator and the service-registration ClusterRole', (t) => {
  for (const settings of [kubectl, olm]) {
    for (const p of operatorPermissions(settings)) {
      t.false(p.verbs.includes('*' as never));
      t.false(p.resource.includes('*'));
      t.false(p.resource === 'customresourcedefinitions');
      t.false(p.verbs.includes('escalate' as never) || p.verbs.includes('impersonate' as never));
      if (p.verbs.includes('bind')) t.true(p.resourceNames?.length === 1 && ['system:auth-delegator', SERVICE_REGISTRATION_CLUSTER_ROLE].includes(p.resourceNames[0]!), p.resourceNames?.join());
      t.true(p.why.length > 10, `${p.resource} says why`);
    }
  }
});

test('the webhook configuration is reachable only by name and only in the kubectl install', (t) => {
  const find = (settings: typeof kubectl) => operatorPermissions(settings).filter((p) => p.resource === 'mutatingwebhookconfigurations');
  t.deepEqual(find(kubectl).map((p) => p.resourceNames), [[NAME.webhookConfiguration]]);
  t.false(find(kubectl)[0]!.verbs.includes('create'));
  t.deepEqual(find(olm), []);
});

test('the Role holds the namespace-scoped needs; the ClusterRole everything else; one rule per permission', (t) => {
  const r = role(kubectl);
  t.is(r.metadata?.namespace, kubectl.namespace);
  const c = clusterRole(kubectl);
  t.is((c.rules ?? []).length + (r.rules ?? []).length, operatorPermissions(kubectl).length);
  // watching all namespaces: the watched-namespace rights are in the ClusterRole, in list order
  t.deepEqual(policyRules(operatorPermissions(kubectl), [Scope.Watched, Scope.Cluster]), c.rules);
  t.deepEqual(watchedNamespaceRbac(kubectl), []);
  const mixed = [
    { apiGroup: '', resource: 'secrets', verbs: ['get' as const], scope: Scope.Cluster, why: 'x' },
    { apiGroup: 'coordination.k8s.io', resource: 'leases', verbs: ['get' as const], resourceNames: ['l'], scope: Scope.OperatorNamespace, why: 'y' },
  ];
  t.deepEqual(policyRules(mixed, Scope.OperatorNamespace), [{ apiGroups: ['coordination.k8s.io'], resources: ['leases'], resourceNames: ['l'], verbs: ['get'] }]);
  t.deepEqual(policyRules(mixed, Scope.Cluster), [{ apiGroups: [''], resources: ['secrets'], verbs: ['get'] }]);
});

test('one rule per (group, resource, resourceNames): no duplicate that would hide an unused verb', (t) => {
  const keys = operatorPermissions(kubectl).map((p) => `${p.scope}|${p.apiGroup}|${p.resource}|${(p.resourceNames ?? []).join(',')}`);
  t.is(new Set(keys).size, keys.length);
});

test('impliedRequests: apply-create, bind on the bound role, finalizers of a blocking owner', (t) => {
  const sts: ApiRequest = { verb: 'patch', apiGroup: 'apps', resource: 'statefulsets', namespace: 'a', name: 'vault' };
  t.deepEqual(impliedRequests(sts, 200, {}), []);
  t.deepEqual(impliedRequests(sts, 201, {}), [{ ...sts, verb: 'create' }]);
  t.deepEqual(impliedRequests(sts, 403, {}), []);
  const owned = { metadata: { ownerReferences: [{ apiVersion: 'vault.autopilot.dev/v1alpha1', kind: 'Vault', name: 'vault', blockOwnerDeletion: true }] } };
  t.deepEqual(impliedRequests(sts, 200, owned), [{ verb: 'update', apiGroup: 'vault.autopilot.dev', resource: 'vaults/finalizers', namespace: 'a', name: 'vault' }]);
  const notBlocking = { metadata: { ownerReferences: [{ apiVersion: 'vault.autopilot.dev/v1alpha1', kind: 'Vault', name: 'vault' }] } };
  t.deepEqual(impliedRequests(sts, 200, notBlocking), []);
  const crb: ApiRequest = { verb: 'patch', apiGroup: 'rbac.authorization.k8s.io', resource: 'clusterrolebindings', name: 'b' };
  t.deepEqual(impliedRequests(crb, 201, { roleRef: { kind: 'ClusterRole', name: 'system:auth-delegator' } }), [
    { ...crb, verb: 'create' },
    { verb: 'bind', apiGroup: 'rbac.authorization.k8s.io', resource: 'clusterroles', name: 'system:auth-delegator' },
  ]);
  t.deepEqual(impliedRequests({ ...crb, verb: 'get' }, 200, { roleRef: { kind: 'ClusterRole', name: 'x' } }), []);
});

const scoped = { ...kubectl, watchNamespaces: ['shop', 'vault-system'] };

test('install scope: the ClusterRole keeps only what is cluster-scoped; each watched namespace gets a Role with the rest', (t) => {
  const cluster = clusterRole(scoped).rules ?? [];
  // what cannot be namespaced: the auth-delegator ClusterRoleBinding (TokenReview is cluster-scoped), bind on it, the webhook configuration, namespace labels (self-service selectors)
  t.deepEqual(cluster.map((r) => r.resources![0]).sort(), ['clusterrolebindings', 'clusterroles', 'clusterroles', 'mutatingwebhookconfigurations', 'namespaces'] /* clusterroles: bind on auth-delegator and on the service-registration role; namespaces: get, a Vault's self-service selector reads labels */);
  for (const sensitive of ['secrets', 'statefulsets', 'services', 'serviceaccounts', 'configmaps', 'pods']) {
    t.false(cluster.some((r) => r.resources!.includes(sensitive)), `${sensitive} is not cluster-wide`);
  }
  const objects = watchedNamespaceRbac(scoped);
  t.deepEqual(objects.map((o) => `${o.kind}/${o.metadata?.namespace}/${o.metadata?.name}`), [
    `Role/shop/${NAME.watchRole}`, `RoleBinding/shop/${NAME.watchRole}`, `Role/vault-system/${NAME.watchRole}`, `RoleBinding/vault-system/${NAME.watchRole}`,
  ]);
  const roleRules = (objects[0] as { rules: unknown[] }).rules;
  t.deepEqual(roleRules, policyRules(operatorPermissions(scoped), Scope.Watched));
  t.true(roleRules.length > 10);
  const binding = objects[1] as { subjects: { namespace: string; name: string }[]; roleRef: { kind: string } };
  t.deepEqual(binding.subjects, [{ kind: 'ServiceAccount', name: NAME.serviceAccount, namespace: scoped.namespace }]);
  t.is(binding.roleRef.kind, 'Role');
  // the webhook's self-managed certificate Secret lives in the operator's namespace, outside the scope: its own Role rule
  t.true((role(scoped).rules ?? []).some((r) => r.resources!.includes('secrets')));
  t.false((role(kubectl).rules ?? []).some((r) => r.resources!.includes('secrets')), 'not needed when every namespace is watched');
  t.false((role({ ...scoped, watchNamespaces: [scoped.namespace, 'shop'] }).rules ?? []).some((r) => r.resources!.includes('secrets')), 'nor when its own namespace is watched');
});

test('permissionFor: watched-namespace permissions hold only in the watched namespaces when scoped', (t) => {
  const permissions = operatorPermissions(scoped);
  const secret: ApiRequest = { verb: 'get', apiGroup: '', resource: 'secrets', namespace: 'shop', name: 's' };
  t.truthy(permissionFor(secret, permissions, 'op', scoped.watchNamespaces));
  t.is(permissionFor({ ...secret, namespace: 'other' }, permissions, 'op', scoped.watchNamespaces), undefined);
  t.is(permissionFor({ verb: 'list', apiGroup: '', resource: 'serviceaccounts' }, permissions, 'op', scoped.watchNamespaces), undefined, 'no cluster-wide list');
  t.truthy(permissionFor({ verb: 'list', apiGroup: '', resource: 'serviceaccounts' }, operatorPermissions(kubectl), 'op'), 'cluster-wide list when all are watched');
  t.truthy(permissionFor({ verb: 'create', apiGroup: 'rbac.authorization.k8s.io', resource: 'clusterrolebindings', name: 'b' }, permissions, 'op', scoped.watchNamespaces));
});
