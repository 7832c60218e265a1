// External mode against a REAL, UNINITIALISED Vault with file storage:
// init -> keys Secret -> unsealed -> configured, checked inside Vault; sealed
// by hand and restarted -> unsealed again; root token revoked; externalConfig
// add/change/remove with removals limited to what the operator created;
// in-sync reconciles make zero writes; no key or token leaks.
import test from 'ava';
import { CoreV1Api, RbacAuthorizationV1Api, type CoreV1Event } from '@kubernetes/client-node';
import { startServers, eventually, WITHIN, type Servers } from '../../harness/index.js';
import { VaultAudit, WRITE_OPERATIONS } from '../../harness/vault-audit.js';
import { VaultClient } from '../../../operator/vault/client.js';
import { AwsKms } from '../../../operator/kms/aws-kms.js';
import { kmsContext } from '../../../operator/vault/unseal.js';
import { CRD_FILE, Vaults, changesOnceInSync, fromSample, startVaultOperator, type RunningVaultOperator } from './helpers.js';
import { tokenSecretLabels } from '../../support/external-vault.js';

let servers: Servers;
let op: RunningVaultOperator;
let ns: string;
let vaults: Vaults;
let admin: VaultClient; // an orphan root-policy token the test makes for itself while the root token exists
let rootToken = '';
let audit: VaultAudit; // Vault's own record of what it served, from the moment the test has a token
const NAME = 'ext';
/** README: an in-sync reconcile of this resource makes exactly this many authenticated Vault reads. */
const IN_SYNC_READS = 13;
const leakCandidates: string[] = [];
const OPERATOR_SA = 'vault-autopilot';
let operatorJwt: () => Promise<string>;

const raw = (token: string | null) => new VaultClient({ address: servers.vault.address, auth: { method: 'token', token: token ?? '' }, timeoutMs: 3000 });
const sealStatus = () => raw(null).sealStatus();

test.before(async () => {
  servers = await startServers({ vault: 'file', kms: true });
  await servers.env.applyCrds(CRD_FILE);
  ns = await servers.env.namespace('vault-external');
  vaults = new Vaults(servers.env.kubeConfig());
  // the operator's own ServiceAccount, allowed to have its tokens reviewed (Vault's Kubernetes auth calls TokenReview with it)
  const kc = servers.env.kubeConfig();
  const core = kc.makeApiClient(CoreV1Api);
  await core.createNamespacedServiceAccount({ namespace: ns, body: { metadata: { name: OPERATOR_SA } } });
  await kc.makeApiClient(RbacAuthorizationV1Api).createClusterRoleBinding({
    body: {
      metadata: { name: `${ns}-operator-auth-delegator` },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'system:auth-delegator' },
      subjects: [{ kind: 'ServiceAccount', name: OPERATOR_SA, namespace: ns }],
    },
  });
  operatorJwt = async () => {
    const res = await core.createNamespacedServiceAccountToken({ name: OPERATOR_SA, namespace: ns, body: { spec: { audiences: [], expirationSeconds: 3600 } } });
    leakCandidates.push(res.status!.token);
    return res.status!.token;
  };
  op = await startVaultOperator(
    servers.env,
    ns,
    { resyncPeriodMs: 2000, sealedRecheckMs: 500, operatorServiceAccount: { name: OPERATOR_SA, namespace: ns } },
    { operatorJwt },
  );
});

let second: Servers | undefined;

test.after.always(async () => {
  await op?.stop();
  await second?.stopAll();
  await servers?.stopAll();
});

