// Issue 11 items 1 and 4, acted out by a tenant: a real user holding `edit` in
// namespace A only (impersonation through the apiserver's RBAC) writes `Vault`
// resources that try to steer the operator's credentials and unseal keys to
// an address of their choosing, to use Secrets not meant for them, to take
// over objects and to bind a ServiceAccount of their choosing to
// system:auth-delegator. Each attempt must end in a condition or Event that
// says why, the listening "attacker" must receive nothing, and nothing
// outside A (Kubernetes objects, cluster RBAC, Vault's auth methods, roles,
// policies, mounts and secrets) may change.
import test from 'ava';
import { API_GROUP } from '../../../operator/api/naming.js';
import type { VaultResource } from '../../../operator/api/vault.js';
import type { KubeClients } from '../../../operator/framework/kube.js';
import { eventually, WITHIN } from '../../harness/index.js';
import { tokenSecretLabels } from '../../support/external-vault.js';
import { describeChanges, diffSnapshots, isServiceAddressOf, refusal, snapshotOutside, useTenantEnv, type Snapshot, type Tenant } from '../../support/tenant.js';
import { VaultListener } from '../../support/vault-listener.js';
import { startVaultOperator, type RunningVaultOperator, type Vaults } from '../vault/helpers.js';
import { vaultIn, vaultTenant } from './helpers.js';

const { env } = useTenantEnv(test);

let tenant: Tenant;
let admin: KubeClients;
let asTenant: Vaults;
let asAdmin: Vaults;
let op: RunningVaultOperator;
const listed = new VaultListener(); // an address the platform allows (a second team's Vault, say)
const unlisted = new VaultListener(); // an address nobody allowed
let listedAddress = '';
let unlistedAddress = '';
let before: Snapshot;
const ns = () => tenant.namespace;

const vault = (name: string, spec: VaultResource['spec']): VaultResource => vaultIn(ns(), name, spec);

test.before(async () => {
  const e = env();
  ({ tenant, admin, asTenant, asAdmin } = await vaultTenant(e, 'vault-trust'));
  listedAddress = await listed.start();
  unlistedAddress = await unlisted.start();
  // the platform's setting: the shared Vault and one more address; http only because the harness Vault is http
  op = await startVaultOperator(e, ns(), { externalVaults: { allowed: [e.vault.address, listedAddress], allowHttp: true } });

  // a legitimate adoption first (its pin is what the address-change attack runs into)
  await tenant.kube.core.createNamespacedSecret({ namespace: ns(), body: { metadata: { name: 'shared-token', labels: tokenSecretLabels('shared') }, stringData: { token: e.vault.rootToken } } });
  await asTenant.create(vault('shared', { external: { address: e.vault.address, auth: { method: 'token', tokenSecretRef: { name: 'shared-token' } } } }));
  await asAdmin.waitForCondition(ns(), 'shared', 'Ready', 'True');
  before = await snapshotOutside(e, ns());
});

test.after.always(async () => {
  await op?.stop();
  await listed.stop();
  await unlisted.stop();
});

test.serial('an external address the operator does not list gets nothing: no token, no JWT, no seal-status probe', async (t) => {
  const attempts: Array<[string, string]> = [
    ['steal-k8s', unlistedAddress],
    ['steal-https', unlistedAddress.replace('http:', 'https:')],
    ['steal-path', `${listedAddress}/v1/sys`],
    ['steal-user', listedAddress.replace('http://', 'http://a:b@')],
  ];
  for (const [name, address] of attempts) {
    await asTenant.create(vault(name, { external: { address, auth: { method: 'kubernetes', role: 'operator' } } }));
  }
  for (const [name, address] of attempts) {
    const c = await asAdmin.waitForCondition(ns(), name, 'Ready', 'False', { reason: 'ExternalAddressNotAllowed' });
    t.regex(c.message, /not an external Vault the operator may send credentials to|must be scheme:\/\/host\[:port\] only/, `${name} (${address}): ${c.message}`);
  }
  const event = (await asAdmin.events(ns(), 'steal-k8s')).find((e) => e.reason === 'Refused');
  t.regex(event?.message ?? '', /VAULT_AUTOPILOT_EXTERNAL_VAULT_ADDRESSES/, 'a Warning Event says it too');
  t.deepEqual(unlisted.requests, [], 'the unlisted address was never contacted');
  t.deepEqual(listed.requests, [], 'nor the listed one through a path or user-info variant');
});

