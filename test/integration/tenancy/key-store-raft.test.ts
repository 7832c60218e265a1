// Issue 11 applied to the two Bank-Vaults fields that make the operator talk
// to an address a tenant writes: unsealConfig.vault (the key store: unseal
// keys and root token go to, and come from, another Vault's KV) and
// raftLeaderAddress (the pods join that leader; the operator's logins to
// them are forwarded there). A real user with `edit` in namespace A tries:
// unlisted stores and leaders (attacker listeners on loopback), credentials
// the operator must never send (its own identity, files in its pod, a
// Secret of another namespace), another tenant's keys in a shared store
// (read them, write over them), moving either field once the Vault is
// initialised, and a store that echoes what it is sent. Each attempt ends in
// a condition that says what to fix, the listeners see nothing but what they
// were meant to, and nothing outside A changes but A's own store path.
import test from 'ava';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { VaultResource } from '../../../operator/api/vault.js';
import type { KubeClients } from '../../../operator/framework/kube.js';
import { VaultClient } from '../../../operator/vault/client.js';
import { eventually, WITHIN } from '../../harness/index.js';
import { VaultServer } from '../../harness/vault.js';
import { describeChanges, diffSnapshots, isServiceAddressOf, refusal, snapshotOutside, useTenantEnv, type Snapshot, type Tenant } from '../../support/tenant.js';
import { VaultListener } from '../../support/vault-listener.js';
import { startVaultOperator, type RunningVaultOperator, type Vaults } from '../vault/helpers.js';
import { vaultIn, vaultTenant } from './helpers.js';

const { env } = useTenantEnv(test);
const dir = mkdtempSync(join(tmpdir(), 'key-store-raft-'));

let tenant: Tenant;
let admin: KubeClients;
let asTenant: Vaults;
let asAdmin: Vaults;
let op: RunningVaultOperator;
const listed = new VaultListener(); // an address the platform allows (say, another team's Vault)
const unlisted = new VaultListener(); // an address nobody allowed
const ownStore = new VaultListener(); // an allowed store that records what it gets
let l = ''; // listed's address
let u = ''; // unlisted's address
let own = ''; // ownStore's address
const servers: Record<string, VaultServer> = {};
const pods: Record<string, string> = {}; // managed Vault name -> its pod 0 (no kubelet here)
let before: Snapshot;
let store: VaultClient; // the shared key store, as its admin
let mount = '';
const tokens = { a: '', b: '', ab: '', ref: '' };
const bKeys: Record<string, string> = {}; // what Bank-Vaults stored for team B: key -> base64 value
let bNamespace = '';
const ns = () => tenant.namespace;
const vault = (name: string, spec: VaultResource['spec']): VaultResource => vaultIn(ns(), name, spec);
const host = (address: string) => new URL(address).host;
const shares = { options: { secretShares: 3, secretThreshold: 2 } };
const storeAt = (path: string, token: string, extra: Record<string, unknown> = {}) => ({ address: env().vault.address, unsealKeysPath: `${mount}/data/${path}`, token, ...extra });

/** An allowed store that answers reads with 404 and refuses writes quoting the request (headers and body) back. */
const echo = { requests: [] as string[], address: '' };
const echoServer = createServer((req, res) => {
  let body = '';
  req.on('data', (c: Buffer) => (body += c.toString()));
  req.on('end', () => {
    const seen = `${req.method} ${req.url} ${JSON.stringify(req.headers)} ${body}`;
    echo.requests.push(seen);
    res.setHeader('content-type', 'application/json');
    res.statusCode = req.method === 'GET' ? 404 : 400;
    res.end(JSON.stringify({ errors: req.method === 'GET' ? [] : [`cannot store: ${seen}`] }));
  });
});

const statusAndEvents = async () => {
  const list = await asAdmin.custom.listNamespacedCustomObject({ group: 'vault.autopilot.dev', version: 'v1alpha1', namespace: ns(), plural: 'vaults' });
  const events = await admin.core.listNamespacedEvent({ namespace: ns() });
  return JSON.stringify((list as { items: VaultResource[] }).items.map((v) => v.status)) + JSON.stringify(events.items.map((e) => e.message));
};