test.serial('an uninitialised Vault is initialised, its keys stored, unsealed and configured', async (t) => {
  t.false((await sealStatus()).initialized);
  const cr = fromSample('samples/vault-external.yaml', ns, NAME, {
    external: { address: servers.vault.address },
    unsealConfig: { options: { secretShares: 3, secretThreshold: 2, storeRootToken: true } },
  });
  cr.spec.externalConfig!.auth!.push({
    type: 'kubernetes',
    path: 'kubernetes',
    roles: [{ name: 'app', bound_service_account_names: ['app'], bound_service_account_namespaces: [ns], policies: ['apps-read'], token_ttl: '5m' }],
  });
  const started = Date.now();
  await vaults.create(cr);
  await vaults.waitForCondition(ns, NAME, 'Ready', 'True', { timeoutMs: 60_000 });
  t.log(`create -> Ready (init, unseal, operator token, 3 auth methods, 3 roles, 1 policy, 1 mount): ${Date.now() - started} ms`);
  const status = (await vaults.get(ns, NAME)).status!;
  t.is(status.mode, 'external');
  t.false(status.sealed);
  t.true(status.initialized);
  for (const type of ['Initialized', 'Unsealed', 'Configured']) t.is(status.conditions!.find((c) => c.type === type)?.status, 'True', type);

  const seal = await sealStatus();
  t.true(seal.initialized);
  t.false(seal.sealed);
  t.is(seal.n, 3);
  t.is(seal.t, 2);
  const keys = (await vaults.secretData(ns, `${NAME}-unseal-keys`))!;
  t.deepEqual(Object.keys(keys).sort(), ['vault-root', 'vault-unseal-0', 'vault-unseal-1', 'vault-unseal-2']);
  rootToken = keys['vault-root']!;
  leakCandidates.push(rootToken, keys['vault-unseal-0']!, keys['vault-unseal-1']!, keys['vault-unseal-2']!);
  const operatorToken = (await vaults.secretData(ns, `${NAME}-operator-token`))!.token!;
  leakCandidates.push(operatorToken);

  const created = await raw(rootToken).request<{ auth: { client_token: string } }>('POST', 'auth/token/create-orphan', { policies: ['root'], ttl: '1h' });
  admin = raw(created.data.auth.client_token);
  audit = await VaultAudit.enable({ address: servers.vault.address, rootToken: created.data.auth.client_token });
  leakCandidates.push(created.data.auth.client_token);

  // everything, inside Vault
  const policy = await admin.request<{ data: { policy: string } }>('GET', 'sys/policies/acl/apps-read');
  t.regex(policy.data.data.policy, /path "apps\/\*"/);
  const auths = (await admin.request<{ data: Record<string, { type: string }> }>('GET', 'sys/auth')).data.data;
  t.is(auths['approle/']?.type, 'approle');
  t.is(auths['kubernetes/']?.type, 'kubernetes');
  const ci = (await admin.request<{ data: { token_policies: string[]; token_ttl: number } }>('GET', 'auth/approle/role/ci')).data.data;
  t.deepEqual(ci.token_policies, ['apps-read']);
  t.is(ci.token_ttl, 1200);
  const app = (await admin.request<{ data: { bound_service_account_names: string[]; token_policies: string[]; token_ttl: number } }>('GET', 'auth/kubernetes/role/app')).data.data;
  t.deepEqual(app.bound_service_account_names, ['app']);
  t.deepEqual(app.token_policies, ['apps-read']);
  t.is(app.token_ttl, 300);
  const k8s = (await admin.request<{ data: { kubernetes_host: string } }>('GET', 'auth/kubernetes/config')).data.data;
  t.is(k8s.kubernetes_host, servers.env.apiserverUrl, 'kubernetes_host defaults to the cluster');
  const mounts = (await admin.request<{ data: Record<string, { type: string; options: { version?: string } }> }>('GET', 'sys/mounts')).data.data;
  t.is(mounts['apps/']?.type, 'kv');
  t.is(mounts['apps/']?.options.version, '1');
  t.deepEqual((await vaults.get(ns, NAME)).status!.managed, {
    auth: ['approle', 'kubernetes', 'vault-autopilot'],
    policies: ['apps-read'],
    roles: ['approle/ci', 'kubernetes/app', 'vault-autopilot/operator'],
    secrets: ['apps'],
  });
  const events = await vaults.events(ns, NAME);
  t.true(events.some((e) => e.reason === 'Initialized'));
  t.true(events.some((e) => e.reason === 'ConfigChanged' && /created policy apps-read/.test(e.message ?? '')));
});

