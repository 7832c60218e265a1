// Annotate / un-annotate / delete a ServiceAccount -> the `Vault` resource
// and the REAL Vault follow: the ServiceAccount controller writes the
// resource, the Vault controller (external mode, the harness's Vault) applies
// it. Hand-written entries stay in both.
import test from 'ava';
import { serviceAccountRoleName } from '../../../operator/api/naming.js';
import { eventually, WITHIN, useTestEnv } from '../../harness/index.js';
import { Cluster, entryNames, vaultPolicies, vaultRequest, vaultRoles, startVaultFollowing, stopVaultFollowing, type VaultFollowing } from './helpers.js';

const env = useTestEnv(test);
const AUTO = 'vault.autopilot.dev/auto-configure';
let cluster: Cluster;
let ns: string;
let authPath: string;
let setup: VaultFollowing | undefined;

test.before(async () => {
  setup = await startVaultFollowing(env(), 'follows');
  ({ cluster, ns, authPath } = setup);
});

test.after.always(() => stopVaultFollowing(env(), setup));

async function inVault(name: string): Promise<{ role: boolean; policy: boolean }> {
  const role = serviceAccountRoleName(ns, name);
  return { role: (await vaultRoles(env(), authPath)).includes(role), policy: (await vaultPolicies(env())).includes(role) };
}

async function waitInVault(name: string, present: boolean): Promise<void> {
  await eventually(
    async () => {
      const found = await inVault(name);
      if (found.role !== present || found.policy !== present) throw new Error(`${name}: ${JSON.stringify(found)}, want ${present}`);
    },
    { timeoutMs: 60_000, intervalMs: 250 },
  );
}

async function handWrittenIntact(t: { true(v: boolean, m?: string): void }): Promise<void> {
  t.true((await vaultRoles(env(), authPath)).includes('hand-written'), 'hand-written role in Vault');
  t.true((await vaultPolicies(env())).includes(`hand-written-${ns}`), 'hand-written policy in Vault');
  const names = entryNames(await cluster.externalConfig(ns, 'vault'), authPath);
  t.true(names.roles.includes('hand-written') && names.policies.includes(`hand-written-${ns}`), 'hand-written entries in the resource');
}

test.serial('annotate: the role and policy reach Vault, with the values the resource lists', async (t) => {
  await cluster.createServiceAccount(ns, 'web', { [AUTO]: 'true' });
  await waitInVault('web', true);
  const role = await vaultRequest(env(), 'GET', `auth/${authPath}/role/${serviceAccountRoleName(ns, 'web')}`);
  t.deepEqual(role.json.data?.bound_service_account_names, ['web']);
  t.deepEqual(role.json.data?.bound_service_account_namespaces, [ns]);
  t.deepEqual(role.json.data?.token_policies, [serviceAccountRoleName(ns, 'web')]);
  t.is(role.json.data?.token_ttl, 300);
  t.is(role.json.data?.token_max_ttl, 3600);
  const policy = await vaultRequest(env(), 'GET', `sys/policies/acl/${serviceAccountRoleName(ns, 'web')}`);
  t.true(String(policy.json.data?.policy).includes(`path "secret/data/${ns}/web/*"`));
  await handWrittenIntact(t);
});

test.serial('un-annotate: both leave the resource and Vault', async (t) => {
  await cluster.annotate(ns, 'web', { [AUTO]: null });
  await waitInVault('web', false);
  t.false(entryNames(await cluster.externalConfig(ns, 'vault'), authPath).roles.includes(serviceAccountRoleName(ns, 'web')));
  await handWrittenIntact(t);
});

test.serial('re-annotate, then delete: back in Vault, then gone again', async (t) => {
  await cluster.annotate(ns, 'web', { [AUTO]: 'true' });
  await waitInVault('web', true);
  await cluster.deleteServiceAccount(ns, 'web');
  await waitInVault('web', false);
  await eventually(async () => {
    if (await cluster.getServiceAccount(ns, 'web')) throw new Error('ServiceAccount still there');
  }, WITHIN.reconcile);
  await handWrittenIntact(t);
});
