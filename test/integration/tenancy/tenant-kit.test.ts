// The tenant kit itself, against a real apiserver and Vault: the tenant is
// allowed exactly what `edit` in A allows, and the outside-A snapshot sees a
// change anywhere else (and is quiet when nothing happened).
import test from 'ava';
import { makeKubeClients } from '../../../operator/framework/kube.js';
import { createTenant, describeChanges, diffSnapshots, refusal, snapshotOutside, useTenantEnv, type Tenant } from '../../support/tenant.js';
import { execFileSync } from 'node:child_process';
import { eventually } from '../../harness/index.js';

const { env } = useTenantEnv(test);
let tenant: Tenant;
let other: string;

test.before(async () => {
  await env().applyCrds('crds/vault.yaml', 'crds/kmsvaultsecret.yaml', 'crds/partialkmsvaultsecret.yaml');
  tenant = await createTenant(env());
  other = await env().namespace('tenant-b');
});

test('the tenant may edit namespace A and nothing else', async (t) => {
  t.true(await tenant.can('create', 'configmaps', { namespace: tenant.namespace }));
  t.true(await tenant.can('create', 'serviceaccounts', { namespace: tenant.namespace }));
  t.true(await tenant.can('create', 'vaults', { group: 'vault.autopilot.dev', namespace: tenant.namespace }), 'OLM-like CRD rights aggregate into edit');
  t.true(await tenant.can('create', 'kmsvaultsecrets', { group: 'vault.autopilot.dev', namespace: tenant.namespace }));
  t.false(await tenant.can('create', 'configmaps', { namespace: other }));
  t.false(await tenant.can('create', 'rolebindings', { group: 'rbac.authorization.k8s.io', namespace: tenant.namespace }), 'edit grants no RBAC writes');
  t.false(await tenant.can('create', 'clusterrolebindings', { group: 'rbac.authorization.k8s.io' }));
  t.false(await tenant.can('patch', 'namespaces', { name: tenant.namespace }));

  await tenant.kube.core.createNamespacedConfigMap({ namespace: tenant.namespace, body: { metadata: { name: 'mine' }, data: { a: 'b' } } });
  const denied = await refusal(tenant.kube.core.createNamespacedConfigMap({ namespace: other, body: { metadata: { name: 'theirs' } } }));
  t.is(denied?.code, 403);
  t.regex(denied?.message ?? '', new RegExp(`User "${tenant.user.replace(/[.]/g, '\\.')}" cannot create resource "configmaps".*namespace "${other}"`));
});

test('kubectl with the tenant kubeconfig is the same user', (t) => {
  const run = (...args: string[]) => execFileSync('kubectl', ['--kubeconfig', tenant.kubeconfigPath, ...args], { encoding: 'utf8' }).trim();
  t.is(run('auth', 'whoami', '-o', 'jsonpath={.status.userInfo.username}'), tenant.user);
  t.is(run('auth', 'can-i', 'create', 'secrets'), 'yes');
  t.throws(() => run('auth', 'can-i', 'create', 'secrets', '-n', other), undefined, 'can-i exits 1 on "no"');
});

test('the outside-A snapshot is quiet at rest, ignores A, and sees changes elsewhere', async (t) => {
  const admin = makeKubeClients(env().kubeConfig());
  const before = await snapshotOutside(env(), tenant.namespace);
  t.true(before.size > 50, `snapshot holds ${before.size} entries`);
  // quiet at rest over a window that holds a periodic write: the kube-apiserver renews its identity Lease (every 10 s)
  const leases = async () =>
    (await admin.raw.request<{ items: Array<{ metadata: { name: string; resourceVersion: string } }> }>({
      method: 'GET',
      path: '/apis/coordination.k8s.io/v1/namespaces/kube-system/leases?labelSelector=apiserver.kubernetes.io%2Fidentity%3Dkube-apiserver',
    })).items;
  const renewed = (await leases()).map((l) => `${l.metadata.name}@${l.metadata.resourceVersion}`);
  t.true(renewed.length > 0, 'the apiserver has an identity Lease');
  await eventually(async () => {
    const now = (await leases()).map((l) => `${l.metadata.name}@${l.metadata.resourceVersion}`);
    if (now.every((l) => renewed.includes(l))) throw new Error('identity Lease not renewed yet');
  }, { timeoutMs: 5 * 60_000, intervalMs: 500, message: 'kube-apiserver identity Lease renewal' });
  const rest = diffSnapshots(before, await snapshotOutside(env(), tenant.namespace));
  t.deepEqual(rest, [], describeChanges(rest));

  await tenant.kube.core.createNamespacedSecret({ namespace: tenant.namespace, body: { metadata: { name: 'in-a' }, stringData: { x: 'y' } } });
  t.deepEqual(diffSnapshots(before, await snapshotOutside(env(), tenant.namespace)), [], 'changes inside A are not reported');

  await admin.core.createNamespacedSecret({ namespace: other, body: { metadata: { name: 'in-b' }, stringData: { x: 'y' } } });
  await admin.rbac.createClusterRole({ body: { metadata: { name: `kit-${other}` }, rules: [] } });
  const mount = await env().vaultMount('kv-v2');
  const token = env().vault.rootToken;
  const put = (path: string, body: unknown) =>
    fetch(`${env().vault.address}/v1/${path}`, { method: 'POST', headers: { 'x-vault-token': token }, body: JSON.stringify(body) });
  await put(`${mount}/data/team/db`, { data: { password: 'hunter22-long' } });
  await put('sys/policies/acl/kit-policy', { policy: 'path "x" { capabilities = ["read"] }' });
  const after = await snapshotOutside(env(), tenant.namespace);
  const keys = diffSnapshots(before, after).map((c) => `${c.change}: ${c.key}`);
  t.true(keys.includes(`added: k8s v1 secrets ${other}/in-b`), keys.join('\n'));
  t.true(keys.includes(`added: k8s rbac.authorization.k8s.io/v1 clusterroles kit-${other}`), keys.join('\n'));
  t.true(keys.includes(`added: vault secret ${mount}/team/db`), keys.join('\n'));
  t.true(keys.includes('added: vault policy kit-policy'), keys.join('\n'));
  t.false([...after.values()].some((v) => v.includes('hunter22')), 'secret values are hashed, never kept');

  await put(`${mount}/data/team/db`, { data: { password: 'changed-long-value' } });
  const again = diffSnapshots(after, await snapshotOutside(env(), tenant.namespace));
  t.deepEqual(again, [{ key: `vault secret ${mount}/team/db`, change: 'changed' }], describeChanges(again));
});