test.serial('the operator token is limited: it cannot read secrets', async (t) => {
  const operatorToken = (await vaults.secretData(ns, `${NAME}-operator-token`))!.token!;
  await admin.request('PUT', 'apps/probe', { value: 'x' });
  const err = await t.throwsAsync(raw(operatorToken).request('GET', 'apps/probe'));
  t.is((err as unknown as { status: number }).status, 403);
});

test.serial('an unchanged resource: every reconcile makes the same reads, zero Vault writes and zero Kubernetes writes', async (t) => {
  // in sync first: a pass that wrote nothing to Vault or Kubernetes
  const anyWrite = () => [...audit.responses().filter((r) => WRITE_OPERATIONS.has(r.operation)), ...op.kubeWrites];
  await changesOnceInSync(op, anyWrite, 0);
  const kubeWrites = op.kubeWrites.length;
  const rv = (await vaults.get(ns, NAME)).metadata!.resourceVersion;
  const mark = audit.mark();
  const passes = op.reconciles();
  await eventually(async () => {
    if (op.reconciles() < passes + 4) throw new Error('waiting for resyncs');
  }, WITHIN.reconcile);
  // counted by Vault's audit device; only the operator talks to this Vault in the meantime
  const served = audit.since(mark);
  t.deepEqual(served.filter((r) => WRITE_OPERATIONS.has(r.operation)), [], 'no Vault writes');
  // a pass starts by checking its token (unauthenticated calls such as seal-status are not audited);
  // the first and last pass may be cut by the window
  const starts = served.flatMap((r, i) => (r.path === 'auth/token/lookup-self' ? [i] : []));
  const whole = starts.slice(0, -1).map((start, i) => served.slice(start, starts[i + 1]).map((r) => `${r.operation} ${r.path}`));
  t.true(whole.length >= 2, `${whole.length} whole passes seen`);
  for (const pass of whole.slice(1)) t.deepEqual(pass, whole[0], 'every in-sync pass makes exactly the same requests');
  t.log(`in-sync reconcile: exactly ${whole[0]!.length} audited Vault reads, 0 writes (${whole.length} whole passes in Vault's audit log)`);
  t.is(whole[0]!.length, IN_SYNC_READS, 'the figure the README states');
  t.deepEqual(op.kubeWrites.slice(kubeWrites), []);
  t.is((await vaults.get(ns, NAME)).metadata!.resourceVersion, rv);
});

test.serial('a Kubernetes-auth role deleted by hand in Vault is restored by the periodic reconcile', async (t) => {
  // the Event of the role's first creation must not count as the restore's: remember what is there
  const roleApp = (e: CoreV1Event) => e.reason === 'ConfigChanged' && /role app/.test(e.message ?? '');
  const before = new Map((await vaults.events(ns, NAME)).filter(roleApp).map((e) => [e.metadata?.name, e.count ?? 1]));
  await admin.request('DELETE', 'auth/kubernetes/role/app');
  const app = await eventually(async () => {
    const res = await admin.request<{ data: { bound_service_account_names: string[]; token_policies: string[] } }>('GET', 'auth/kubernetes/role/app', undefined, { allowStatus: [404] });
    if (res.status === 404) throw new Error('not restored yet');
    return res.data.data;
  }, WITHIN.reconcile);
  t.deepEqual(app.bound_service_account_names, ['app']);
  t.deepEqual(app.token_policies, ['apps-read']);
  const roleEvent = await vaults.waitForEvent(ns, NAME, (e) => roleApp(e) && (e.count ?? 1) > (before.get(e.metadata?.name) ?? 0), 'role app, for the restore');
  t.is(roleEvent.type, 'Normal');
});

test.serial('storeRootToken false: the root token is revoked and removed from the Secret', async (t) => {
  t.is((await raw(rootToken).request('GET', 'auth/token/lookup-self', undefined, { allowStatus: [403] })).status, 200);
  await vaults.patchSpec(ns, NAME, { unsealConfig: { options: { storeRootToken: false } } });
  await eventually(async () => {
    const keys = (await vaults.secretData(ns, `${NAME}-unseal-keys`))!;
    if ('vault-root' in keys) throw new Error('root still stored');
  }, WITHIN.reconcile);
  const res = await raw(rootToken).request('GET', 'auth/token/lookup-self', undefined, { allowStatus: [403] });
  t.is(res.status, 403);
  t.true((await vaults.events(ns, NAME)).some((e) => e.reason === 'RootTokenRevoked'));
  await vaults.waitForCondition(ns, NAME, 'Ready', 'True');
});