test.before(async () => {
  const e = env();
  ({ tenant, admin, asTenant, asAdmin } = await vaultTenant(e, 'key-store-raft'));
  bNamespace = await e.namespace('team-b');
  // the shared key store: one KV mount, a token per team limited to its path, and one token a careless platform made for both
  store = new VaultClient({ address: e.vault.address, auth: { method: 'token', token: e.vault.rootToken }, timeoutMs: 10_000 });
  mount = `ks-${ns()}`;
  await store.request('POST', `sys/mounts/${mount}`, { type: 'kv', options: { version: '2' } });
  const tokenFor = async (name: string, paths: string[]) => {
    await store.request('PUT', `sys/policies/acl/${mount}-${name}`, { policy: paths.map((p) => `path "${mount}/data/${p}/*" { capabilities = ["create", "read", "update", "delete"] }\n`).join('') });
    return (await store.request<{ auth: { client_token: string } }>('POST', 'auth/token/create-orphan', { policies: [`${mount}-${name}`], period: '24h' })).data.auth.client_token;
  };
  tokens.a = await tokenFor('a', ['a', 'a2', 'a3']);
  tokens.b = await tokenFor('b', ['b']);
  tokens.ab = await tokenFor('ab', ['a', 'b', 'a4']);
  // team B's keys, as Bank-Vaults stored them
  for (const key of ['vault-unseal-0', 'vault-unseal-1', 'vault-unseal-2', 'vault-root']) {
    bKeys[key] = Buffer.from(`team-b ${key} ${Math.random().toString(36).slice(2)}`).toString('base64');
    await store.request('PUT', `${mount}/data/b/${key}`, { data: { [key]: bKeys[key] } });
  }
  await admin.core.createNamespacedSecret({ namespace: bNamespace, body: { metadata: { name: 'store-token' }, stringData: { token: tokens.b } } });
  [l, u, own] = await Promise.all([listed.start(), unlisted.start(), ownStore.start()]);
  await new Promise<void>((resolve) => echoServer.listen(0, '127.0.0.1', resolve));
  echo.address = `http://127.0.0.1:${(echoServer.address() as AddressInfo).port}`;
  for (const [name, mode] of [['own', 'file'], ['careless', 'file'], ['echoed', 'file'], ['solo', 'raft']] as const) {
    servers[name] = await VaultServer.create(join(dir, name), mode);
    await servers[name].start();
  }
  pods.solo = servers.solo!.address;
  // the platform's list: the shared store, the "other team" listener, the recording and echoing stores, the three external Vaults
  const allowed = [e.vault.address, l, own, echo.address, servers.own!.address, servers.careless!.address, servers.echoed!.address];
  op = await startVaultOperator(e, ns(), { externalVaults: { allowed, allowHttp: true }, resyncPeriodMs: 2000, sealedRecheckMs: 500 }, {
    podAddress: (name, _ns, ordinal) => (ordinal === 0 && pods[name] ? pods[name] : 'http://127.0.0.1:1'),
    persistKeysBudgetMs: 1000,
  });
  before = await snapshotOutside(e, ns());
});

test.after.always(async () => {
  await op?.stop();
  for (const l of [listed, unlisted, ownStore]) await l.stop();
  await new Promise((resolve) => echoServer.close(resolve));
  for (const s of Object.values(servers)) await s.stop();
  rmSync(dir, { recursive: true, force: true });
});

