// Crash-safe initialisation with the REAL operator binary against real
// servers: a fresh uninitialised file-storage Vault per case, reached through
// a fault proxy (so the test knows the exact step), the kube-apiserver behind
// another one, KMS (local-kms) with KMS-encrypted keys.
//  - pre-flight: a missing key, a disabled key and an access-denied key stop
//    before sys/init (Vault stays uninitialised, the condition says why);
//  - after sys/init, KMS or the apiserver gone for a while: the keys stay in
//    memory and are stored once they are back;
//  - kill -9 at each step of the initialisation, then a restart: the keys are
//    stored, or (the one window no operator can close: sys/init has answered,
//    the Secret write has not happened) the condition says exactly that.
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { DisableKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { eventually, WITHIN, startOperatorProcess, startServers, type OperatorProcess, type Servers } from '../../harness/index.js';
import { startFaultProxy, type FaultProxy } from '../../harness/fault-proxy.js';
import { stopOperatorProcesses } from '../../harness/operator-process.js';
import { VaultServer } from '../../harness/vault.js';
import { AwsKms } from '../../../operator/kms/aws-kms.js';
import { VaultClient } from '../../../operator/vault/client.js';
import { kmsContext } from '../../../operator/vault/unseal.js';
import { CRD_FILE, Vaults } from './helpers.js';
import { HARNESS_VAULT_TRUST_ENV } from '../../support/external-vault.js';

const KMS_CREDENTIALS = { accessKeyId: 'test', secretAccessKey: 'test' };
const WAIT = { timeoutMs: 60_000, intervalMs: 250 };

let servers: Servers;
let vaults: Vaults;
let kubeProxy: FaultProxy;
let kmsProxy: FaultProxy;
let dir: string;
let kubeconfig: string;
const extraVaults: VaultServer[] = [];
const proxies: FaultProxy[] = [];
const leakCandidates: string[] = [];
const outputs: string[] = [];

test.before(async () => {
  servers = await startServers({ vault: false, kms: true, apiserver: true });
  await servers.env.applyCrds(CRD_FILE);
  vaults = new Vaults(servers.env.kubeConfig());
  const { readFileSync } = await import('node:fs');
  kubeProxy = await startFaultProxy(servers.env.apiserverUrl, { caPem: readFileSync(servers.env.apiserverCaFile, 'utf8') });
  kmsProxy = await startFaultProxy(servers.env.kms.endpoint);
  dir = mkdtempSync(join(tmpdir(), 'va-init-crash-'));
  const admin = servers.env.kubeConfig();
  const token = admin.getCurrentUser()?.token ?? '';
  kubeconfig = join(dir, 'kubeconfig');
  writeFileSync(
    kubeconfig,
    ['apiVersion: v1', 'kind: Config', `clusters: [{name: p, cluster: {server: "${kubeProxy.url}", insecure-skip-tls-verify: true}}]`, `users: [{name: u, user: {token: "${token}"}}]`, 'contexts: [{name: c, context: {cluster: p, user: u}}]', 'current-context: c', ''].join('\n'),
    { mode: 0o600 },
  );
});

test.after.always(async () => {
  await stopOperatorProcesses();
  for (const p of proxies) await p.close();
  await kubeProxy?.close();
  await kmsProxy?.close();
  for (const v of extraVaults) await v.stop();
  await servers?.stopAll();
});

/** A fresh uninitialised Vault and a proxy in front of it. */
async function freshVault(label: string): Promise<{ server: VaultServer; proxy: FaultProxy }> {
  const vdir = join(dir, label);
  mkdirSync(vdir, { recursive: true });
  const server = await VaultServer.create(vdir, 'file');
  extraVaults.push(server);
  await server.start();
  const proxy = await startFaultProxy(server.address);
  proxies.push(proxy);
  return { server, proxy };
}

async function startOperator(namespace: string): Promise<OperatorProcess> {
  const proc = await startOperatorProcess({
    entry: 'operator/main.ts',
    env: {
      KUBECONFIG: kubeconfig,
      VAULT_AUTOPILOT_LIFECYCLES: 'vault',
      ...HARNESS_VAULT_TRUST_ENV,
      VAULT_AUTOPILOT_VAULT_NAMESPACE: namespace,
      VAULT_AUTOPILOT_HEALTH_PORT: '0',
      VAULT_AUTOPILOT_LOG_LEVEL: 'debug',
      VAULT_AUTOPILOT_VAULT_SEALED_RECHECK_SECONDS: '0.5',
      VAULT_AUTOPILOT_KMS_REGION: servers.env.kms.region,
      VAULT_AUTOPILOT_KMS_ENDPOINT: kmsProxy.url,
      AWS_ACCESS_KEY_ID: KMS_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: KMS_CREDENTIALS.secretAccessKey,
    },
  });
  await proc.waitForOutput(/operator started/, WITHIN.start.timeoutMs);
  return proc;
}

async function createVault(namespace: string, address: string, kmsKeyId: string): Promise<void> {
  await vaults.create({
    apiVersion: 'vault.autopilot.dev/v1alpha1',
    kind: 'Vault',
    metadata: { name: 'v', namespace },
    spec: { external: { address }, unsealConfig: { options: { secretShares: 3, secretThreshold: 2 }, aws: { kmsKeyId, kmsRegion: servers.env.kms.region } } },
  });
}

const sealStatus = (address: string) => new VaultClient({ address, auth: { method: 'token' }, timeoutMs: 3000 }).sealStatus();

/** The stored keys decrypt (with this Vault's context) and they unseal a restarted Vault: nothing lost. */
async function assertKeysWork(t: { is: (a: unknown, b: unknown, m?: string) => void; true: (a: boolean, m?: string) => void }, namespace: string, server: VaultServer): Promise<void> {
  const secret = await vaults.core.readNamespacedSecret({ name: 'v-unseal-keys', namespace });
  const names = Object.keys(secret.data ?? {}).filter((k) => k.startsWith('vault-unseal-')).sort();
  t.is(names.join(','), 'vault-unseal-0,vault-unseal-1,vault-unseal-2', 'three key shares stored');
  t.is(secret.metadata?.annotations?.['vault.autopilot.dev/init-started'], undefined, 'the init marker is gone once the keys are stored');
  const kms = new AwsKms({ region: servers.env.kms.region, endpoint: servers.env.kms.endpoint, credentials: KMS_CREDENTIALS });
  const keys: string[] = [];
  for (const n of names) keys.push(Buffer.from((await kms.decrypt({ ciphertext: Buffer.from(secret.data![n]!, 'base64'), context: kmsContext(namespace, 'v') })).plaintext).toString('utf8'));
  kms.destroy();
  leakCandidates.push(...keys);
  // a restarted Vault is sealed; two of the stored shares open it
  await server.stop();
  await server.start();
  const client = new VaultClient({ address: server.address, auth: { method: 'token' } });
  t.true((await client.sealStatus()).sealed, 'sealed after restart');
  for (const key of keys.slice(0, 2)) await client.request('PUT', 'sys/unseal', { key }, { token: null });
  t.true(!(await client.sealStatus()).sealed, 'the stored keys unseal it');
}

function kill9(proc: OperatorProcess): void {
  process.kill(proc.pid!, 'SIGKILL');
}

const isKeysWrite = (method: string, url: string, body: string) =>
  method === 'PUT' && /\/secrets\/v-unseal-keys(\?|$)/.test(url) && !/dryRun=/.test(url) && body.includes('vault-unseal-0');

// ---------------------------------------------------------------- pre-flight

test.serial('pre-flight: a missing key, a disabled key and a denied key stop before sys/init; fixing the key initialises', async (t) => {
  const ns = await servers.env.namespace('init-preflight');
  const { server, proxy } = await freshVault('preflight');
  let inits = 0;
  proxy.hooks.onRequest = (req) => {
    if (req.url.startsWith('/v1/sys/init') && req.method === 'PUT') inits++;
    return 'pass';
  };
  const proc = await startOperator(ns);
  await createVault(ns, proxy.url, 'alias/does-not-exist');
  const missing = await vaults.waitForCondition(ns, 'v', 'Initialized', 'False', { reason: 'PreFlightFailed', ...WAIT });
  t.regex(missing.message, /alias\/does-not-exist.*Vault not initialised.*no such key/);
  t.log(`missing key -> ${missing.message}`);

  const admin = new KMSClient({ region: servers.env.kms.region, endpoint: servers.env.kms.endpoint, credentials: KMS_CREDENTIALS });
  await admin.send(new DisableKeyCommand({ KeyId: servers.env.kms.otherKeyId }));
  admin.destroy();
  await vaults.patchSpec(ns, 'v', { unsealConfig: { aws: { kmsKeyId: servers.env.kms.otherKeyAlias } } });
  const disabled = await vaults.waitForCondition(ns, 'v', 'Initialized', 'False', { reason: 'PreFlightFailed', message: /disabled/, ...WAIT });
  t.log(`disabled key -> ${disabled.message}`);

  // local-kms has no IAM: the proxy answers for it as AWS does for a key the credentials may not use
  const denied = `arn:aws:kms:${servers.env.kms.region}:111122223333:key/${servers.env.kms.keyId}`;
  kmsProxy.hooks.onRequest = (req) =>
    req.body.includes(denied)
      ? { status: 400, headers: { 'content-type': 'application/x-amz-json-1.1' }, body: JSON.stringify({ __type: 'AccessDeniedException', message: 'User is not authorized to perform: kms:Encrypt' }) }
      : 'pass';
  await vaults.patchSpec(ns, 'v', { unsealConfig: { aws: { kmsKeyId: denied } } });
  const accessDenied = await vaults.waitForCondition(ns, 'v', 'Initialized', 'False', { reason: 'PreFlightFailed', message: /access denied.*kms:Encrypt and kms:Decrypt/, ...WAIT });
  t.log(`denied key -> ${accessDenied.message}`);
  kmsProxy.hooks.onRequest = undefined;

  t.is(inits, 0, 'sys/init was never called');
  t.false((await sealStatus(server.address)).initialized, 'Vault is still uninitialised');
  t.true((await vaults.events(ns, 'v')).some((e) => e.type === 'Warning' && e.reason === 'PreFlightFailed'));

  await vaults.patchSpec(ns, 'v', { unsealConfig: { aws: { kmsKeyId: servers.env.kms.keyAlias } } });
  await vaults.waitForCondition(ns, 'v', 'Ready', 'True', WAIT);
  t.is(inits, 1);
  await proc.kill('SIGTERM');
  outputs.push(proc.output());
  await assertKeysWork(t, ns, server);
});

// ----------------------------------------------- transient failures after init

test.serial('KMS stopped the moment sys/init answers (12 s): the keys wait in memory and are stored once KMS is back', async (t) => {
  const ns = await servers.env.namespace('init-kms-down');
  const { server, proxy } = await freshVault('kms-down');
  let back: Promise<void> | undefined;
  proxy.hooks.onResponse = async (req): Promise<'pass'> => {
    if (req.method === 'PUT' && req.url.startsWith('/v1/sys/init')) {
      await servers.kms.stop();
      back = new Promise((r) => setTimeout(r, 12_000)).then(() => servers.kms.start()); // the fault: an outage of 12 s by the clock
    }
    return 'pass';
  };
  const proc = await startOperator(ns);
  await createVault(ns, proxy.url, servers.env.kms.keyAlias);
  await eventually(async () => {
    if (!back) throw new Error('sys/init not yet called');
  }, WAIT);
  await back;
  await vaults.waitForCondition(ns, 'v', 'Ready', 'True', WAIT);
  const line = proc.output().split('\n').find((l) => l.includes('"message":"vault initialised"')) ?? '';
  const attempts = Number(/"attempts":(\d+)/.exec(line)?.[1] ?? 0);
  t.true(attempts > 1, `the write was retried while KMS was down (${attempts} attempts)`);
  t.log(`KMS down 12 s right after sys/init: keys stored after ${attempts} attempts`);
  await proc.kill('SIGTERM');
  outputs.push(proc.output());
  await assertKeysWork(t, ns, server);
});

test.serial('apiserver gone for 15 s from the first keys write on (twice the old 7.5 s limit): the keys wait in memory and are stored after', async (t) => {
  const ns = await servers.env.namespace('init-api-down');
  const { server, proxy } = await freshVault('api-down');
  let back: Promise<void> | undefined;
  let downAt = 0;
  let dropped = 0;
  kubeProxy.hooks.onRequest = (req) => {
    if (!downAt && isKeysWrite(req.method, req.url, req.body)) {
      downAt = Date.now();
      // really stopped too; the proxy refuses meanwhile so the outage starts exactly here
      back = servers.apiserver.stop().then(async () => {
        await new Promise((r) => setTimeout(r, Math.max(0, downAt + 15_000 - Date.now()))); // the fault: 15 s by the clock
        await servers.apiserver.start();
      });
    }
    if (downAt && Date.now() < downAt + 15_000) {
      dropped++;
      return 'drop';
    }
    return 'pass';
  };
  const proc = await startOperator(ns);
  await createVault(ns, proxy.url, servers.env.kms.keyAlias);
  await eventually(async () => {
    if (!back) throw new Error('no keys write yet');
  }, WAIT);
  await back;
  const upAt = Date.now();
  kubeProxy.hooks = {};
  await vaults.waitForCondition(ns, 'v', 'Ready', 'True', WAIT);
  const line = proc.output().split('\n').find((l) => l.includes('"message":"vault initialised"')) ?? '';
  const attempts = Number(/"attempts":(\d+)/.exec(line)?.[1] ?? 0);
  t.true(attempts > 1, `the keys write was retried (${attempts} attempts)`);
  t.log(`apiserver unreachable ${Math.round((upAt - downAt) / 1000)} s from the first keys write (${dropped} requests refused); keys stored after ${attempts} attempts, ${Date.now() - upAt} ms after it was back`);
  await proc.kill('SIGTERM');
  outputs.push(proc.output());
  await assertKeysWork(t, ns, server);
});

// ------------------------------------------------------------ kill -9 per step

interface KillCase {
  step: string;
  /** Arms the proxies so the operator dies at this step; returns what the proxies saw when it did. */
  arm(vaultProxy: FaultProxy, kill: () => void): void;
  /** The keys survive (true), or the window between sys/init and the Secret write was hit (false). */
  keysSurvive: boolean;
}

let rootSeen: string | undefined;

const killCases: KillCase[] = [
  {
    step: 'before sys/init (request on its way, never reaches Vault)',
    keysSurvive: true,
    arm: (vp, kill) => {
      vp.hooks.onRequest = (req) => (req.method === 'PUT' && req.url.startsWith('/v1/sys/init') ? (kill(), 'drop') : 'pass');
    },
  },
  {
    step: 'after sys/init (Vault initialised, the answer never reaches the operator)',
    keysSurvive: false,
    arm: (vp, kill) => {
      vp.hooks.onResponse = (req) => (req.method === 'PUT' && req.url.startsWith('/v1/sys/init') ? (kill(), 'drop') : 'pass');
    },
  },
  {
    step: 'before the keys Secret write (keys only in the operator)',
    keysSurvive: false,
    arm: (_vp, kill) => {
      kubeProxy.hooks.onRequest = (req) => (isKeysWrite(req.method, req.url, req.body) ? (kill(), 'drop') : 'pass');
    },
  },
  {
    step: 'after the keys Secret write (stored, the answer lost)',
    keysSurvive: true,
    arm: (_vp, kill) => {
      kubeProxy.hooks.onResponse = (req) => (isKeysWrite(req.method, req.url, req.body) ? (kill(), 'drop') : 'pass');
    },
  },
  {
    step: 'during the root-token revoke (before Vault sees it)',
    keysSurvive: true,
    arm: (vp, kill) => {
      vp.hooks.onRequest = (req) => {
        if (req.method === 'POST' && req.url.startsWith('/v1/auth/token/revoke-self')) {
          rootSeen = String(req.headers['x-vault-token']);
          kill();
          return 'drop';
        }
        return 'pass';
      };
    },
  },
  {
    step: 'during the root-token revoke (Vault revoked it, the answer lost)',
    keysSurvive: true,
    arm: (vp, kill) => {
      vp.hooks.onResponse = (req) => {
        if (req.method === 'POST' && req.url.startsWith('/v1/auth/token/revoke-self')) {
          rootSeen = String(req.headers['x-vault-token']);
          kill();
          return 'drop';
        }
        return 'pass';
      };
    },
  },
];

for (const [i, kc] of killCases.entries()) {
  test.serial(`kill -9 ${kc.step}: after a restart ${kc.keysSurvive ? 'the keys are stored and work' : 'the condition says the keys were never stored and what to do'}`, async (t) => {
    const ns = await servers.env.namespace(`init-kill-${i}`);
    const { server, proxy } = await freshVault(`kill-${i}`);
    rootSeen = undefined;
    let proc = await startOperator(ns);
    let killedAt = 0;
    kc.arm(proxy, () => {
      killedAt = Date.now();
      kill9(proc);
    });
    await createVault(ns, proxy.url, servers.env.kms.keyAlias);
    const code = await proc.exited();
    t.is(code, null, 'died of SIGKILL');
    t.true(killedAt > 0);
    outputs.push(proc.output());
    proxy.hooks = {};
    kubeProxy.hooks = {};
    proc = await startOperator(ns);
    if (kc.keysSurvive) {
      await vaults.waitForCondition(ns, 'v', 'Ready', 'True', WAIT);
      t.log(`restart -> Ready in ${Date.now() - killedAt} ms after the kill`);
      const data = (await vaults.secretData(ns, 'v-unseal-keys'))!;
      t.false('vault-root' in data, 'root token removed from the Secret');
      if (rootSeen) {
        const lookup = await new VaultClient({ address: server.address, auth: { method: 'token', token: rootSeen } }).request('GET', 'auth/token/lookup-self', undefined, { allowStatus: [403] });
        t.is(lookup.status, 403, 'the root token is revoked');
        leakCandidates.push(rootSeen);
      }
      await proc.kill('SIGTERM');
      outputs.push(proc.output());
      await assertKeysWork(t, ns, server);
    } else {
      const c = await vaults.waitForCondition(ns, 'v', 'Initialized', 'False', { reason: 'KeysNotStored', ...WAIT });
      t.regex(c.message, /started initialising it at .* and stopped .* after sys\/init answered and before Secret v-unseal-keys was written/);
      t.regex(c.message, /If the Vault holds no data yet, empty its storage backend and restart it; the operator initialises it again/);
      t.true((await vaults.events(ns, 'v')).some((e) => e.type === 'Warning' && e.reason === 'KeysNotStored'));
      t.true((await sealStatus(server.address)).initialized, 'Vault is initialised');
      // README: the keys Secret is created (marked) BEFORE sys/init, so even this window leaves a trace
      const marked = await vaults.core.readNamespacedSecret({ name: 'v-unseal-keys', namespace: ns });
      t.truthy(marked.metadata?.annotations?.['vault.autopilot.dev/init-started'], 'the keys Secret existed, marked, before sys/init');
      t.false(Object.keys(marked.data ?? {}).some((k) => k.startsWith('vault-unseal-')), 'and holds no keys');
      t.is((await vaults.get(ns, 'v')).status?.conditions?.find((x) => x.type === 'Ready')?.status, 'False');
      t.log(`hit the sys/init -> Secret window: ${c.message.slice(0, 160)}...`);
      await proc.kill('SIGTERM');
      outputs.push(proc.output());
    }
  });
}

test.serial('no unseal key or root token in the operator output, events or status', async (t) => {
  t.true(leakCandidates.length >= 10);
  const logs = outputs.join('\n');
  t.true(logs.length > 10_000, 'there were logs to check');
  const namespaces = (await vaults.core.listNamespace()).items.map((n) => n.metadata!.name!).filter((n) => n.includes('init-'));
  let events = '';
  let status = '';
  for (const ns of namespaces) {
    events += JSON.stringify((await vaults.core.listNamespacedEvent({ namespace: ns })).items);
    status += JSON.stringify((await vaults.get(ns, 'v').catch(() => undefined))?.status ?? {});
  }
  for (const value of leakCandidates) {
    t.false(logs.includes(value), 'output');
    t.false(events.includes(value), 'events');
    t.false(status.includes(value), 'status');
  }
});