test.serial('add, change and remove a policy, a role, a mount and an auth method; unmanaged ones survive', async (t) => {
  await admin.request('PUT', 'sys/policies/acl/handmade', { policy: 'path "x" { capabilities = ["read"] }' });
  await admin.request('POST', 'sys/mounts/handmade-kv', { type: 'kv' });
  await admin.request('POST', 'auth/approle/role/handmade', { token_ttl: '1m' });
  const cr = await vaults.get(ns, NAME);
  const ec = cr.spec.externalConfig!;
  await vaults.patchSpec(ns, NAME, {
    externalConfig: {
      ...ec,
      policies: [{ name: 'apps-read', rules: 'path "apps/*" { capabilities = ["read", "list"] }' }, { name: 'extra', rules: 'path "extra/*" { capabilities = ["read"] }' }],
      auth: [
        { type: 'approle', path: 'approle', roles: [{ name: 'ci', token_policies: ['apps-read', 'extra'], token_ttl: '30m' }, { name: 'deploy', token_ttl: '10m' }] },
        { type: 'userpass', path: 'people', description: 'humans' },
      ],
      secrets: [{ type: 'kv', path: 'apps', options: { version: '1' } }, { type: 'transit', path: 'transit' }],
    },
  });
  await eventually(
    async () => {
      const auths = (await admin.request<{ data: Record<string, unknown> }>('GET', 'sys/auth')).data.data;
      if ('kubernetes/' in auths || !('people/' in auths)) throw new Error('auth methods not followed yet');
      const mounts = (await admin.request<{ data: Record<string, unknown> }>('GET', 'sys/mounts')).data.data;
      if (!('transit/' in mounts)) throw new Error('transit not mounted yet');
    },
    { timeoutMs: 30_000 },
  );
  await vaults.waitForCondition(ns, NAME, 'Configured', 'True');
  t.regex((await admin.request<{ data: { policy: string } }>('GET', 'sys/policies/acl/apps-read')).data.data.policy, /"list"/);
  t.is((await admin.request('GET', 'sys/policies/acl/extra')).status, 200);
  const ci = (await admin.request<{ data: { token_policies: string[]; token_ttl: number } }>('GET', 'auth/approle/role/ci')).data.data;
  t.deepEqual([...ci.token_policies].sort(), ['apps-read', 'extra']);
  t.is(ci.token_ttl, 1800);
  t.is((await admin.request('GET', 'auth/approle/role/deploy')).status, 200);
  t.is((await admin.request('GET', 'auth/approle/role/handmade')).status, 200, 'a role made by hand is not the operator’s to delete');

  // now remove single entries
  const after = (await vaults.get(ns, NAME)).spec.externalConfig!;
  await vaults.patchSpec(ns, NAME, {
    externalConfig: {
      ...after,
      policies: after.policies!.filter((p) => p.name !== 'extra'),
      auth: [{ type: 'approle', path: 'approle', roles: [{ name: 'ci', token_policies: ['apps-read'], token_ttl: '30m' }] }],
      secrets: [{ type: 'kv', path: 'apps', options: { version: '1' } }],
    },
  });
  await eventually(async () => {
    const res = await admin.request('GET', 'auth/approle/role/deploy', undefined, { allowStatus: [404] });
    if (res.status !== 404) throw new Error('role deploy still there');
    const mounts = (await admin.request<{ data: Record<string, unknown> }>('GET', 'sys/mounts')).data.data;
    if ('transit/' in mounts) throw new Error('transit still mounted');
  }, WITHIN.reconcile);
  await vaults.waitForCondition(ns, NAME, 'Configured', 'True');
  t.is((await admin.request('GET', 'sys/policies/acl/extra', undefined, { allowStatus: [404] })).status, 404);
  const auths = (await admin.request<{ data: Record<string, unknown> }>('GET', 'sys/auth')).data.data;
  t.false('people/' in auths);
  t.is((await admin.request('GET', 'auth/approle/role/ci')).status, 200);
  // what the operator never created is still there
  t.is((await admin.request('GET', 'sys/policies/acl/handmade')).status, 200);
  t.is((await admin.request('GET', 'auth/approle/role/handmade')).status, 200);
  const mounts = (await admin.request<{ data: Record<string, unknown> }>('GET', 'sys/mounts')).data.data;
  t.true('handmade-kv/' in mounts);
  t.deepEqual((await vaults.get(ns, NAME)).status!.managed, {
    auth: ['approle', 'vault-autopilot'],
    policies: ['apps-read'],
    roles: ['approle/ci', 'vault-autopilot/operator'],
    secrets: ['apps'],
  });
});