test.serial('key store: an address the platform did not list (or a variant of a listed one) gets nothing, and no pod is made', async (t) => {
  const attempts: Array<[string, string]> = [
    ['ks-unlisted', u],
    ['ks-https', l.replace('http:', 'https:')],
    ['ks-path', `${l}/v1/sys`],
    ['ks-user', l.replace('http://', 'http://a:b@')],
  ];
  for (const [name, address] of attempts) await asTenant.create(vault(name, { size: 1, unsealConfig: { ...shares, vault: { address, unsealKeysPath: 'secret/data/x', token: tokens.a } } }));
  for (const [name, address] of attempts) {
    const c = await asAdmin.waitForCondition(ns(), name, 'Ready', 'False', { reason: 'ExternalAddressNotAllowed', ...WITHIN.reconcile });
    t.regex(c.message, /^spec\.unsealConfig\.vault\.address .*(not an external Vault the operator may send credentials to|must be scheme:\/\/host\[:port\] only)/, `${name} (${address})`);
    t.is((await refusal(admin.apps.readNamespacedStatefulSet({ name, namespace: ns() })))?.code, 404, `${name}: refused before any pod`);
  }
  t.deepEqual(unlisted.requests, [], 'the unlisted store was never contacted');
  t.deepEqual(listed.requests, [], 'nor the listed one through a scheme, path or user-info variant');
});

test.serial('key store: no credential but the tenant\'s own token: the operator\'s identity, a file in its pod, a Secret of another namespace are refused, nothing read or sent', async (t) => {
  const attempts: Array<[string, Record<string, unknown>]> = [
    ['ks-role', { role: 'vault-autopilot', authPath: 'kubernetes' }],
    ['ks-file', { tokenPath: '/var/run/secrets/kubernetes.io/serviceaccount/token' }],
    ['ks-secret', { tokenSecretRef: { name: 'store-token', namespace: bNamespace, key: 'token' } }],
  ];
  for (const [name, extra] of attempts) await asTenant.create(vault(name, { size: 1, unsealConfig: { ...shares, vault: { address: l, unsealKeysPath: 'secret/data/x', ...extra } } }));
  for (const [name] of attempts) {
    const c = await asAdmin.waitForCondition(ns(), name, 'Ready', 'False', { reason: 'InvalidSpec', ...WITHIN.reconcile });
    t.regex(
      c.message,
      name === 'ks-secret'
        ? new RegExp(`^spec\\.unsealConfig\\.vault: tokenSecretRef names a Secret in namespace "${bNamespace}": only a Secret of this Vault's namespace \\(${ns()}\\) is used\\. Nothing was read or sent$`)
        : /^spec\.unsealConfig\.vault: token \(or tokenSecretRef, a Secret of this namespace labelled for this Vault\) is required here: the operator logs in to the key store only with a credential of the resource owner.*Nothing was sent$/,
      name,
    );
  }
  t.deepEqual(listed.requests, [], 'the store got no request at all');
  t.false(await tenant.can('get', 'secrets', { namespace: bNamespace }), 'the tenant cannot read that Secret');
  const reads = op.kubeRequests.filter((r) => r.includes(`/namespaces/${bNamespace}/`));
  t.deepEqual(reads, [], 'the operator never read anything in team B\'s namespace');
});

test.serial('key store: an allowed store gets the tenant\'s token and nothing else (no operator token, JWT or other credential)', async (t) => {
  await asTenant.create(vault('ks-own', { size: 1, unsealConfig: { ...shares, vault: { address: own, unsealKeysPath: 'secret/data/ks-own', token: tokens.a } } }));
  await eventually(async () => {
    if (ownStore.requests.length < 4) throw new Error(`${ownStore.requests.length} requests`);
  }, WITHIN.reconcile);
  for (const r of ownStore.requests) {
    const [method, url] = r.split(' ', 2) as [string, string];
    t.is(method, 'GET', r);
    t.regex(url, /^\/v1\/secret\/data\/ks-own\/vault-(unseal-\d+|root)$/);
    const h = JSON.parse(r.slice(r.indexOf('{'), r.lastIndexOf('}') + 1)) as Record<string, string>;
    t.is(h['x-vault-token'], tokens.a);
    t.false('authorization' in h, 'no other credential header');
    t.false(r.includes(env().vault.rootToken));
  }
});

