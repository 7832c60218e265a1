// Acting as a tenant (a real user with `edit` in namespace A only, through the
// apiserver's RBAC): a ServiceAccount annotation naming another namespace's
// Vault is refused with a message, and nothing outside A changes; once that
// Vault's selector admits A the same annotation works, up to the per-namespace cap.
import test from 'ava';
import { withServiceAccountRoles } from '../../../operator/controllers/serviceaccount/compact.js';
import type { CoreV1Event } from '@kubernetes/client-node';
import { API_GROUP, API_GROUP_VERSION, API_VERSION } from '../../../operator/api/naming.js';
import { VAULT_PLURAL, type VaultResource } from '../../../operator/api/vault.js';
import { makeKubeClients, resourcePath } from '../../../operator/framework/kube.js';
import { eventually } from '../../harness/index.js';
import { createTenant, describeChanges, diffSnapshots, refusal, snapshotOutside, useTenantEnv, type Tenant } from '../../support/tenant.js';
import { startOperator, type RunningOperator } from '../serviceaccount/helpers.js';

const { env } = useTenantEnv(test);
let tenant: Tenant;
let victim: string;
let op: RunningOperator;

const vaultPath = (ns: string, name?: string) => resourcePath(API_GROUP, API_VERSION, VAULT_PLURAL, ns, name);

test.before(async () => {
  await env().applyCrds('crds/vault.yaml', 'crds/kmsvaultsecret.yaml', 'crds/partialkmsvaultsecret.yaml');
  tenant = await createTenant(env(), { labels: { team: 'a' } });
  victim = await env().namespace('platform-b');
  const admin = makeKubeClients(env().kubeConfig());
  // the platform's Vault resource in B (adopted; the Vault controller is not needed: the ServiceAccount controller only writes its spec)
  await admin.raw.request({
    method: 'POST',
    path: vaultPath(victim),
    body: {
      apiVersion: API_GROUP_VERSION,
      kind: 'Vault',
      metadata: { name: 'vault', namespace: victim },
      spec: { external: { address: 'https://vault.example.test:8200' }, externalConfig: { auth: [{ type: 'kubernetes', path: 'kubernetes' }] } },
    },
  });
  op = await startOperator(env(), { namespace: tenant.namespace, env: { VAULT_AUTOPILOT_TARGET_VAULT: `${victim}/vault` } });
});

test.after.always(async () => {
  await op?.stop();
});

async function warnings(reason: string): Promise<CoreV1Event[]> {
  // the tenant reads the Events of its own namespace
  const list = await tenant.kube.core.listNamespacedEvent({ namespace: tenant.namespace });
  return list.items.filter((e) => e.reason === reason);
}

async function vaultRoles(): Promise<string[]> {
  const admin = makeKubeClients(env().kubeConfig());
  const vault = await admin.raw.request<VaultResource>({ method: 'GET', path: vaultPath(victim, 'vault') });
  // as the Vault lifecycle renders them from the compact entries
  return (withServiceAccountRoles(vault.spec.externalConfig, vault.spec.serviceAccountRoles)?.auth?.[0]?.roles ?? []).map((r) => r.name).sort();
}

test.serial('a ServiceAccount annotation naming a Vault that does not serve A is refused, and nothing outside A changes', async (t) => {
  const before = await snapshotOutside(env(), tenant.namespace);
  await tenant.kube.core.createNamespacedServiceAccount({
    namespace: tenant.namespace,
    body: { metadata: { name: 'app', annotations: { 'vault.autopilot.dev/auto-configure': 'true', 'vault.autopilot.dev/vault': `${victim}/vault` } } },
  });
  const [event] = await eventually(async () => {
    const found = await warnings('SelfServiceRefused');
    if (!found.length) throw new Error('no SelfServiceRefused Event yet');
    return found;
  }, { timeoutMs: 30_000, intervalMs: 200 });
  t.is(event!.type, 'Warning');
  t.is(event!.involvedObject.name, 'app');
  t.regex(event!.message ?? '', new RegExp(`Vault ${victim}/vault does not serve namespace ${tenant.namespace}: it admits only its own namespace`));
  // the direct way is closed too: the tenant cannot write another namespace's Vault
  const direct = await refusal(tenant.kube.raw.request({ method: 'PATCH', path: vaultPath(victim, 'vault'), body: { spec: { selfService: { namespaces: { from: 'All' } } } }, contentType: 'application/merge-patch+json' }));
  t.is(direct?.code, 403);
  t.regex(direct?.message ?? '', /cannot patch resource "vaults"/);
  const changes = diffSnapshots(before, await snapshotOutside(env(), tenant.namespace));
  t.deepEqual(changes, [], describeChanges(changes));
  t.deepEqual(await vaultRoles(), []);
});

test.serial('once the Vault selects A by label the same annotation is served, up to the per-namespace cap', async (t) => {
  const admin = makeKubeClients(env().kubeConfig());
  await admin.raw.request({
    method: 'PATCH',
    path: vaultPath(victim, 'vault'),
    body: { spec: { selfService: { namespaces: { from: 'Selector', selector: { matchLabels: { team: 'a' } } }, maxServiceAccountsPerNamespace: 1 } } },
    contentType: 'application/merge-patch+json',
  });
  // a fresh reconcile of the refused ServiceAccount (its annotations change)
  await tenant.kube.raw.request({
    method: 'PATCH',
    path: resourcePath('', 'v1', 'serviceaccounts', tenant.namespace, 'app'),
    body: { metadata: { labels: { retry: '1' } } },
    contentType: 'application/merge-patch+json',
  });
  await eventually(async () => {
    const roles = await vaultRoles();
    if (!roles.includes(`sa.${tenant.namespace}.app`)) throw new Error(`roles: ${roles.join(', ')}`);
  }, { timeoutMs: 30_000, intervalMs: 200 });

  const before = await snapshotOutside(env(), tenant.namespace);
  await tenant.kube.core.createNamespacedServiceAccount({
    namespace: tenant.namespace,
    body: { metadata: { name: 'second', annotations: { 'vault.autopilot.dev/auto-configure': 'true', 'vault.autopilot.dev/vault': `${victim}/vault` } } },
  });
  const capped = await eventually(async () => {
    const found = (await warnings('SelfServiceRefused')).filter((e) => e.involvedObject.name === 'second');
    if (!found.length) throw new Error('no refusal for the second ServiceAccount yet');
    return found[0]!;
  }, { timeoutMs: 30_000, intervalMs: 200 });
  t.regex(capped.message ?? '', new RegExp(`namespace ${tenant.namespace} already has 1 ServiceAccounts configured in Vault ${victim}/vault, its cap .*maxServiceAccountsPerNamespace: 1.*nothing was written`));
  const changes = diffSnapshots(before, await snapshotOutside(env(), tenant.namespace));
  t.deepEqual(changes, [], describeChanges(changes));
  t.deepEqual(await vaultRoles(), [`sa.${tenant.namespace}.app`]);
});
