// Chaos and load on loopback, real servers (a private set: this file stops
// them), the REAL operator binary with the Vault, ServiceAccount and
// KMSVaultSecret lifecycles against a file-storage Vault (initialised here,
// its keys in the Secret the operator reads, so a restarted Vault comes back
// sealed and the operator has to unseal it).
//  1. 200 annotated ServiceAccounts + 100 KMSVaultSecrets; the operator is
//     killed -9 at random moments three times while they converge;
//  2. a batch each while the kube-apiserver, Vault and KMS are stopped 30 s;
// After each: the roles, policies and secrets IN VAULT are exactly the
// expected set (none missing, extra or duplicated); no plaintext value in
// the operator's output, Events or status. Counts and times are printed.
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { CoreV1Api, CustomObjectsApi } from '@kubernetes/client-node';
import { API_GROUP, API_VERSION, serviceAccountRoleName } from '../../../operator/api/naming.js';
import { AwsKms } from '../../../operator/kms/aws-kms.js';
import { eventually, WITHIN, startOperatorProcess, startServers, type OperatorProcess, type Servers } from '../../harness/index.js';
import { VaultServer } from '../../harness/vault.js';
import { KMS_CREDENTIALS } from './helpers.js';
import { HARNESS_VAULT_TRUST_ENV, tokenSecretLabels } from '../../support/external-vault.js';

let servers: Servers;
let vault: VaultServer;
let root = '';
let ns: string;
const MOUNT = 'chaos';
let core: CoreV1Api;
let custom: CustomObjectsApi;
let operatorEnv: Record<string, string>;
let proc: OperatorProcess;
const outputs: string[] = [];
const expectedAccounts: string[] = [];
const expectedSecrets = new Map<string, string>();
const WAIT = { timeoutMs: 240_000, intervalMs: 1000 };