test.serial('key store tokenSecretRef: a Secret of A its owner did not label for this Vault is not used; labelled, its token (and only it) goes to the store', async (t) => {
  const fromSecret = `hvs.from-secret-${Math.random().toString(36).slice(2)}`;
  tokens.ref = fromSecret;
  // someone else's Secret in A (the CI's, say)
  await admin.core.createNamespacedSecret({ namespace: ns(), body: { metadata: { name: 'ci-store-token' }, stringData: { token: fromSecret } } });
  const seen = ownStore.requests.length;
  await asTenant.create(vault('ks-ref', { size: 1, unsealConfig: { ...shares, vault: { address: own, unsealKeysPath: 'secret/data/ks-ref', tokenSecretRef: { name: 'ci-store-token' } } } }));
  const c = await asAdmin.waitForCondition(ns(), 'ks-ref', 'Ready', 'False', { reason: 'SecretNotGranted', ...WITHIN.reconcile });
  t.regex(c.message, /^Secret ci-store-token \(spec\.unsealConfig\.vault\.tokenSecretRef\) is not labelled vault\.autopilot\.dev\/vault-token-for=ks-ref/);
  t.false(ownStore.requests.slice(seen).some((r) => r.includes('/ks-ref/')), 'the store got nothing for it');
  // its owner grants it to this Vault
  await admin.core.patchNamespacedSecret({ name: 'ci-store-token', namespace: ns(), body: [{ op: 'add', path: '/metadata/labels', value: { 'vault.autopilot.dev/vault-token-for': 'ks-ref' } }] });
  await asTenant.patchSpec(ns(), 'ks-ref', { size: 1, unsealConfig: { vault: { unsealKeysPath: 'secret/data/ks-ref/' } } }); // a new generation, reconciled again
  const reads = await eventually(async () => {
    const r = ownStore.requests.slice(seen).filter((x) => x.includes('/ks-ref/'));
    if (r.length < 2) throw new Error(`${r.length} requests`);
    return r;
  }, WITHIN.reconcile);
  for (const r of reads) t.is((JSON.parse(r.slice(r.indexOf('{'), r.lastIndexOf('}') + 1)) as Record<string, string>)['x-vault-token'], fromSecret);
});

test.serial('shared store: tenant A naming team B\'s path reads nothing with A\'s token (the store refuses; a clear NotAuthorized)', async (t) => {
  await asTenant.create(vault('peek', { size: 1, unsealConfig: { ...shares, vault: storeAt('b', tokens.a) } }));
  const c = await asAdmin.waitForCondition(ns(), 'peek', 'Ready', 'False', { reason: 'NotAuthorized', ...WITHIN.reconcile });
  t.is(
    c.message,
    `the key store ${env().vault.address} (${mount}/data/b) refused the token of spec.unsealConfig.vault (HTTP 403): it may not read ${mount}/data/b/*. ` +
      `Give that token a policy with read, create, update and delete on ${mount}/data/b/* (and nothing else: the store's policy is what keeps another Vault's keys apart), or set unsealKeysPath to this Vault's own path. Nothing was read`,
  );
  const event = await asAdmin.waitForEvent(ns(), 'peek', (e) => e.reason === 'Refused', 'Refused');
  t.regex(event.message ?? '', /refused the token of spec\.unsealConfig\.vault/);
});

test.serial('shared store, careless policy: a token that may write team B\'s path still never writes over B\'s keys; the Vault is not initialised', async (t) => {
  await asTenant.create(vault('careless', { external: { address: servers.careless!.address }, unsealConfig: { ...shares, vault: storeAt('b', tokens.ab) } }));
  const c = await asAdmin.waitForCondition(ns(), 'careless', 'Initialized', 'False', { reason: 'InitFailed', ...WITHIN.reconcile });
  t.regex(c.message, new RegExp(`not initialised but the key store ${env().vault.address} \\(${mount}/data/b\\) \\(or Secret careless-unseal-keys\\) already holds unseal keys.*Set unsealKeysPath to a path of this Vault's own`));
  t.false((await new VaultClient({ address: servers.careless!.address, auth: { method: 'token' } }).sealStatus()).initialized, 'sys/init never sent');
});