test.serial('the operator logs in with its own Kubernetes-auth role; the stored token is only the way back in', async (t) => {
  const role = (await admin.request<{ data: { bound_service_account_names: string[]; token_policies: string[] } }>('GET', 'auth/vault-autopilot/role/operator')).data.data;
  t.deepEqual(role.bound_service_account_names, [OPERATOR_SA]);
  t.deepEqual(role.token_policies, ['vault-autopilot-operator']);
  const login = await raw(null).request<{ auth: { policies: string[]; client_token: string } }>('POST', 'auth/vault-autopilot/login', { role: 'operator', jwt: await operatorJwt() }, { token: null });
  leakCandidates.push(login.data.auth.client_token);
  t.true(login.data.auth.policies.includes('vault-autopilot-operator'));
  // without the stored token the operator still gets in and applies changes
  await vaults.core.deleteNamespacedSecret({ name: `${NAME}-operator-token`, namespace: ns });
  const ec = (await vaults.get(ns, NAME)).spec.externalConfig!;
  await vaults.patchSpec(ns, NAME, { externalConfig: { ...ec, policies: [...ec.policies!, { name: 'via-k8s', rules: 'path "k/*" { capabilities = ["read"] }' }] } });
  await eventually(async () => {
    if ((await admin.request('GET', 'sys/policies/acl/via-k8s', undefined, { allowStatus: [404] })).status !== 200) throw new Error('not applied');
  }, WITHIN.reconcile);
  await vaults.waitForCondition(ns, NAME, 'Ready', 'True');
  await vaults.patchSpec(ns, NAME, { externalConfig: ec });
  await eventually(async () => {
    if ((await admin.request('GET', 'sys/policies/acl/via-k8s', undefined, { allowStatus: [404] })).status !== 404) throw new Error('not removed');
  }, WITHIN.reconcile);
  t.pass();
});

test.serial('a role changed by hand is restored by the periodic reconcile', async (t) => {
  await admin.request('POST', 'auth/approle/role/ci', { token_ttl: '1m', token_policies: ['default'] });
  const ci = await eventually(async () => {
    const role = (await admin.request<{ data: { token_policies: string[]; token_ttl: number } }>('GET', 'auth/approle/role/ci')).data.data;
    if (role.token_ttl !== 1800) throw new Error(`token_ttl ${role.token_ttl}`);
    return role;
  }, WITHIN.reconcile);
  t.deepEqual(ci.token_policies, ['apps-read']);
  const updated = await vaults.waitForEvent(ns, NAME, (e) => e.reason === 'ConfigChanged' && /updated role ci/.test(e.message ?? ''), 'updated role ci');
  t.is(updated.type, 'Normal');
});

