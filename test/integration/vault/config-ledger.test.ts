// README "Performance": with a drift-check interval set, a pass LISTs the
// roles and policies once and reads back only what it does not know; a role
// deleted by hand is restored at the next resync, one edited by hand within
// the interval, and a restarted operator with the same configuration lists
// Vault instead of reading it (status.configDigest), writing nothing.
// Counted by Vault's audit device, for the operator's own token only.
import { randomBytes } from 'node:crypto';
import test from 'ava';
import { useTestEnv, eventually, WITHIN } from '../../harness/index.js';
import { VaultAudit, WRITE_OPERATIONS, type AuditedRequest } from '../../harness/vault-audit.js';
import { VaultClient } from '../../../operator/vault/client.js';
import type { VaultResource } from '../../../operator/api/vault.js';
import { CRD_FILE, Vaults, passes, startVaultOperator, type RunningVaultOperator } from './helpers.js';

const env = useTestEnv(test, { vault: 'dev', kms: false });
const NAME = 'ledger';
const ID = randomBytes(3).toString('hex');
const AUTH = `ledger-${ID}`;
const DISPLAY = `ledger-op-${ID}`;
const INTERVAL_MS = 10 * 60_000;
const SETTINGS = { resyncPeriodMs: 500, configDriftCheckMs: INTERVAL_MS };
const ROLES = Array.from({ length: 12 }, (_, i) => `app-${i}`);
let op: RunningVaultOperator | undefined;
let ns: string;
let vaults: Vaults;
let root: VaultClient;
let audit: VaultAudit;

const role = (name: string, ttl = '5m') => ({ name, bound_service_account_names: [name], bound_service_account_namespaces: ['apps'], token_policies: [`${AUTH}-${name}`], token_ttl: ttl });
const policy = (name: string) => ({ name: `${AUTH}-${name}`, rules: `path "apps/${name}/*" { capabilities = ["read"] }` });
const spec = (names: string[]): VaultResource['spec'] => ({
  external: { address: env().vault.address, auth: { method: 'token', tokenSecretRef: { name: 'ledger-token', key: 'token' } } },
  externalConfig: { auth: [{ type: 'kubernetes', path: AUTH, roles: names.map((n) => role(n)) }], policies: names.map(policy) },
});
/** The operator's requests (its own token) since `mark`. */
const ours = (mark: number): AuditedRequest[] => audit.since(mark).filter((r) => r.displayName === `token-${DISPLAY}`);
const reads = (served: AuditedRequest[]) => ({
  roleGets: served.filter((r) => r.operation === 'read' && r.path.startsWith(`auth/${AUTH}/role/`)).length,
  policyGets: served.filter((r) => r.operation === 'read' && r.path.startsWith(`sys/policies/acl/${AUTH}-`)).length,
  roleLists: served.filter((r) => r.operation === 'list' && r.path.replace(/\/$/, '') === `auth/${AUTH}/role`).length,
  policyLists: served.filter((r) => r.operation === 'list' && r.path.replace(/\/$/, '') === 'sys/policies/acl').length,
  writes: served.filter((r) => WRITE_OPERATIONS.has(r.operation)).map((r) => `${r.operation} ${r.path}`),
});
const ttlOf = async (name: string) => (await root.request<{ data: { token_ttl: number } }>('GET', `auth/${AUTH}/role/${name}`)).data.data.token_ttl;
const roleStatus = async (name: string) => (await root.request('GET', `auth/${AUTH}/role/${name}`, undefined, { allowStatus: [404] })).status;

test.before(async () => {
  await env().applyCrds(CRD_FILE);
  ns = await env().namespace('vault-ledger');
  vaults = new Vaults(env().kubeConfig());
  root = new VaultClient({ address: env().vault.address, auth: { method: 'token', token: env().vault.rootToken } });
  audit = await VaultAudit.enable(env().vault);
  // a token of its own: its display name tells the operator's requests from other files' on the shared Vault
  const token = (await root.request<{ auth: { client_token: string } }>('POST', 'auth/token/create', { display_name: DISPLAY, policies: ['root'], ttl: '2h' })).data.auth.client_token;
  await vaults.core.createNamespacedSecret({ namespace: ns, body: { metadata: { name: 'ledger-token', labels: { 'vault.autopilot.dev/vault-token-for': NAME } }, stringData: { token } } });
  op = await startVaultOperator(env(), ns, SETTINGS);
});

test.after.always(async () => {
  await op?.stop();
  await root?.request('DELETE', `sys/auth/${AUTH}`).catch(() => undefined);
  for (const name of [...ROLES, 'extra']) await root?.request('DELETE', `sys/policies/acl/${AUTH}-${name}`).catch(() => undefined);
});