test.serial('pinned: the key store of an initialised Vault cannot be moved (address or path); back to the pinned one works', async (t) => {
  await asTenant.create(vault('own', { external: { address: servers.own!.address }, unsealConfig: { ...shares, vault: storeAt('a', tokens.a) } }));
  await asAdmin.waitForCondition(ns(), 'own', 'Ready', 'True', { timeoutMs: 120_000 });
  t.deepEqual((await asAdmin.get(ns(), 'own')).status?.keyStore, { address: env().vault.address, path: `${mount}/data/a` });
  for (const [moved, now] of [
    [{ address: l }, `${l} \\(${mount}/data/a\\)`],
    [{ unsealKeysPath: `${mount}/data/a2` }, `${env().vault.address} \\(${mount}/data/a2\\)`],
  ] as const) {
    await asTenant.patchSpec(ns(), 'own', { unsealConfig: { vault: moved } });
    const c = await asAdmin.waitForCondition(ns(), 'own', 'Ready', 'False', { reason: 'AddressChanged', ...WITHIN.reconcile });
    t.regex(c.message, new RegExp(`^spec\\.unsealConfig\\.vault changed from ${env().vault.address} \\(${mount}/data/a\\) to ${now} after the operator initialised the Vault`));
    t.regex(c.message, /--subresource=status --type=merge -p '\{"status":\{"keyStore":null\}\}'$/);
    await asTenant.patchSpec(ns(), 'own', { unsealConfig: { vault: storeAt('a', tokens.a) } });
    await asAdmin.waitForCondition(ns(), 'own', 'Ready', 'True', WITHIN.reconcile);
  }
  t.deepEqual(listed.requests, [], 'the new address got nothing');
  const denied = await refusal(
    tenant.kube.raw.request({ method: 'PATCH', path: `/apis/vault.autopilot.dev/v1alpha1/namespaces/${ns()}/vaults/own/status`, contentType: 'application/merge-patch+json', body: { status: { keyStore: null } } }),
  );
  t.is(denied?.code, 403, 'the tenant cannot lift the pin');
});

test.serial('pinned: raftLeaderAddress added to a Vault initialised as its own cluster is refused; the pods are not reconfigured to join it', async (t) => {
  await asTenant.create(vault('solo', { size: 1, unsealConfig: shares }));
  await asAdmin.waitForCondition(ns(), 'solo', 'Initialized', 'True', { timeoutMs: 120_000 });
  const joins = async () => (JSON.parse((await asAdmin.secretData(ns(), 'solo-config'))!['vault.json']!) as { storage: { raft: { retry_join: Array<{ leader_api_addr: string }> } } }).storage.raft.retry_join;
  const was = await joins();
  await asTenant.patchSpec(ns(), 'solo', { raftLeaderAddress: host(l), raftLeaderApiSchemeOverride: 'http' });
  const c = await asAdmin.waitForCondition(ns(), 'solo', 'Ready', 'False', { reason: 'AddressChanged', ...WITHIN.reconcile });
  t.regex(c.message, new RegExp(`^spec\\.raftLeaderAddress changed after this Vault was initialised in its own Raft cluster: refused, the pods are not reconfigured to join ${l}`));
  t.deepEqual(await joins(), was, 'retry_join unchanged');
  t.deepEqual(listed.requests, []);
  await asTenant.patchSpec(ns(), 'solo', { raftLeaderAddress: 'self' });
  await eventually(async () => {
    if ((await asAdmin.condition(ns(), 'solo', 'Ready'))?.reason === 'AddressChanged') throw new Error('still refused');
  }, WITHIN.reconcile);
});

