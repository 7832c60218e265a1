// unsealConfig.vault, Bank-Vaults' key store in another Vault, with THREE
// real Vault servers: the shared dev Vault is the key store (a KV v2 mount,
// a tenant token that may use one path only); two file-storage Vaults are
// kept by the operator. One is initialised by the operator (keys go to the
// store, never to a Kubernetes Secret) and unsealed from the store after a
// restart; the other was initialised "by Bank-Vaults" (this test, keys
// written in Bank-Vaults' layout) and is unsealed with no manual step.
import test from 'ava';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eventually, useTestEnv } from '../../harness/index.js';
import { VaultServer } from '../../harness/vault.js';
import { VaultClient } from '../../../operator/vault/client.js';
import { CRD_FILE, Vaults, startVaultOperator, type RunningVaultOperator } from './helpers.js';

const env = useTestEnv(test, { vault: 'dev', kms: false });
const dir = mkdtempSync(join(tmpdir(), 'key-store-'));
let op: RunningVaultOperator | undefined;
const servers: VaultServer[] = [];
let ns: string;
let vaults: Vaults;
let store: VaultClient;
let mount: string;
let tenantToken: string;

const client = (address: string, token?: string) => new VaultClient({ address, auth: { method: 'token', ...(token ? { token } : {}) }, timeoutMs: 10_000 });
const kvValue = async (path: string, key: string) => {
  const res = await store.request<{ data?: { data?: Record<string, string> } }>('GET', `${mount}/data/${path}/${key}`, undefined, { allowStatus: [404] });
  return res.status === 404 ? undefined : res.data.data?.data?.[key];
};
const spec = (server: VaultServer, path: string, extra: Record<string, unknown> = {}) => ({
  external: { address: server.address },
  unsealConfig: { options: { secretShares: 3, secretThreshold: 2 }, vault: { address: env().vault.address, unsealKeysPath: `${mount}/data/${path}`, token: tenantToken, ...extra } },
});

test.before(async () => {
  await env().applyCrds(CRD_FILE);
  ns = await env().namespace('key-store');
  vaults = new Vaults(env().kubeConfig());
  store = client(env().vault.address, env().vault.rootToken);
  mount = `keys-${ns}`;
  await store.request('POST', `sys/mounts/${mount}`, { type: 'kv', options: { version: '2' } });
  await store.request('PUT', `sys/policies/acl/${mount}`, { policy: `path "${mount}/data/*" { capabilities = ["create", "read", "update", "delete"] }\n` });
  tenantToken = (await store.request<{ auth: { client_token: string } }>('POST', 'auth/token/create-orphan', { policies: [mount], period: '24h' })).data.auth.client_token;
  for (const name of ['a', 'b']) {
    const server = await VaultServer.create(join(dir, name), 'file');
    await server.start();
    servers.push(server);
  }
  // a restarted (sealed) external Vault is noticed at the next resync, as in production (default 60 s)
  op = await startVaultOperator(env(), ns, { sealedRecheckMs: 500, resyncPeriodMs: 2000 });
});

test.after.always(async () => {
  await op?.stop();
  for (const s of servers) await s.stop();
  rmSync(dir, { recursive: true, force: true });
});

