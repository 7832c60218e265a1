// serviceRegistrationEnabled in Bank-Vaults' shape against the REAL apiserver
// (created with fieldValidation=Strict; no kubelet): Vault's kubernetes
// service_registration stanza, the pod variables it reads, the client Service
// selecting the active node, and a RoleBinding with which the apiserver's own
// RBAC authorizer lets the Vault's ServiceAccount patch pods in its namespace
// only (SubjectAccessReview). Switched off, all of it goes.
import test from 'ava';
import { AppsV1Api, AuthorizationV1Api, CoreV1Api, RbacAuthorizationV1Api } from '@kubernetes/client-node';
import { API_GROUP, API_VERSION, SERVICE_REGISTRATION_CLUSTER_ROLE } from '../../../operator/api/naming.js';
import type { VaultResource } from '../../../operator/api/vault.js';
import { defaultInstallSettings, InstallMode } from '../../../operator/deploy/install-settings.js';
import { serviceRegistrationClusterRole } from '../../../operator/deploy/rbac.js';
import { eventually, eventuallyGone, WITHIN, useTestEnv } from '../../harness/index.js';
import { CRD_FILE, Vaults, startVaultOperator, type RunningVaultOperator } from './helpers.js';

const env = useTestEnv(test, { vault: false, kms: false });
const NAME = 'bv-sr';
let op: RunningVaultOperator;
let ns: string;
let other: string;
let vaults: Vaults;
let core: CoreV1Api;
let apps: AppsV1Api;
let rbac: RbacAuthorizationV1Api;

const config = async () => JSON.parse(Buffer.from((await core.readNamespacedSecret({ name: `${NAME}-config`, namespace: ns })).data!['vault.json']!, 'base64').toString()) as Record<string, any>;
const vaultEnv = async () => (await apps.readNamespacedStatefulSet({ name: NAME, namespace: ns })).spec!.template.spec!.containers.find((c) => c.name === 'vault')!.env!.map((e) => e.name);
const selector = async () => (await core.readNamespacedService({ name: NAME, namespace: ns })).spec!.selector!;
const binding = () => rbac.readNamespacedRoleBinding({ name: `${NAME}-service-registration`, namespace: ns });
/** The apiserver's RBAC authorizer: may the Vault's ServiceAccount patch pods in `namespace`? */
async function mayPatchPods(namespace: string): Promise<boolean> {
  const review = await env().kubeConfig().makeApiClient(AuthorizationV1Api).createSubjectAccessReview({
    body: {
      spec: {
        user: `system:serviceaccount:${ns}:${NAME}`,
        groups: ['system:serviceaccounts', `system:serviceaccounts:${ns}`, 'system:authenticated'],
        resourceAttributes: { namespace, verb: 'patch', resource: 'pods', name: `${NAME}-0` },
      },
    },
  });
  return review.status!.allowed;
}

test.before(async () => {
  await env().applyCrds(CRD_FILE);
  core = env().kubeConfig().makeApiClient(CoreV1Api);
  apps = env().kubeConfig().makeApiClient(AppsV1Api);
  rbac = env().kubeConfig().makeApiClient(RbacAuthorizationV1Api);
  vaults = new Vaults(env().kubeConfig());
  // the ClusterRole install.yaml and the OLM bundle ship
  const role = serviceRegistrationClusterRole(defaultInstallSettings(InstallMode.Kubectl, '0.0.0'));
  await rbac.createClusterRole({ body: role }).catch(async (err: { code?: number }) => {
    if (err.code !== 409) throw err;
    await rbac.replaceClusterRole({ name: role.metadata!.name!, body: role });
  });
  ns = await env().namespace('bv-sr');
  other = await env().namespace('bv-sr-other');
  op = await startVaultOperator(env(), ns);
  const vault: VaultResource = {
    apiVersion: `${API_GROUP}/${API_VERSION}`,
    kind: 'Vault',
    metadata: { name: NAME, namespace: ns },
    spec: { size: 1, serviceRegistrationEnabled: true },
  };
  await vaults.create(vault, { strict: true });
});

test.after.always(async () => {
  await op?.stop();
});

test.serial('on: the stanza, the pod variables, the active-node selector, and RBAC to label its own pods only', async (t) => {
  const names = await eventually(vaultEnv, { timeoutMs: 30_000 }); // the StatefulSet comes last
  const rb = await binding();
  t.deepEqual({ ...rb.roleRef }, { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: SERVICE_REGISTRATION_CLUSTER_ROLE });
  t.deepEqual(rb.subjects!.map((x) => ({ ...x })), [{ kind: 'ServiceAccount', name: NAME, namespace: ns }]);
  t.is(rb.metadata!.ownerReferences![0]!.name, NAME);
  t.deepEqual((await config())['service_registration'], { kubernetes: { namespace: ns } });
  t.true(names.includes('VAULT_K8S_POD_NAME') && names.includes('VAULT_K8S_NAMESPACE'));
  t.is((await selector())['vault-active'], 'true');
  t.true(await mayPatchPods(ns), 'the apiserver lets the Vault ServiceAccount patch pods in its namespace');
  t.false(await mayPatchPods(other), '... and nowhere else');
  const status = (await vaults.get(ns, NAME)).status;
  t.false(!!status?.ignoredFields?.some((f) => f.field === 'spec.serviceRegistrationEnabled'), 'honoured, not reported');
});

test.serial('off: the RoleBinding, stanza, variables and selector go', async (t) => {
  await eventually(binding, { timeoutMs: 30_000 });
  await vaults.patchSpec(ns, NAME, { serviceRegistrationEnabled: false });
  await eventuallyGone(binding, 'RoleBinding', { timeoutMs: 30_000 });
  await eventually(async () => {
    if ((await config())['service_registration']) throw new Error('stanza still there');
    if ((await selector())['vault-active']) throw new Error('selector still there');
  }, WITHIN.reconcile);
  t.false((await vaultEnv()).includes('VAULT_K8S_POD_NAME'));
  t.false(await mayPatchPods(ns));
});