test.serial('created, then a pass with nothing changed LISTs roles and policies and reads none of them back', async (t) => {
  await vaults.create({ apiVersion: 'vault.autopilot.dev/v1alpha1', kind: 'Vault', metadata: { name: NAME, namespace: ns }, spec: spec(ROLES) });
  await vaults.waitForCondition(ns, NAME, 'Configured', 'True', { timeoutMs: 60_000 });
  t.is(await ttlOf('app-3'), 300);
  const digest = (await vaults.get(ns, NAME)).status?.configDigest ?? '';
  t.regex(digest, /^[0-9a-f]{64}$/, 'status.configDigest: a SHA-256, nothing else');
  await passes(op!, 2);
  const mark = audit.mark();
  await passes(op!, 4);
  const seen = reads(ours(mark));
  t.true(seen.roleLists >= 2 && seen.policyLists >= 2, `LISTs each pass (${seen.roleLists} role, ${seen.policyLists} policy LISTs)`);
  t.is(seen.roleGets, 0, 'no role read back');
  t.is(seen.policyGets, 0, 'no policy read back');
  t.deepEqual(seen.writes, []);
});

test.serial('a role and a policy deleted by hand are back at the next resync, without reading the others', async (t) => {
  const mark = audit.mark();
  await root.request('DELETE', `auth/${AUTH}/role/app-5`);
  await root.request('DELETE', `sys/policies/acl/${AUTH}-app-6`);
  await eventually(async () => {
    if ((await roleStatus('app-5')) !== 200) throw new Error('role not restored yet');
    if ((await root.request('GET', `sys/policies/acl/${AUTH}-app-6`, undefined, { allowStatus: [404] })).status !== 200) throw new Error('policy not restored yet');
  }, WITHIN.reconcile);
  const seen = reads(ours(mark));
  t.deepEqual(seen.writes.sort(), [`create auth/${AUTH}/role/app-5`, `update sys/policies/acl/${AUTH}-app-6`].sort());
  t.is(seen.roleGets + seen.policyGets, 0);
});

test.serial('a role edited by hand is repaired once the drift-check interval has passed', async (t) => {
  await root.request('POST', `auth/${AUTH}/role/app-2`, { ...role('app-2', '1h') });
  await passes(op!, 3);
  t.is(await ttlOf('app-2'), 3600, 'within the interval the operator trusts what it applied (listed, not read)');
  const mark = audit.mark();
  op!.clock.offsetMs += INTERVAL_MS;
  await eventually(async () => {
    if ((await ttlOf('app-2')) !== 300) throw new Error('not repaired yet');
  }, WITHIN.reconcile);
  const seen = reads(ours(mark));
  t.true(seen.roleGets >= ROLES.length, `the full read: ${seen.roleGets} role reads`);
  t.deepEqual(seen.writes, [`update auth/${AUTH}/role/app-2`]);
});

test.serial('one role added: only it is written, nothing is read back', async (t) => {
  await passes(op!, 2);
  const mark = audit.mark();
  await vaults.patchSpec(ns, NAME, spec([...ROLES, 'extra']) as unknown as Record<string, unknown>);
  await eventually(async () => {
    if ((await roleStatus('extra')) !== 200) throw new Error('not written yet');
  }, WITHIN.reconcile);
  await vaults.waitForCondition(ns, NAME, 'Configured', 'True', { message: /13 roles/ });
  const seen = reads(ours(mark));
  t.deepEqual(seen.writes.sort(), [`create auth/${AUTH}/role/extra`, `update sys/policies/acl/${AUTH}-extra`].sort());
  t.is(seen.roleGets + seen.policyGets, 0);
});

test.serial('a restarted operator with the same configuration lists Vault, reads no role or policy and writes nothing; a role deleted meanwhile comes back', async (t) => {
  await passes(op!, 2);
  await op!.stop();
  op = undefined;
  const mark = audit.mark();
  op = await startVaultOperator(env(), ns, SETTINGS);
  await passes(op, 3);
  const seen = reads(ours(mark));
  t.true(seen.roleLists >= 1, 'Vault listed');
  t.is(seen.roleGets + seen.policyGets, 0, 'nothing read back after the restart');
  t.deepEqual(seen.writes, [], 'no Vault writes');
  t.deepEqual(op.kubeWrites, [], 'no Kubernetes writes');

  await op.stop();
  op = undefined;
  await root.request('DELETE', `auth/${AUTH}/role/app-7`);
  op = await startVaultOperator(env(), ns, SETTINGS);
  await eventually(async () => {
    if ((await roleStatus('app-7')) !== 200) throw new Error('not restored yet');
  }, WITHIN.reconcile);
  t.is(await ttlOf('app-7'), 300);
});