test.serial('initialised: the keys go to the store (not a Secret), the revoked root token leaves it; after a restart it is unsealed from the store', async (t) => {
  const server = servers[0]!;
  await vaults.create({ apiVersion: 'vault.autopilot.dev/v1alpha1', kind: 'Vault', metadata: { name: 'fresh', namespace: ns }, spec: spec(server, 'fresh') });
  await vaults.waitForCondition(ns, 'fresh', 'Ready', 'True', { timeoutMs: 120_000 });
  const keys = await Promise.all([0, 1, 2].map((i) => kvValue('fresh', `vault-unseal-${i}`)));
  t.true(keys.every((k) => typeof k === 'string' && Buffer.from(k, 'base64').toString('utf8').length >= 32), 'three shares in the store, Bank-Vaults layout');
  t.is(await kvValue('fresh', 'vault-unseal-3'), undefined);
  t.is(await kvValue('fresh', 'vault-root'), undefined, 'root token revoked and removed (storeRootToken false)');
  const secret = await vaults.secretData(ns, 'fresh-unseal-keys');
  t.false(Object.keys(secret ?? {}).some((k) => k.startsWith('vault-unseal-') || k === 'vault-root'), 'no key in Kubernetes');
  const events = await vaults.events(ns, 'fresh');
  t.true(events.some((e) => e.reason === 'Initialized' && (e.message ?? '').includes(`the key store ${env().vault.address}`)));

  await server.stop();
  await server.start();
  t.true((await client(server.address).sealStatus()).sealed, 'sealed after the restart');
  await eventually(async () => {
    if ((await client(server.address).sealStatus()).sealed) throw new Error('still sealed');
  }, { timeoutMs: 60_000 });
  await vaults.waitForCondition(ns, 'fresh', 'Unsealed', 'True', { timeoutMs: 60_000 });
  const log = op!.logs.text();
  for (const k of keys) t.false(log.includes(k!) || log.includes(Buffer.from(k!, 'base64').toString('utf8')), 'no key in the log');
  t.false(log.includes(tenantToken), 'no store token in the log');
});

test.serial('migrated: a Vault whose keys Bank-Vaults stored in the store is unsealed with no manual step', async (t) => {
  const server = servers[1]!;
  // what Bank-Vaults did: sys/init, then each key at <unsealKeysPath>/<key> as {data: {<key>: base64}}
  const init = await client(server.address).request<{ keys: string[]; root_token: string }>('PUT', 'sys/init', { secret_shares: 3, secret_threshold: 2 }, { token: null });
  const put = (key: string, value: string) => store.request('PUT', `${mount}/data/migrated/${key}`, { data: { [key]: Buffer.from(value).toString('base64') } });
  for (const [i, key] of init.data.keys.entries()) await put(`vault-unseal-${i}`, key);
  await put('vault-root', init.data.root_token);
  t.true((await client(server.address).sealStatus()).sealed);

  await vaults.create({ apiVersion: 'vault.autopilot.dev/v1alpha1', kind: 'Vault', metadata: { name: 'migrated', namespace: ns }, spec: spec(server, 'migrated') });
  await vaults.waitForCondition(ns, 'migrated', 'Ready', 'True', { timeoutMs: 120_000 });
  t.false((await client(server.address).sealStatus()).sealed);
  t.is(await kvValue('migrated', 'vault-root'), undefined, 'the root token Bank-Vaults stored was revoked and removed');
  const lookup = await client(server.address, init.data.root_token).request('GET', 'auth/token/lookup-self', undefined, { allowStatus: [403] });
  t.is(lookup.status, 403, 'root token revoked');
  t.truthy(await kvValue('migrated', 'vault-unseal-0'), 'the keys stay in the store');
  const secret = await vaults.secretData(ns, 'migrated-unseal-keys');
  t.false(Object.keys(secret ?? {}).some((k) => k.startsWith('vault-unseal-')), 'nothing copied into Kubernetes');
  const log = op!.logs.text();
  for (const key of [...init.data.keys, init.data.root_token]) t.false(log.includes(key), 'no key or token in the log');
});

test.serial('a store address the platform did not allow gets nothing: Ready=False, one Event, no token anywhere', async (t) => {
  const server = servers[1]!;
  await vaults.create({
    apiVersion: 'vault.autopilot.dev/v1alpha1',
    kind: 'Vault',
    metadata: { name: 'elsewhere', namespace: ns },
    spec: spec(server, 'elsewhere', { address: 'https://keys.elsewhere.invalid:8200' }),
  });
  const ready = await vaults.waitForCondition(ns, 'elsewhere', 'Ready', 'False', { reason: 'ExternalAddressNotAllowed' });
  t.regex(ready.message, /spec\.unsealConfig\.vault\.address https:\/\/keys\.elsewhere\.invalid:8200 is not an external Vault/);
  const events = await vaults.events(ns, 'elsewhere');
  t.is(events.filter((e) => e.reason === 'Refused').length, 1);
  const status = JSON.stringify((await vaults.get(ns, 'elsewhere')).status);
  t.false(status.includes(tenantToken));
  t.false(events.some((e) => (e.message ?? '').includes(tenantToken)));
});