test.serial('invalid entries: Configured=False naming each, the rest still applied', async (t) => {
  const ec = (await vaults.get(ns, NAME)).spec.externalConfig!;
  await vaults.patchSpec(ns, NAME, {
    externalConfig: {
      ...ec,
      policies: [...ec.policies!, { name: 'broken', rules: 'path "x" { capabilities = ' }, { name: 'fine', rules: 'path "fine/*" { capabilities = ["read"] }' }],
      auth: [
        ...ec.auth!.map((a) => (a.path === 'approle' ? { ...a, roles: a.roles!.map((r) => (r.name === 'ci' ? { ...r, tokn_ttl: '1m' } : r)) } : a)),
        { type: 'no-such-method', path: 'weird' },
      ],
    },
  });
  // an auth entry without a type never gets this far: type is required (the path defaults to it)
  const typeless = await t.throwsAsync(vaults.patchSpec(ns, NAME, { externalConfig: { ...ec, auth: [...ec.auth!, { path: 'typeless', roles: [{ name: 'orphan' }] }] } }));
  t.regex(String((typeless as unknown as { body?: string }).body), /type/);
  const c = await vaults.waitForCondition(ns, NAME, 'Configured', 'False', { reason: 'InvalidEntries' });
  t.regex(c.message, /policy broken/);
  t.regex(c.message, /auth weird/);
  await vaults.waitForCondition(ns, NAME, 'Configured', 'False', { message: /tokn_ttl/ });
  t.is((await admin.request('GET', 'sys/policies/acl/fine')).status, 200, 'the valid entry was applied');
  t.is((await vaults.condition(ns, NAME, 'Ready'))?.status, 'False');
  t.true((await vaults.events(ns, NAME)).some((e) => e.type === 'Warning' && e.reason === 'ConfigInvalid'));
  // fixed again
  await vaults.patchSpec(ns, NAME, { externalConfig: ec });
  await vaults.waitForCondition(ns, NAME, 'Ready', 'True');
  t.is((await admin.request('GET', 'sys/policies/acl/fine', undefined, { allowStatus: [404] })).status, 404);
});

test.serial('sealed by hand -> unsealed again', async (t) => {
  await admin.request('PUT', 'sys/seal');
  t.true((await sealStatus()).sealed);
  await eventually(async () => {
    if ((await sealStatus()).sealed) throw new Error('still sealed');
  }, { timeoutMs: 30_000 });
  await vaults.waitForCondition(ns, NAME, 'Unsealed', 'True');
  t.true((await vaults.events(ns, NAME)).some((e) => e.reason === 'Unsealed'));
});

test.serial('the Vault server restarts -> unsealed again, status said so meanwhile', async (t) => {
  await servers.vault.stop();
  await vaults.waitForCondition(ns, NAME, 'Unsealed', 'Unknown', { reason: 'VaultUnreachable' });
  await servers.vault.start();
  await eventually(async () => {
    const s = await sealStatus();
    if (s.sealed) throw new Error('still sealed');
  }, { timeoutMs: 30_000 });
  await vaults.waitForCondition(ns, NAME, 'Ready', 'True');
  t.pass();
});