test.serial('raftLeaderAddress: a leader the platform did not list (or a scheme/user-info variant of a listed one) gets no StatefulSet, no config, no request', async (t) => {
  const attempts: Array<[string, Record<string, unknown>, string]> = [
    ['rl-unlisted', { raftLeaderAddress: host(u), raftLeaderApiSchemeOverride: 'http' }, 'ExternalAddressNotAllowed'],
    ['rl-https', { raftLeaderAddress: host(l) }, 'ExternalAddressNotAllowed'],
    ['rl-user', { raftLeaderAddress: `evil@${host(l)}`, raftLeaderApiSchemeOverride: 'http' }, 'ExternalAddressNotAllowed'],
  ];
  for (const [name, spec] of attempts) await asTenant.create(vault(name, { size: 1, ...spec }));
  for (const [name, , reason] of attempts) {
    const c = await asAdmin.waitForCondition(ns(), name, 'Ready', 'False', { reason, ...WITHIN.reconcile });
    t.regex(c.message, /^spec\.raftLeaderAddress \(as https?:\/\/\S+\)/, name);
    t.is((await refusal(admin.apps.readNamespacedStatefulSet({ name, namespace: ns() })))?.code, 404, `${name}: no StatefulSet`);
    t.is(await asAdmin.secretData(ns(), `${name}-config`), undefined, `${name}: no config with that retry_join`);
  }
  t.deepEqual(unlisted.requests, []);
  t.deepEqual(listed.requests, []);
});

test.serial('a store that echoes what it is sent: the keys and the store token reach no status, Event or log line', async (t) => {
  await asTenant.create(vault('echoed', {
    external: { address: servers.echoed!.address },
    unsealConfig: { options: { secretShares: 3, secretThreshold: 2, preFlightChecks: false }, vault: { address: echo.address, unsealKeysPath: 'secret/data/echoed', token: tokens.a } },
  }));
  const c = await asAdmin.waitForCondition(ns(), 'echoed', 'Initialized', 'False', { reason: 'KeysNotStored', timeoutMs: 120_000 });
  t.regex(c.message, /held in the operator's memory only/);
  const puts = echo.requests.filter((r) => r.startsWith('PUT '));
  t.true(puts.length > 0, 'the keys were sent (and echoed back in the error)');
  const sent = puts.flatMap((r) => Object.values((JSON.parse(r.slice(r.lastIndexOf(' {"data"') + 1)) as { data: Record<string, string> }).data));
  t.true(sent.length > 0);
  const seen = (await statusAndEvents()) + op.logs.text();
  for (const v of [tokens.a, ...sent, ...sent.map((s) => Buffer.from(s, 'base64').toString('utf8'))]) t.false(seen.includes(v), 'a key or the store token leaked');
  t.regex(c.message, /\[REDACTED\]/, 'the echo is in the message, redacted');
});

test.serial('after every attempt: nothing outside A changed but A\'s own store path; no store token or team B key anywhere', async (t) => {
  const all = diffSnapshots(before, await snapshotOutside(env(), ns()));
  const changes = [];
  for (const change of all) {
    // A's own path in the shared store (what A's token may write), and the IPAddress objects of A's Services
    if (change.key.startsWith(`vault secret ${mount}/a/`)) continue;
    // the auth-delegator binding of a managed Vault's own ServiceAccount in A (trust.ts authDelegatorDecision)
    const crb = /^k8s rbac\.authorization\.k8s\.io\/v1 clusterrolebindings (\S+)$/.exec(change.key);
    if (crb && change.change === 'added') {
      const b = await admin.rbac.readClusterRoleBinding({ name: crb[1]! });
      if (b.roleRef.name === 'system:auth-delegator' && b.subjects?.every((x) => x.kind === 'ServiceAccount' && x.namespace === ns())) continue;
    }
    if (await isServiceAddressOf(admin, change, ns())) continue;
    changes.push(change);
  }
  t.deepEqual(changes, [], describeChanges(changes));
  const seen = (await statusAndEvents()) + op.logs.text();
  for (const v of [tokens.a, tokens.ab, tokens.b, tokens.ref, ...Object.values(bKeys), ...Object.values(bKeys).map((k) => Buffer.from(k, 'base64').toString('utf8'))]) {
    t.false(seen.includes(v), 'no store token or team B key in status, Events or logs');
  }
  t.deepEqual(unlisted.requests, []);
});
