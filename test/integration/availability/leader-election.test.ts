// Two REAL operator processes (operator/main.ts, leader election on, default
// timings: lease 15 s, renew deadline 10 s, retry 2 s) against private real
// servers. Each talks to the apiserver through its own recording proxy.
//  - one leads, the other follows: both ready, both answer admissions;
//  - while following, the follower writes nothing (the Lease aside);
//  - kill -9 of the leader in the middle of a batch of ServiceAccounts and
//    KMSVaultSecrets: the follower takes over (time printed) and everything
//    converges to exactly the expected set.
import test from 'ava';
import type { VaultResource } from '../../../operator/api/vault.js';
import { withServiceAccountRoles } from '../../../operator/controllers/serviceaccount/compact.js';
import { CoreV1Api, CustomObjectsApi } from '@kubernetes/client-node';
import { API_GROUP, API_VERSION, serviceAccountRoleName } from '../../../operator/api/naming.js';
import { AwsKms } from '../../../operator/kms/aws-kms.js';
import { eventually, WITHIN, startServers, type Servers } from '../../harness/index.js';
import { admissionReview, KMS_CREDENTIALS, postWebhook, startReplica, writeWebhookCerts, type Replica } from './helpers.js';

let servers: Servers;
let ns: string;
let mount: string;
let core: CoreV1Api;
let custom: CustomObjectsApi;
let certs: { dir: string; caPem: string };
let replicaEnv: Record<string, string>;
const replicas: Replica[] = [];
const WAIT = { timeoutMs: 90_000, intervalMs: 500 };

test.before(async () => {
  servers = await startServers({ vault: 'dev' });
  await servers.env.applyCrds('crds/vault.yaml', 'crds/kmsvaultsecret.yaml', 'crds/partialkmsvaultsecret.yaml');
  ns = await servers.env.namespace('avail-le');
  mount = await servers.env.vaultMount('kv-v2');
  const kc = servers.env.kubeConfig();
  core = kc.makeApiClient(CoreV1Api);
  custom = kc.makeApiClient(CustomObjectsApi);
  await custom.createNamespacedCustomObject({ group: API_GROUP, version: API_VERSION, namespace: ns, plural: 'vaults', body: {
    apiVersion: `${API_GROUP}/${API_VERSION}`, kind: 'Vault', metadata: { name: 'vault' }, spec: { size: 1 },
  } });
  certs = writeWebhookCerts();
  const { mkdtempSync, writeFileSync } = await import('node:fs');
  const { join } = await import('node:path');
  const { tmpdir } = await import('node:os');
  const tokenFile = join(mkdtempSync(join(tmpdir(), 'va-le-')), 'token');
  writeFileSync(tokenFile, servers.env.vault.rootToken, { mode: 0o600 });
  replicaEnv = {
    VAULT_AUTOPILOT_LIFECYCLES: 'serviceaccount,kmsvaultsecret,webhook',
    VAULT_AUTOPILOT_NAMESPACE: ns,
    VAULT_AUTOPILOT_TARGET_VAULT: `${ns}/vault`,
    VAULT_AUTOPILOT_WEBHOOK_SELF_MANAGED_CERTS: 'false',
    VAULT_AUTOPILOT_WEBHOOK_CERT_DIR: certs.dir,
    VAULT_AUTOPILOT_VAULT_ADDR: servers.env.vault.address,
    VAULT_AUTOPILOT_VAULT_AUTH: 'token',
    VAULT_AUTOPILOT_VAULT_TOKEN_FILE: tokenFile,
    VAULT_AUTOPILOT_KMS_REGION: servers.env.kms.region,
    // sealed without the namespace binding here (tested in test/integration/tenancy/)
    VAULT_AUTOPILOT_KMS_LEGACY_NAMESPACES: '*',
    VAULT_AUTOPILOT_KMS_ENDPOINT: servers.env.kms.endpoint,
    AWS_ACCESS_KEY_ID: KMS_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: KMS_CREDENTIALS.secretAccessKey,
  };
});

test.after.always(async () => {
  for (const r of replicas) {
    await r.proc.kill('SIGKILL').catch(() => undefined);
    await r.fault.close();
    await r.proxy.close();
  }
  await servers?.stopAll();
});

async function createServiceAccount(name: string): Promise<void> {
  await core.createNamespacedServiceAccount({ namespace: ns, body: { metadata: { name, annotations: { 'vault.autopilot.dev/auto-configure': 'true' } } } });
}

