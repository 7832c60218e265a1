// Each server of a PRIVATE set is stopped and started again; clients keep
// working afterwards (same ports, same data). Also: a 'file' Vault starts
// uninitialised.
import test from 'ava';
import { CoreV1Api } from '@kubernetes/client-node';
import { DecryptCommand, EncryptCommand, KMSClient } from '@aws-sdk/client-kms';
import { eventually, WITHIN, startServers, type Servers } from '../../harness/index.js';

let servers: Servers;

test.before(async () => {
  servers = await startServers({ vault: 'file', kms: true, apiserver: true });
});
test.after.always(async () => {
  await servers?.stopAll();
});

async function vault(method: string, path: string, body?: unknown, token?: string) {
  const res = await fetch(`${servers.env.vault.address}/v1/${path}`, {
    method,
    headers: { ...(token ? { 'x-vault-token': token } : {}), 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, json: text ? (JSON.parse(text) as Record<string, any>) : {} };
}

test('file Vault: starts uninitialised; after init + unseal its data survives a restart', async (t) => {
  t.is(servers.env.vault.rootToken, '');
  const init = await vault('GET', 'sys/init');
  t.is(init.json.initialized, false);

  const keys = await vault('PUT', 'sys/init', { secret_shares: 1, secret_threshold: 1 });
  t.is(keys.status, 200);
  const unsealKey: string = keys.json.keys_base64[0];
  const root: string = keys.json.root_token;
  t.is((await vault('PUT', 'sys/unseal', { key: unsealKey })).json.sealed, false);
  await eventually(async () => {
    const health = await vault('GET', 'sys/health');
    if (health.status !== 200) throw new Error(`health ${health.status}`);
  }, WITHIN.server);
  t.is((await vault('POST', 'sys/mounts/kv', { type: 'kv', options: { version: '1' } }, root)).status, 204);
  t.is((await vault('POST', 'kv/kept', { value: 'across-restart' }, root)).status, 204);

  await servers.vault.stop();
  await t.throwsAsync(fetch(`${servers.env.vault.address}/v1/sys/health`));
  await servers.vault.start();

  const status = await vault('GET', 'sys/seal-status');
  t.is(status.json.initialized, true);
  t.is(status.json.sealed, true);
  await vault('PUT', 'sys/unseal', { key: unsealKey });
  const read = await eventually(async () => {
    const res = await vault('GET', 'kv/kept', undefined, root);
    if (res.status !== 200) throw new Error(`read ${res.status}`);
    return res;
  }, WITHIN.server);
  t.is(read.json.data.value, 'across-restart');
});

test('kube-apiserver and etcd: objects survive restarts of each, and the same client reconnects', async (t) => {
  const namespace = await servers.env.namespace('restart');
  const core = servers.env.kubeConfig().makeApiClient(CoreV1Api);
  await core.createNamespacedConfigMap({ namespace, body: { metadata: { name: 'before' }, data: { n: '1' } } });

  await servers.apiserver.stop();
  await t.throwsAsync(core.listNamespacedConfigMap({ namespace }), { any: true, message: /ECONNREFUSED/ });
  await servers.apiserver.start();
  t.is((await core.readNamespacedConfigMap({ namespace, name: 'before' })).data?.n, '1');

  await servers.etcd.stop();
  await servers.etcd.start();
  // The apiserver reconnects to etcd by itself; writes work again.
  await eventually(() => core.createNamespacedConfigMap({ namespace, body: { metadata: { name: 'after' }, data: { n: '2' } } }), {
    timeoutMs: 60_000,
    message: 'write after etcd restart',
  });
  const names = (await core.listNamespacedConfigMap({ namespace })).items.map((c) => c.metadata?.name).sort();
  t.deepEqual(names.filter((n) => n !== 'kube-root-ca.crt'), ['after', 'before']);
});

test('local-kms: ciphertext made before a restart decrypts after it', async (t) => {
  const { endpoint, region, keyAlias } = servers.env.kms;
  const client = new KMSClient({ endpoint, region, credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
  const encrypted = await client.send(new EncryptCommand({ KeyId: keyAlias, Plaintext: Buffer.from('durable') }));
  await servers.kms.stop();
  await servers.kms.start();
  const decrypted = await client.send(new DecryptCommand({ CiphertextBlob: encrypted.CiphertextBlob }));
  t.is(Buffer.from(decrypted.Plaintext!).toString(), 'durable');
});

test('dev Vault: a restart keeps address and root token (its in-memory data is gone, by design)', async (t) => {
  const dev = await startServers({ vault: 'dev', kms: false, apiserver: false });
  try {
    const { address, rootToken } = dev.env.vault;
    const mounts = () => fetch(`${address}/v1/sys/mounts`, { headers: { 'x-vault-token': rootToken } });
    t.is((await mounts()).status, 200);
    await dev.vault.stop();
    await dev.vault.start();
    t.is((await mounts()).status, 200);
  } finally {
    await dev.stopAll();
  }
});