test.serial('unsealConfig.aws: keys are stored KMS-encrypted and still unseal after a restart', async (t) => {
  second = await startServers({ vault: 'file', kms: false, apiserver: false });
  const address = second.vault.address;
  const kmsEnv = servers.env.kms;
  await vaults.create({
    apiVersion: 'vault.autopilot.dev/v1alpha1',
    kind: 'Vault',
    metadata: { name: 'kms', namespace: ns },
    spec: { external: { address }, unsealConfig: { options: { secretShares: 3, secretThreshold: 2 }, aws: { kmsKeyId: kmsEnv.keyAlias, kmsRegion: kmsEnv.region } } },
  });
  await vaults.waitForCondition(ns, 'kms', 'Ready', 'True', { timeoutMs: 60_000 });
  const secret = await vaults.core.readNamespacedSecret({ name: 'kms-unseal-keys', namespace: ns });
  t.is(secret.metadata!.annotations!['vault.autopilot.dev/kms-key-id'], kmsEnv.keyAlias);
  t.deepEqual(Object.keys(secret.data!).sort(), ['vault-unseal-0', 'vault-unseal-1', 'vault-unseal-2']);
  const kms = new AwsKms({ region: kmsEnv.region, endpoint: kmsEnv.endpoint, credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
  for (const value of Object.values(secret.data!)) {
    const ciphertext = Buffer.from(value, 'base64');
    t.notRegex(ciphertext.toString('latin1'), /^[0-9a-f]{64,66}$/, 'not a plaintext key');
    const plain = Buffer.from((await kms.decrypt({ ciphertext, context: kmsContext(ns, 'kms') })).plaintext).toString('utf8');
    t.regex(plain, /^[0-9a-f]{64,66}$/);
    leakCandidates.push(plain);
  }
  await t.throwsAsync(kms.decrypt({ ciphertext: Buffer.from(secret.data!['vault-unseal-0']!, 'base64'), context: kmsContext(ns, 'other') }));
  kms.destroy();
  const unsealEvents = async () => (await vaults.events(ns, 'kms')).filter((e) => e.reason === 'Unsealed').reduce((n, e) => n + (e.count ?? 1), 0);
  const before = await unsealEvents();
  await second.vault.stop();
  await second.vault.start();
  await eventually(async () => {
    if ((await new VaultClient({ address, auth: { method: 'token' } }).sealStatus()).sealed) throw new Error('still sealed');
  }, { timeoutMs: 30_000 });
  await vaults.waitForCondition(ns, 'kms', 'Ready', 'True');
  await eventually(async () => {
    if ((await unsealEvents()) <= before) throw new Error('no new Unsealed event');
  }, WITHIN.reconcile);
  t.pass();
});

test.serial('adopting an initialised Vault with spec.external.auth (token from a Secret)', async (t) => {
  const adminToken = admin.connection.auth.method === 'token' ? admin.connection.auth.token! : '';
  await vaults.core.createNamespacedSecret({ namespace: ns, body: { metadata: { name: 'adopt-admin', labels: tokenSecretLabels('adopt') }, stringData: { token: adminToken } } });
  await vaults.create({
    apiVersion: 'vault.autopilot.dev/v1alpha1',
    kind: 'Vault',
    metadata: { name: 'adopt', namespace: ns },
    spec: {
      external: { address: servers.vault.address, auth: { method: 'token', tokenSecretRef: { name: 'adopt-admin' } } },
      externalConfig: { policies: [{ name: 'adopted', rules: 'path "adopted/*" { capabilities = ["read"] }' }] },
    },
  });
  await vaults.waitForCondition(ns, 'adopt', 'Ready', 'True');
  t.is((await admin.request('GET', 'sys/policies/acl/adopted')).status, 200);
  const status = (await vaults.get(ns, 'adopt')).status!;
  t.deepEqual(status.managed, { policies: ['adopted'] }, 'no operator auth mount when the spec says how to log in');
  t.is(await vaults.secretData(ns, 'adopt-unseal-keys'), undefined, 'nothing initialised, no keys Secret');
  t.is(await vaults.secretData(ns, 'adopt-operator-token'), undefined);
  await vaults.delete(ns, 'adopt');
});

test.serial('no unseal key, root token or operator token in logs, events or status', async (t) => {
  t.true(leakCandidates.length >= 5);
  const logs = op.logs.text();
  const events = JSON.stringify(await vaults.events(ns, NAME));
  const status = JSON.stringify((await vaults.get(ns, NAME)).status);
  for (const value of leakCandidates) {
    t.true(value.length >= 20);
    t.false(logs.includes(value), 'log');
    t.false(events.includes(value), 'events');
    t.false(status.includes(value), 'status');
  }
  t.true(logs.length > 1000, 'there were logs to check');
});

test.serial('deleting the resource keeps the unseal keys (Warning event) and drops its Vault clients', async (t) => {
  t.true(op.controller.hasClients(ns, NAME));
  await vaults.delete(ns, NAME);
  await eventually(async () => {
    try {
      await vaults.get(ns, NAME);
    } catch (err) {
      if ((err as { code?: number }).code === 404) return;
      throw err;
    }
    throw new Error('still there');
  }, WITHIN.reconcile);
  t.truthy((await vaults.secretData(ns, `${NAME}-unseal-keys`))?.['vault-unseal-0']);
  t.true((await vaults.events(ns, NAME)).some((e) => e.type === 'Warning' && e.reason === 'UnsealKeysKept'));
  t.false(op.controller.hasClients(ns, NAME), 'the finalizer dropped the clients of the deleted Vault');
});