test.serial('the adopted address is pinned: a changed spec.external.address is refused, not followed, and the tenant cannot lift the pin', async (t) => {
  const status = (await asAdmin.get(ns(), 'shared')).status!;
  t.is(status.externalAddress, env().vault.address);
  await asTenant.patchSpec(ns(), 'shared', { external: { address: listedAddress, auth: { method: 'token', tokenSecretRef: { name: 'shared-token' } } } });
  const c = await asAdmin.waitForCondition(ns(), 'shared', 'Ready', 'False', { reason: 'AddressChanged' });
  t.regex(c.message, new RegExp(`changed from ${env().vault.address} to ${listedAddress}`));
  t.deepEqual(listed.requests, [], 'the root token in shared-token never went to the new address');
  t.false(await tenant.can('patch', 'vaults', { group: API_GROUP, namespace: ns(), subresource: 'status' }));
  const denied = await refusal(
    tenant.kube.raw.request({
      method: 'PATCH',
      path: `/apis/${API_GROUP}/v1alpha1/namespaces/${ns()}/vaults/shared/status`,
      contentType: 'application/merge-patch+json',
      body: { status: { externalAddress: null } },
    }),
  );
  t.is(denied?.code, 403, 'only a cluster admin can clear status.externalAddress');
  // back to the pinned address: Ready again
  await asTenant.patchSpec(ns(), 'shared', { external: { address: env().vault.address, auth: { method: 'token', tokenSecretRef: { name: 'shared-token' } } } });
  await asAdmin.waitForCondition(ns(), 'shared', 'Ready', 'True');
});

test.serial('tokenSecretRef: a Secret its owner did not label for this Vault is not used', async (t) => {
  // someone else's Secret in A (the tenant may not even read it; here they may)
  await admin.core.createNamespacedSecret({ namespace: ns(), body: { metadata: { name: 'ci-token' }, stringData: { token: env().vault.rootToken } } });
  await asTenant.create(vault('borrow', { external: { address: env().vault.address, auth: { method: 'token', tokenSecretRef: { name: 'ci-token' } } }, externalConfig: { policies: [{ name: 'borrowed', rules: 'path "*" { capabilities = ["sudo"] }' }] } }));
  const c = await asAdmin.waitForCondition(ns(), 'borrow', 'Ready', 'False', { reason: 'SecretNotGranted' });
  t.regex(c.message, /Secret ci-token .* is not labelled vault\.autopilot\.dev\/vault-token-for=borrow/);
  // labelled for another Vault resource: still not this one's
  await admin.core.patchNamespacedSecret({ name: 'ci-token', namespace: ns(), body: [{ op: 'add', path: '/metadata/labels', value: tokenSecretLabels('shared') }] });
  await asTenant.patchSpec(ns(), 'borrow', { size: 1 }); // a new generation, reconciled again
  await eventually(async () => {
    const v = await asAdmin.get(ns(), 'borrow');
    if (v.status?.observedGeneration !== v.metadata?.generation) throw new Error('not reconciled yet');
  }, WITHIN.reconcile);
  t.is((await asAdmin.condition(ns(), 'borrow', 'Ready'))?.reason, 'SecretNotGranted');
});

test.serial('managed: a Service, Secret or TLS Secret of the Vault\'s names that the operator did not create is not taken over, and nothing is made', async (t) => {
  await admin.core.createNamespacedService({ namespace: ns(), body: { metadata: { name: 'squat' }, spec: { ports: [{ port: 80 }], selector: { app: 'web' } } } });
  await admin.core.createNamespacedSecret({ namespace: ns(), body: { metadata: { name: 'cfg-config' }, stringData: { 'app.json': '{}' } } });
  await admin.core.createNamespacedSecret({ namespace: ns(), body: { metadata: { name: 'cert-tls' }, type: 'kubernetes.io/tls', stringData: { 'tls.crt': 'not a cert', 'tls.key': 'not a key' } } });
  const versions = async () => ({
    service: (await admin.core.readNamespacedService({ name: 'squat', namespace: ns() })).metadata!.resourceVersion,
    config: (await admin.core.readNamespacedSecret({ name: 'cfg-config', namespace: ns() })).metadata!.resourceVersion,
    tls: (await admin.core.readNamespacedSecret({ name: 'cert-tls', namespace: ns() })).metadata!.resourceVersion,
  });
  const was = await versions();
  for (const name of ['squat', 'cfg', 'cert']) await asTenant.create(vault(name, { size: 1 }));
  const expected: Record<string, RegExp> = {
    squat: /^Service squat in .* exists and was not created by this Vault/,
    cfg: /^Secret cfg-config in .* exists and was not created by this Vault/,
    cert: /^Secret cert-tls in .* exists and was not created by this Vault/,
  };
  for (const [name, message] of Object.entries(expected)) {
    const c = await asAdmin.waitForCondition(ns(), name, 'Ready', 'False', { reason: 'ObjectNotOwned' });
    t.regex(c.message, message);
    // refused as a whole: no StatefulSet, ServiceAccount or binding was made for it
    t.is((await refusal(admin.apps.readNamespacedStatefulSet({ name, namespace: ns() })))?.code, 404, `${name}: no StatefulSet`);
    t.is((await refusal(admin.core.readNamespacedServiceAccount({ name, namespace: ns() })))?.code, 404, `${name}: no ServiceAccount`);
  }
  t.deepEqual(await versions(), was, 'the three objects are untouched');
});

