// 200 ServiceAccounts annotated at once -> exactly 200 roles and 200 policies,
// in the `Vault` resource (batched server-side applies: no conflicts, none
// overwritten, hand-written entries kept) and in the real
// Vault (the Vault controller applies them). Then all 200 removed again.
import test from 'ava';
import { serviceAccountRoleName } from '../../../operator/api/naming.js';
import { eventually, useTestEnv } from '../../harness/index.js';
import { Cluster, entryNames, vaultPolicies, vaultRequest, vaultRoles, startVaultFollowing, stopVaultFollowing, type VaultFollowing } from './helpers.js';

const env = useTestEnv(test);
const COUNT = 200;
const AUTO = 'vault.autopilot.dev/auto-configure';

let cluster: Cluster;
let ns: string;
let authPath: string;
let setup: VaultFollowing | undefined;

test.before(async () => {
  setup = await startVaultFollowing(env(), 'scale');
  ({ cluster, ns, authPath } = setup);
});

test.after.always(() => stopVaultFollowing(env(), setup));

const names = Array.from({ length: COUNT }, (_, i) => `app-${String(i).padStart(3, '0')}`);
const ours = (list: string[]) => list.filter((n) => n.startsWith(`sa.${ns}.`));

test.serial(`${COUNT} ServiceAccounts annotated concurrently: exactly ${COUNT} roles and policies in the Vault resource and in Vault`, async (t) => {
  const started = Date.now();
  await Promise.all(names.map((name) => cluster.createServiceAccount(ns, name, { [AUTO]: 'true' })));
  const created = Date.now();
  await eventually(
    async () => {
      const found = entryNames(await cluster.externalConfig(ns, 'vault'), authPath);
      if (ours(found.roles).length !== COUNT || ours(found.policies).length !== COUNT) {
        throw new Error(`${ours(found.roles).length} roles, ${ours(found.policies).length} policies in the resource`);
      }
    },
    { timeoutMs: 180_000, intervalMs: 250 },
  );
  const inResource = Date.now();
  await eventually(
    async () => {
      const roles = ours(await vaultRoles(env(), authPath));
      const policies = ours(await vaultPolicies(env()));
      if (roles.length !== COUNT || policies.length !== COUNT) throw new Error(`${roles.length} roles, ${policies.length} policies in Vault`);
    },
    { timeoutMs: 240_000, intervalMs: 500 },
  );
  const inVault = Date.now();
  t.log(`creating ${COUNT} ServiceAccounts: ${created - started} ms; all in the Vault resource after ${inResource - started} ms; all in Vault after ${inVault - started} ms`);

  const config = await cluster.externalConfig(ns, 'vault');
  const found = entryNames(config, authPath);
  t.deepEqual(ours(found.roles), names.map((n) => serviceAccountRoleName(ns, n)).sort());
  t.true(found.roles.includes('hand-written'));
  t.true(found.policies.includes(`hand-written-${ns}`));
  // every role is bound to its own ServiceAccount only
  const auth = config.auth!.find((a) => a.path === authPath)!;
  for (const role of auth.roles!.filter((r) => r.name.startsWith(`sa.${ns}.`))) {
    const sa = role.name.slice(`sa.${ns}.`.length);
    t.deepEqual(role.bound_service_account_names, [sa]);
  }
  // one Vault role, read back
  const sample = await vaultRequest(env(), 'GET', `auth/${authPath}/role/${serviceAccountRoleName(ns, names[7]!)}`);
  t.deepEqual(sample.json.data?.bound_service_account_names, [names[7]]);
  t.deepEqual(sample.json.data?.bound_service_account_namespaces, [ns]);
  t.deepEqual(sample.json.data?.token_policies, [serviceAccountRoleName(ns, names[7]!)]);
  t.is(sample.json.data?.token_ttl, 300);
});

test.serial(`all ${COUNT} deleted: every entry leaves the resource and Vault; hand-written ones stay`, async (t) => {
  const started = Date.now();
  await Promise.all(names.map((name) => cluster.deleteServiceAccount(ns, name)));
  await eventually(
    async () => {
      const found = entryNames(await cluster.externalConfig(ns, 'vault'), authPath);
      if (ours(found.roles).length || ours(found.policies).length) throw new Error(`${ours(found.roles).length} roles left in the resource`);
    },
    { timeoutMs: 180_000, intervalMs: 250 },
  );
  await eventually(
    async () => {
      const roles = ours(await vaultRoles(env(), authPath));
      const policies = ours(await vaultPolicies(env()));
      if (roles.length || policies.length) throw new Error(`${roles.length} roles, ${policies.length} policies left in Vault`);
    },
    { timeoutMs: 240_000, intervalMs: 500 },
  );
  t.log(`removing ${COUNT}: ${Date.now() - started} ms until gone from Vault`);
  t.deepEqual(await vaultRoles(env(), authPath), ['hand-written']);
  t.true((await vaultPolicies(env())).includes(`hand-written-${ns}`));
});