async function vaultApi(method: string, path: string, body?: unknown, token: string | null = root): Promise<{ status: number; json: Record<string, any> }> {
  const res = await fetch(`${vault.address}/v1/${path}`, { method, headers: { ...(token ? { 'x-vault-token': token } : {}), 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, json: text ? (JSON.parse(text) as Record<string, any>) : {} };
}

test.before(async () => {
  servers = await startServers({ vault: false, kms: true, apiserver: true });
  const dir = mkdtempSync(join(tmpdir(), 'va-chaos-'));
  mkdirSync(join(dir, 'vault'));
  vault = await VaultServer.create(join(dir, 'vault'), 'file');
  await vault.start();
  // initialise and unseal as the operator would, keys where it keeps them
  const init = await vaultApi('PUT', 'sys/init', { secret_shares: 3, secret_threshold: 2 }, null);
  root = init.json.root_token;
  const keys: string[] = init.json.keys;
  for (const key of keys.slice(0, 2)) await vaultApi('PUT', 'sys/unseal', { key }, null);
  await eventually(async () => {
    if ((await vaultApi('GET', 'sys/health', undefined, null)).status !== 200) throw new Error('not active');
  }, WITHIN.reconcile);
  await vaultApi('POST', `sys/mounts/${MOUNT}`, { type: 'kv', options: { version: '2' } });
  await eventually(async () => {
    if ((await vaultApi('GET', `${MOUNT}/config`)).status !== 200) throw new Error('kv upgrading');
  }, WITHIN.reconcile);

  await servers.env.applyCrds('crds/vault.yaml', 'crds/kmsvaultsecret.yaml', 'crds/partialkmsvaultsecret.yaml');
  ns = await servers.env.namespace('chaos');
  const kc = servers.env.kubeConfig();
  core = kc.makeApiClient(CoreV1Api);
  custom = kc.makeApiClient(CustomObjectsApi);
  await core.createNamespacedSecret({ namespace: ns, body: { metadata: { name: 'vault-unseal-keys' }, stringData: Object.fromEntries(keys.map((k, i) => [`vault-unseal-${i}`, k])) } });
  await core.createNamespacedSecret({ namespace: ns, body: { metadata: { name: 'vault-admin', labels: tokenSecretLabels('vault') }, stringData: { token: root } } });
  await custom.createNamespacedCustomObject({ group: API_GROUP, version: API_VERSION, namespace: ns, plural: 'vaults', body: {
    apiVersion: `${API_GROUP}/${API_VERSION}`, kind: 'Vault', metadata: { name: 'vault' },
    // 260 annotated ServiceAccounts by the end, all in this namespace: above the default per-namespace cap (250)
    spec: { external: { address: vault.address, auth: { method: 'token', tokenSecretRef: { name: 'vault-admin' } } }, selfService: { maxServiceAccountsPerNamespace: 1000 } },
  } });
  const tokenFile = join(dir, 'token');
  writeFileSync(tokenFile, root, { mode: 0o600 });
  operatorEnv = {
    KUBECONFIG: servers.env.kubeconfigPath,
    VAULT_AUTOPILOT_LIFECYCLES: 'vault,serviceaccount,kmsvaultsecret',
    ...HARNESS_VAULT_TRUST_ENV,
    VAULT_AUTOPILOT_HEALTH_PORT: '0',
    VAULT_AUTOPILOT_VAULT_NAMESPACE: ns,
    VAULT_AUTOPILOT_TARGET_VAULT: `${ns}/vault`,
    VAULT_AUTOPILOT_KUBERNETES_HOST: servers.env.apiserverUrl,
    VAULT_AUTOPILOT_KUBERNETES_CA_FILE: servers.env.apiserverCaFile,
    VAULT_AUTOPILOT_VAULT_RESYNC_SECONDS: '5',
    VAULT_AUTOPILOT_VAULT_SEALED_RECHECK_SECONDS: '1',
    VAULT_AUTOPILOT_VAULT_ADDR: vault.address,
    VAULT_AUTOPILOT_VAULT_AUTH: 'token',
    VAULT_AUTOPILOT_VAULT_TOKEN_FILE: tokenFile,
    VAULT_AUTOPILOT_KMS_REGION: servers.env.kms.region,
    // sealed without the namespace binding here (tested in test/integration/tenancy/)
    VAULT_AUTOPILOT_KMS_LEGACY_NAMESPACES: '*',
    VAULT_AUTOPILOT_KMS_ENDPOINT: servers.env.kms.endpoint,
    VAULT_AUTOPILOT_KMS_SYNC_PERIOD: '10s',
    AWS_ACCESS_KEY_ID: KMS_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: KMS_CREDENTIALS.secretAccessKey,
  };
});

test.after.always(async () => {
  if (proc) await proc.kill('SIGKILL').catch(() => undefined);
  await vault?.stop();
  await servers?.stopAll();
});

async function startOperator(): Promise<OperatorProcess> {
  if (proc) outputs.push(proc.output());
  proc = await startOperatorProcess({ entry: 'operator/main.ts', env: operatorEnv });
  return proc;
}

let kms: AwsKms;
async function encrypt(value: string): Promise<string> {
  kms ??= new AwsKms({ region: servers.env.kms.region, endpoint: servers.env.kms.endpoint, credentials: KMS_CREDENTIALS });
  return Buffer.from((await kms.encrypt({ keyId: servers.env.kms.keyId, plaintext: Buffer.from(value) })).ciphertext).toString('base64');
}

/** Encrypts the values of KMSVaultSecrets [from, to) now; the returned function creates them and ServiceAccounts [from, to), 16 requests at a time. */
/** The creations of a batch; the returned function sends them 16 at a time and reports how many are done. */
async function prepareBatch(accounts: [number, number], secrets: [number, number]): Promise<(progress?: (done: number) => void) => Promise<void>> {
  const ciphertexts = new Map<string, string>();
  for (let i = secrets[0]; i < secrets[1]; i++) {
    const value = `chaos-value-${i}-${Math.random().toString(36).slice(2)}`;
    expectedSecrets.set(`s-${i}`, value);
    ciphertexts.set(`s-${i}`, await encrypt(value));
  }
  const jobs: Array<() => Promise<unknown>> = [];
  for (let i = accounts[0]; i < accounts[1]; i++) {
    expectedAccounts.push(`sa-${i}`);
    jobs.push(() => core.createNamespacedServiceAccount({ namespace: ns, body: { metadata: { name: `sa-${i}`, annotations: { 'vault.autopilot.dev/auto-configure': 'true' } } } }));
  }
  for (const [name, ciphertext] of ciphertexts) {
    jobs.push(() => custom.createNamespacedCustomObject({ group: API_GROUP, version: API_VERSION, namespace: ns, plural: 'kmsvaultsecrets', body: {
      apiVersion: `${API_GROUP}/${API_VERSION}`, kind: 'KMSVaultSecret', metadata: { name },
      spec: { path: `${MOUNT}/${ns}/${name}`, kvSettings: { engineVersion: 'v2' }, secrets: [{ key: 'value', encryptedSecret: ciphertext }] },
    } }));
  }
  return async (progress) => {
    for (let i = 0; i < jobs.length; i += 16) {
      await Promise.all(jobs.slice(i, i + 16).map((j) => j()));
      progress?.(Math.min(jobs.length, i + 16));
    }
  };
}

/** What Vault itself holds for this namespace. */
async function inVault(): Promise<{ roles: string[]; policies: string[]; secrets: string[] }> {
  const list = async (path: string) => {
    const res = await vaultApi('LIST', path);
    return res.status === 200 ? ((res.json.data?.keys ?? []) as string[]) : [];
  };
  const prefix = `sa.${ns}.`;
  return {
    roles: (await list('auth/kubernetes/role')).filter((r) => r.startsWith(prefix)).sort(),
    policies: (await list('sys/policies/acl')).filter((p) => p.startsWith(prefix)).sort(),
    secrets: (await list(`${MOUNT}/metadata/${ns}`)).sort(),
  };
}

/** Waits until Vault holds exactly the expected set; returns the time it took and what it found. */
async function converged(label: string, since: number): Promise<{ ms: number; found: { roles: string[]; policies: string[]; secrets: string[] } }> {
  const roles = expectedAccounts.map((a) => serviceAccountRoleName(ns, a)).sort();
  const secrets = [...expectedSecrets.keys()].sort();
  const found = await eventually(async () => {
    const now = await inVault();
    if (now.roles.length < roles.length || now.policies.length < roles.length || now.secrets.length < secrets.length) {
      throw new Error(`${label}: ${now.roles.length}/${roles.length} roles, ${now.policies.length} policies, ${now.secrets.length}/${secrets.length} secrets`);
    }
    return now;
  }, WAIT);
  return { ms: Date.now() - since, found };
}

async function assertExact(t: { deepEqual: (a: unknown, b: unknown, m?: string) => void; is: (a: unknown, b: unknown, m?: string) => void }, found: { roles: string[]; policies: string[]; secrets: string[] }): Promise<void> {
  const roles = expectedAccounts.map((a) => serviceAccountRoleName(ns, a)).sort();
  t.deepEqual(found.roles, roles, 'roles in Vault: exactly the expected set');
  t.deepEqual(found.policies, roles, 'policies in Vault: exactly the expected set');
  t.deepEqual(found.secrets, [...expectedSecrets.keys()].sort(), 'secrets in Vault: exactly the expected set');
  let wrong = 0;
  for (const [name, value] of expectedSecrets) {
    const res = await vaultApi('GET', `${MOUNT}/data/${ns}/${name}`);
    if (res.json.data?.data?.value !== value) wrong++;
  }
  t.is(wrong, 0, 'every secret holds its value');
}

test.serial('200 ServiceAccounts + 100 KMSVaultSecrets converge exactly while the operator is killed -9 three times', async (t) => {
  const create = await prepareBatch([0, 200], [0, 100]);
  await startOperator();
  await proc.waitForOutput(/operator started/, WITHIN.start.timeoutMs);
  const started = Date.now();
  const creating = create();
  const kills: number[] = [];
  for (let k = 0; k < 3; k++) {
    const wait = 1500 + Math.floor(Math.random() * 4000);
    await new Promise((r) => setTimeout(r, wait)); // the fault: a kill at a random moment of the burst
    process.kill(proc.pid!, 'SIGKILL');
    t.is(await proc.exited(), null);
    kills.push(Date.now() - started);
    await startOperator();
  }
  await creating;
  const { ms, found } = await converged('after kills', started);
  await assertExact(t, found);
  t.log(`kill -9 at ${kills.map((k) => `${(k / 1000).toFixed(1)} s`).join(', ')}; converged ${(ms / 1000).toFixed(1)} s after the burst began: ${found.roles.length} roles, ${found.policies.length} policies, ${found.secrets.length} secrets in Vault, none missing, extra or duplicated`);
});

for (const [server, stop, start] of [
  ['kube-apiserver', () => servers.apiserver.stop(), () => servers.apiserver.start()],
  ['Vault', () => vault.stop(), () => vault.start()],
  ['KMS', () => servers.kms.stop(), () => servers.kms.start()],
] as const) {
  test.serial(`${server} stopped 30 s in the middle of a batch: everything converges afterwards, nothing partial`, async (t) => {
    const a = expectedAccounts.length;
    const s = expectedSecrets.size;
    // stopped in the middle: once the first 16 of the 30 creations are acknowledged, the rest on their way
    let firstChunk!: () => void;
    const chunkDone = new Promise<void>((r) => (firstChunk = r));
    const batch = (await prepareBatch([a, a + 20], [s, s + 10]))(() => firstChunk());
    await Promise.race([chunkDone, batch]);
    await stop();
    const down = Date.now();
    await batch.catch(() => undefined); // creations the stopped apiserver refused are made again below
    await new Promise((r) => setTimeout(r, Math.max(0, 30_000 - (Date.now() - down)))); // the fault: 30 s down by the clock
    await start();
    const up = Date.now();
    // read at once: the operator re-checks a sealed Vault every second here and may unseal it during the re-creations below
    const first = server === 'Vault' ? await vaultApi('GET', 'sys/seal-status', undefined, null) : undefined;
    // the batch once more: whatever the apiserver refused while down (409 for what exists)
    for (let i = a; i < a + 20; i++) await core.createNamespacedServiceAccount({ namespace: ns, body: { metadata: { name: `sa-${i}`, annotations: { 'vault.autopilot.dev/auto-configure': 'true' } } } }).catch(() => undefined);
    if (server === 'kube-apiserver') {
      for (let i = s; i < s + 10; i++) {
        await custom.createNamespacedCustomObject({ group: API_GROUP, version: API_VERSION, namespace: ns, plural: 'kmsvaultsecrets', body: {
          apiVersion: `${API_GROUP}/${API_VERSION}`, kind: 'KMSVaultSecret', metadata: { name: `s-${i}` },
          spec: { path: `${MOUNT}/${ns}/s-${i}`, kvSettings: { engineVersion: 'v2' }, secrets: [{ key: 'value', encryptedSecret: await encrypt(expectedSecrets.get(`s-${i}`)!) }] },
        } }).catch(() => undefined);
      }
    }
    if (first) {
      await eventually(async () => {
        if ((await vaultApi('GET', 'sys/seal-status', undefined, null)).json.sealed) throw new Error('still sealed');
      }, { timeoutMs: 60_000, intervalMs: 100 });
      t.true(first.json.sealed, 'a restarted file-storage Vault comes back sealed');
      t.log(`Vault came back sealed; unsealed by the operator ${Date.now() - up} ms after it was back (sealed re-check every 1 s here, 10 s by default)`);
    }
    const { ms, found } = await converged(`after ${server}`, up);
    await assertExact(t, found);
    t.log(`${server} down ${((up - down) / 1000).toFixed(0)} s mid-batch; converged ${(ms / 1000).toFixed(1)} s after it came back: ${found.roles.length} roles, ${found.policies.length} policies, ${found.secrets.length} secrets`);
  });
}

test.serial('no plaintext secret value in the operator output, Events or status', async (t) => {
  outputs.push(proc.output());
  const logs = outputs.join('\n');
  t.true(logs.length > 10_000, 'there were logs to check');
  const events = JSON.stringify((await core.listNamespacedEvent({ namespace: ns })).items);
  const statuses = JSON.stringify(await custom.listNamespacedCustomObject({ group: API_GROUP, version: API_VERSION, namespace: ns, plural: 'kmsvaultsecrets' }))
    + JSON.stringify(await custom.listNamespacedCustomObject({ group: API_GROUP, version: API_VERSION, namespace: ns, plural: 'vaults' }));
  let leaks = 0;
  for (const value of [...expectedSecrets.values(), root]) {
    if (logs.includes(value) || events.includes(value)) leaks++;
    if (statuses.includes(value)) leaks++;
  }
  t.is(leaks, 0);
  t.log(`checked ${expectedSecrets.size} secret values and the root token against ${logs.length} bytes of output, ${events.length} bytes of Events, ${statuses.length} bytes of objects`);
  kms?.destroy();
});