test.serial('unsealConfig.kubernetes.secretName pointed at an unrelated Secret: neither read nor overwritten', async (t) => {
  await admin.core.createNamespacedSecret({ namespace: ns(), body: { metadata: { name: 'db-password' }, stringData: { password: 'correct horse battery' } } });
  const was = (await admin.core.readNamespacedSecret({ name: 'db-password', namespace: ns() })).metadata!.resourceVersion;
  await asTenant.create(vault('keys', { size: 1, unsealConfig: { kubernetes: { secretName: 'db-password' } } }));
  const c = await asAdmin.waitForCondition(ns(), 'keys', 'Ready', 'False', { reason: 'ObjectNotOwned' });
  t.regex(c.message, /Secret db-password exists and is not an unseal-keys Secret \(it holds password\)/);
  t.is((await admin.core.readNamespacedSecret({ name: 'db-password', namespace: ns() })).metadata!.resourceVersion, was);
  // another Vault's keys Secret (labelled) is not this one's either
  await asTenant.create(vault('keys2', { size: 1, unsealConfig: { kubernetes: { secretName: 'db-password' } } }));
  await admin.core.createNamespacedSecret({
    namespace: ns(),
    body: { metadata: { name: 'other-keys', labels: { 'vault.autopilot.dev/unseal-keys-of': 'other' } }, stringData: { 'vault-unseal-0': 'k' } },
  });
  await asTenant.patchSpec(ns(), 'keys2', { unsealConfig: { kubernetes: { secretName: 'other-keys' } } });
  await asAdmin.waitForCondition(ns(), 'keys2', 'Ready', 'False', { reason: 'ObjectNotOwned', message: /unseal keys of Vault other/ });
  t.pass();
});

test.serial('system:auth-delegator: bound for the ServiceAccount the operator made; an existing one named in spec.serviceAccount is not bound, and the old binding goes', async (t) => {
  const binding = `vault-autopilot:${ns()}:own-sa:auth-delegator`;
  await asTenant.create(vault('own-sa', { size: 1 }));
  const made = await eventually(() => admin.rbac.readClusterRoleBinding({ name: binding }), WITHIN.reconcile);
  t.deepEqual(made.subjects?.map((s) => ({ kind: s.kind, name: s.name, namespace: s.namespace })), [{ kind: 'ServiceAccount', name: 'own-sa', namespace: ns() }]);
  // an existing ServiceAccount of A (the harness runs no controller-manager, so there is no `default` to pick)
  await admin.core.createNamespacedServiceAccount({ namespace: ns(), body: { metadata: { name: 'ci-deployer' } } });
  await asTenant.patchSpec(ns(), 'own-sa', { serviceAccount: 'ci-deployer' });
  const event = await eventually(async () => {
    const found = (await asAdmin.events(ns(), 'own-sa')).find((e) => e.reason === 'Refused');
    if (!found) throw new Error('no Refused Event yet');
    return found;
  }, WITHIN.reconcile);
  t.regex(event.message ?? '', /ServiceAccount ci-deployer was not created by this Vault: it is not bound to system:auth-delegator/);
  await eventually(async () => {
    if ((await refusal(admin.rbac.readClusterRoleBinding({ name: binding })))?.code !== 404) throw new Error('binding still there');
  }, WITHIN.reconcile);
  // the rest of the Vault is made (and kept) in A
  t.is((await admin.apps.readNamespacedStatefulSet({ name: 'own-sa', namespace: ns() })).spec?.template.spec?.serviceAccountName, 'ci-deployer');
});

test.serial('after every attempt: nothing outside namespace A changed (Kubernetes objects, cluster RBAC, Vault)', async (t) => {
  const all = diffSnapshots(before, await snapshotOutside(env(), ns()));
  const changes = [];
  for (const change of all) {
    if (await isServiceAddressOf(admin, change, ns())) continue;
    changes.push(change);
  }
  t.deepEqual(changes, [], describeChanges(changes));
  t.deepEqual([...unlisted.requests, ...listed.requests], []);
});