let ciphertexts: Map<string, string>;
async function createKmsVaultSecret(name: string): Promise<void> {
  await custom.createNamespacedCustomObject({ group: API_GROUP, version: API_VERSION, namespace: ns, plural: 'kmsvaultsecrets', body: {
    apiVersion: `${API_GROUP}/${API_VERSION}`, kind: 'KMSVaultSecret', metadata: { name },
    spec: { path: `${mount}/${ns}/${name}`, kvSettings: { engineVersion: 'v2' }, secrets: [{ key: 'password', encryptedSecret: ciphertexts.get(name)! }] },
  } });
}

/** Roles and policies the Vault resource stands for (the ServiceAccounts' rendered from their compact entries). */
async function vaultEntries(): Promise<{ roles: string[]; policies: string[] }> {
  const vault = (await custom.getNamespacedCustomObject({ group: API_GROUP, version: API_VERSION, namespace: ns, plural: 'vaults', name: 'vault' })) as VaultResource;
  const config = withServiceAccountRoles(vault.spec.externalConfig, vault.spec.serviceAccountRoles) ?? {};
  return {
    roles: (config.auth ?? []).flatMap((a) => (a.roles ?? []).map((r) => r.name)).sort(),
    policies: (config.policies ?? []).map((p) => p.name).sort(),
  };
}

async function readyKmsVaultSecrets(): Promise<string[]> {
  const list = (await custom.listNamespacedCustomObject({ group: API_GROUP, version: API_VERSION, namespace: ns, plural: 'kmsvaultsecrets' })) as {
    items: Array<{ metadata: { name: string }; status?: { conditions?: Array<{ type: string; status: string }> } }>;
  };
  return list.items.filter((i) => i.status?.conditions?.find((c) => c.type === 'Ready')?.status === 'True').map((i) => i.metadata.name).sort();
}

async function vaultValue(name: string): Promise<string | undefined> {
  const res = await fetch(`${servers.env.vault.address}/v1/${mount}/data/${ns}/${name}`, { headers: { 'x-vault-token': servers.env.vault.rootToken } });
  if (res.status !== 200) return undefined;
  return ((await res.json()) as { data: { data: Record<string, string> } }).data.data.password;
}

test.serial('one leads, one follows; both serve admissions; a kill -9 of the leader mid-batch: the follower takes over, nothing lost or duplicated', async (t) => {
  const kms = new AwsKms({ region: servers.env.kms.region, endpoint: servers.env.kms.endpoint, credentials: KMS_CREDENTIALS });
  ciphertexts = new Map();
  for (let i = 0; i < 20; i++) {
    ciphertexts.set(`secret-${i}`, Buffer.from((await kms.encrypt({ keyId: servers.env.kms.keyId, plaintext: Buffer.from(`value-${i}`) })).ciphertext).toString('base64'));
  }
  kms.destroy();

  const a = await startReplica(servers.env, 'replica-a', replicaEnv);
  replicas.push(a);
  await a.proc.waitForOutput(/became leader/, WITHIN.start.timeoutMs);
  const b = await startReplica(servers.env, 'replica-b', replicaEnv);
  replicas.push(b);
  await b.proc.waitForOutput(/waiting for leadership/, WITHIN.start.timeoutMs);
  for (const r of [a, b]) {
    await eventually(async () => {
      const res = await fetch(`http://127.0.0.1:${r.healthPort}/readyz`);
      if (res.status !== 200) throw new Error(`${r.name} readyz ${res.status}`);
    }, WAIT);
    const review = await postWebhook(r.webhookPort, certs.caPem, admissionReview(ns, `probe-${r.name}`));
    t.is(review.status, 200, `${r.name} answers admissions`);
    t.true((JSON.parse(review.body) as { response: { allowed: boolean } }).response.allowed);
  }
  t.false(b.proc.output().includes('became leader'));

  // first batch, with A leading
  await Promise.all([...Array.from({ length: 20 }, (_, i) => createServiceAccount(`app-${i}`)), ...Array.from({ length: 10 }, (_, i) => createKmsVaultSecret(`secret-${i}`))]);
  await eventually(async () => {
    const { roles } = await vaultEntries();
    const ready = await readyKmsVaultSecrets();
    if (roles.length < 20 || ready.length < 10) throw new Error(`${roles.length} roles, ${ready.length} ready`);
  }, WAIT);
  t.deepEqual(b.writes(), [], 'the follower wrote nothing while following');
  t.true(a.writes().length > 30, `the leader did the work (${a.writes().length} writes)`);

  // second batch; the leader is killed half-way through it
  const second = [...Array.from({ length: 20 }, (_, i) => () => createServiceAccount(`app-${20 + i}`)), ...Array.from({ length: 10 }, (_, i) => () => createKmsVaultSecret(`secret-${10 + i}`))];
  let killedAt = 0;
  await Promise.all(second.map(async (create, i) => {
    if (i === 10) {
      process.kill(a.proc.pid!, 'SIGKILL');
      killedAt = Date.now();
    }
    await create();
  }));
  t.is(await a.proc.exited(), null);
  await b.proc.waitForOutput(/became leader/, WITHIN.reconcile.timeoutMs);
  const takeoverMs = Date.now() - killedAt;
  await eventually(async () => {
    const { roles } = await vaultEntries();
    const ready = await readyKmsVaultSecrets();
    if (roles.length < 40 || ready.length < 20) throw new Error(`${roles.length} roles, ${ready.length} ready`);
  }, WAIT);
  const convergedMs = Date.now() - killedAt;

  const expected = Array.from({ length: 40 }, (_, i) => serviceAccountRoleName(ns, `app-${i}`)).sort();
  const { roles, policies } = await vaultEntries();
  t.deepEqual(roles, expected, 'every role exactly once');
  t.deepEqual(policies, expected, 'every policy exactly once');
  t.deepEqual(await readyKmsVaultSecrets(), Array.from({ length: 20 }, (_, i) => `secret-${i}`).sort());
  for (let i = 0; i < 20; i++) t.is(await vaultValue(`secret-${i}`), `value-${i}`);
  const review = await postWebhook(b.webhookPort, certs.caPem, admissionReview(ns, 'after-takeover'));
  t.is(review.status, 200);
  t.log(`kill -9 of the leader -> follower leads after ${(takeoverMs / 1000).toFixed(1)} s (lease 15 s), all 40 ServiceAccounts + 20 KMSVaultSecrets converged after ${(convergedMs / 1000).toFixed(1)} s; follower writes while following: 0; leader writes: ${a.writes().length}`);
  // wall clock is the property: leases lapse by the clock (lease 15 s + retry 2 s + 8 s of slack)
  t.true(takeoverMs < 25_000, `takeover within lease duration + retry period + slack (${takeoverMs} ms)`);
});

test.serial('a leader cut off from the apiserver gives up and exits before the follower takes over: never two leaders', async (t) => {
  // the survivor of the first test leads; start a fresh pair behind it and stop it
  const old = replicas[1]!; // replica-b, the leader since the kill
  const c = await startReplica(servers.env, 'replica-c', replicaEnv);
  replicas.push(c);
  await c.proc.waitForOutput(/waiting for leadership/, WITHIN.start.timeoutMs);
  await old.proc.kill('SIGTERM'); // a graceful stop hands the Lease over at once
  await c.proc.waitForOutput(/became leader/, WITHIN.reconcile.timeoutMs);
  const d = await startReplica(servers.env, 'replica-d', replicaEnv);
  replicas.push(d);
  await d.proc.waitForOutput(/waiting for leadership/, WITHIN.start.timeoutMs);

  // partition the leader: every request it makes to the apiserver is dropped
  const cutAt = Date.now();
  c.fault.hooks.onRequest = () => 'drop';
  const exitCode = await c.proc.exited();
  const exitedMs = Date.now() - cutAt;
  await d.proc.waitForOutput(/became leader/, WITHIN.reconcile.timeoutMs);
  const takeoverMs = Date.now() - cutAt;
  t.is(exitCode, 1, 'the cut-off leader exits non-zero (the pod restarts as a candidate)');
  t.regex(c.proc.output(), /lost leadership/);
  t.regex(c.proc.output(), /leadership lost: stopping the controllers and exiting/);
  t.true(exitedMs < takeoverMs, `the old leader was gone (${exitedMs} ms) before the new one started (${takeoverMs} ms)`);
  // the new leader works
  await createServiceAccount('after-partition');
  await eventually(async () => {
    if (!(await vaultEntries()).roles.includes(serviceAccountRoleName(ns, 'after-partition'))) throw new Error('role not written yet');
  }, WAIT);
  t.log(`leader cut off from the apiserver: it exited ${(exitedMs / 1000).toFixed(1)} s later (renew deadline 10 s + grace), the follower led ${(takeoverMs / 1000).toFixed(1)} s after the cut (lease 15 s)`);
});
