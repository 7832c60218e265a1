// ServiceAccounts and KMSVaultSecrets at scale, with the operator binary as
// the image runs it (the esbuild bundle, the Deployment's node flags) against
// the real kube-apiserver, Vault and local-kms. Counted by the servers, not by
// the operator: the apiserver's audit log (the operator has its own
// ServiceAccount identity) and Vault's audit device.
//
//   node --import=tsx test/bench/scale/run.ts [--accounts 1000] [--secrets 500] [--logins 50] [--idle-seconds 300] [--accounts-only | --skip-removal] [--timeline] [--node-flags="..."]
//
// 1. --accounts annotated ServiceAccounts created at once -> every role in
//    Vault; then --logins of them, picked at random, log in for real
//    (Kubernetes auth: Vault asks the apiserver's TokenReview).
// 2. --secrets KMSVaultSecrets (one KMS-encrypted key each) -> all Ready.
// 3. Restart: SIGTERM, a new process; in sync = every object reconciled once
//    and the work queue empty (its /metrics); writes to the apiserver and to
//    Vault from the restart until in sync + 5 s.
// 4. Idle --idle-seconds: writes (expected 0) and reads per minute.
// 5. Every ServiceAccount deleted -> no role or policy left in Vault.
// Prints a table; exits 0 whatever the figures (a benchmark reports).
// --timeline: also where steps 1 and 5 went, per 5 s: the writes each server
// recorded (who, verb, resource) and the operator's reconciles per kind.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { CoreV1Api, CustomObjectsApi, RbacAuthorizationV1Api } from '@kubernetes/client-node';
import { API_GROUP, API_VERSION, serviceAccountRoleName } from '../../../operator/api/naming.js';
import { NAMESPACE_CONTEXT_KEY } from '../../../operator/api/kmsvaultsecret.js';
import { AwsKms } from '../../../operator/kms/aws-kms.js';
import { auditedWrites, type AuditedWrite } from '../../harness/apiserver-audit.js';
import { eventually, startServers } from '../../harness/index.js';
import { freePort } from '../../harness/ports.js';
import { ManagedProcess } from '../../harness/proc.js';
import { VaultAudit, WRITE_OPERATIONS } from '../../harness/vault-audit.js';
import { REPO_ROOT } from '../../harness/versions.js';
import { HARNESS_VAULT_TRUST_ENV, tokenSecretLabels } from '../../support/external-vault.js';
import { buildOperator, imageNodeFlags, mb, rssOf, table, vaultHttp } from '../support.js';

const { values } = parseArgs({
  options: {
    accounts: { type: 'string', default: '1000' },
    secrets: { type: 'string', default: '500' },
    logins: { type: 'string', default: '50' },
    'idle-seconds': { type: 'string', default: '300' },
    concurrency: { type: 'string', default: '16' },
    // only step 1 (quick comparisons)
    'accounts-only': { type: 'boolean', default: false },
    'skip-removal': { type: 'boolean', default: false },
    timeline: { type: 'boolean', default: false },
    // the operator's node flags instead of the Deployment's (e.g. --node-flags=" " for none)
    'node-flags': { type: 'string' },
  },
});
const NODE_FLAGS = values['node-flags'] !== undefined ? values['node-flags'].split(/\s+/).filter(Boolean) : imageNodeFlags();
const ACCOUNTS = Number(values.accounts);
const SECRETS = Number(values.secrets);
const LOGINS = Math.min(Number(values.logins), ACCOUNTS);
const IDLE_S = Number(values['idle-seconds']);
const CONCURRENCY = Number(values.concurrency);
const MOUNT = 'scale';
const OPS = 'scale-ops';
const OPERATOR_SA = 'operator';
const AUTO = 'vault.autopilot.dev/auto-configure';
const KMS_CREDENTIALS = { accessKeyId: 'test', secretAccessKey: 'test' };

class Stop extends Error {}
const load = (): string => loadavg().map((l) => l.toFixed(1)).join(' ');
const seconds = (ms: number): string => (ms / 1000).toFixed(1);
/** Runs `work` over `items`, `CONCURRENCY` at a time. */
async function pool<T>(items: T[], work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, items.length) }, async () => {
    while (next < items.length) await work(items[next++]!);
  }));
}

const entry = buildOperator('bundle');
const servers = await startServers({ vault: 'dev', kms: true, apiserver: true, apiserverAudit: true });
const dir = mkdtempSync(join(tmpdir(), 'bench-scale-'));
const rows: string[][] = [];
const notes: string[] = [];
const row = (what: string, figure: string, target: string) => rows.push([what, figure, target, load()]);
let operator: ManagedProcess | undefined;
const timelines: string[] = [];

try {
  const env = servers.env;
  const root = env.vault.rootToken;
  const { api: vaultApi, list, mountKv2 } = vaultHttp(env.vault.address, root);
  const vaultAudit = await VaultAudit.enable(env.vault);
  await mountKv2(MOUNT);

  await env.applyCrds('crds/vault.yaml', 'crds/kmsvaultsecret.yaml', 'crds/partialkmsvaultsecret.yaml');
  const kc = env.kubeConfig();
  const core = kc.makeApiClient(CoreV1Api);
  const custom = kc.makeApiClient(CustomObjectsApi);
  const rbac = kc.makeApiClient(RbacAuthorizationV1Api);
  const ns = await env.namespace('scale');
  await core.createNamespace({ body: { metadata: { name: OPS } } });
  await core.createNamespacedSecret({ namespace: ns, body: { metadata: { name: 'vault-admin', labels: tokenSecretLabels('vault') }, stringData: { token: root } } });
  await custom.createNamespacedCustomObject({ group: API_GROUP, version: API_VERSION, namespace: ns, plural: 'vaults', body: {
    apiVersion: `${API_GROUP}/${API_VERSION}`, kind: 'Vault', metadata: { name: 'vault' },
    spec: {
      external: { address: env.vault.address, auth: { method: 'token', tokenSecretRef: { name: 'vault-admin' } } },
      selfService: { maxServiceAccountsPerNamespace: ACCOUNTS },
    },
  } });
  // Vault runs outside the cluster: it reviews each login with the caller's own token
  await rbac.createClusterRoleBinding({ body: {
    metadata: { name: `scale-auth-delegator-${ns}` },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'system:auth-delegator' },
    subjects: [{ kind: 'Group', name: `system:serviceaccounts:${ns}`, apiGroup: 'rbac.authorization.k8s.io' }],
  } });

  // the operator's own identities: a ServiceAccount for the apiserver, a token with display name "operator" for KMSVaultSecrets
  await core.createNamespacedServiceAccount({ namespace: OPS, body: { metadata: { name: OPERATOR_SA } } });
  await rbac.createClusterRoleBinding({ body: {
    metadata: { name: 'scale-operator' },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'cluster-admin' },
    subjects: [{ kind: 'ServiceAccount', name: OPERATOR_SA, namespace: OPS }],
  } });
  const saToken = (await core.createNamespacedServiceAccountToken({ namespace: OPS, name: OPERATOR_SA, body: { spec: { audiences: [], expirationSeconds: 7200 } } })).status!.token;
  const kubeconfig = join(dir, 'operator.kubeconfig');
  writeFileSync(kubeconfig, [
    'apiVersion: v1', 'kind: Config',
    `clusters: [{name: c, cluster: {server: "${env.apiserverUrl}", certificate-authority: "${env.apiserverCaFile}"}}]`,
    `users: [{name: u, user: {token: "${saToken}"}}]`,
    'contexts: [{name: c, context: {cluster: c, user: u}}]', 'current-context: c', '',
  ].join('\n'), { mode: 0o600 });
  const operatorUser = `system:serviceaccount:${OPS}:${OPERATOR_SA}`;
  const vaultToken = (await vaultApi('POST', 'auth/token/create', { display_name: 'operator', policies: ['root'], ttl: '4h' })).json.auth.client_token as string;
  const tokenFile = join(dir, 'operator.vault-token');
  writeFileSync(tokenFile, vaultToken, { mode: 0o600 });

  const healthPort = await freePort();
  const startOperator = async (): Promise<ManagedProcess> => {
    const proc = new ManagedProcess('operator', process.execPath, [...NODE_FLAGS, entry], {
      cwd: REPO_ROOT,
      env: {
        ...process.env,
        ...HARNESS_VAULT_TRUST_ENV,
        KUBECONFIG: kubeconfig,
        VAULT_AUTOPILOT_LIFECYCLES: 'vault,serviceaccount,kmsvaultsecret',
        VAULT_AUTOPILOT_NAMESPACE: OPS,
        VAULT_AUTOPILOT_HEALTH_PORT: String(healthPort),
        VAULT_AUTOPILOT_VAULT_NAMESPACE: ns,
        VAULT_AUTOPILOT_TARGET_VAULT: `${ns}/vault`,
        VAULT_AUTOPILOT_KUBERNETES_HOST: env.apiserverUrl,
        VAULT_AUTOPILOT_KUBERNETES_CA_FILE: env.apiserverCaFile,
        VAULT_AUTOPILOT_VAULT_ADDR: env.vault.address,
        VAULT_AUTOPILOT_VAULT_AUTH: 'token',
        VAULT_AUTOPILOT_VAULT_TOKEN_FILE: tokenFile,
        VAULT_AUTOPILOT_KMS_REGION: env.kms.region,
        VAULT_AUTOPILOT_KMS_ENDPOINT: env.kms.endpoint,
        VAULT_AUTOPILOT_LOG_LEVEL: 'warn',
        AWS_ACCESS_KEY_ID: KMS_CREDENTIALS.accessKeyId,
        AWS_SECRET_ACCESS_KEY: KMS_CREDENTIALS.secretAccessKey,
      },
    });
    proc.start();
    await eventually(async () => {
      if (!proc.running) throw new Error(`the operator exited: ${proc.output().slice(-2000)}`);
      if ((await fetch(`http://127.0.0.1:${healthPort}/readyz`)).status !== 200) throw new Error('not ready');
    }, { timeoutMs: 120_000, intervalMs: 100 });
    return proc;
  };
  /** Reconciles so far per kind, and whether nothing is queued or running ((its /metrics). */
  const progress = async (): Promise<{ done: Map<string, number>; idle: boolean }> => {
    const text = await (await fetch(`http://127.0.0.1:${healthPort}/metrics`)).text();
    const done = new Map<string, number>();
    let busy = 0;
    for (const line of text.split('\n')) {
      const total = /^vault_autopilot_reconcile_total\{kind="([^"]+)",result="success"\} (\d+)/.exec(line);
      if (total) done.set(total[1]!, Number(total[2]));
      const queued = /^vault_autopilot_(?:queue_depth\{[^}]*\}|reconciles_in_flight(?:\{\})?) (\d+)/.exec(line);
      if (queued) busy += Number(queued[1]);
    }
    return { done, idle: busy === 0 };
  };
  const prefix = `sa.${ns}.`;
  const inVault = async () => ({
    roles: (await list('auth/kubernetes/role')).filter((r) => r.startsWith(prefix)).length,
    policies: (await list('sys/policies/acl')).filter((p) => p.startsWith(prefix)).length,
  });

  /** Reconciles per kind every second while `during` runs (the timeline's third source). */
  const sampled = async <T>(during: Promise<T>): Promise<{ value: T; samples: Array<{ at: number; done: Map<string, number> }> }> => {
    const samples: Array<{ at: number; done: Map<string, number> }> = [];
    let over = false;
    const sampling = (async () => {
      while (!over) {
        samples.push({ at: Date.now(), done: (await progress().catch(() => ({ done: new Map<string, number>() }))).done });
        await new Promise((r) => setTimeout(r, 1000));
      }
    })();
    try {
      return { value: await during, samples };
    } finally {
      over = true;
      await sampling;
    }
  };
  /** Per 5 s from `from` to `to`: writes by who/verb/resource (apiserver audit), Vault writes by operation/path, reconciles per kind. */
  const timeline = (title: string, from: number, to: number, vaultMark: number, samples: Array<{ at: number; done: Map<string, number> }>): void => {
    const BUCKET = 5000;
    const buckets = Array.from({ length: Math.ceil((to - from) / BUCKET) }, () => new Map<string, number>());
    const count = (at: number | undefined, key: string) => {
      if (at === undefined || at < from || at >= to) return;
      const b = buckets[Math.floor((at - from) / BUCKET)]!;
      b.set(key, (b.get(key) ?? 0) + 1);
    };
    for (const w of auditedWrites(servers.apiserver.auditLogFile!)) count(w.at, `${w.user === operatorUser ? 'op' : 'bench'} ${w.verb} ${w.resource}`);
    for (const r of vaultAudit.since(vaultMark)) if (WRITE_OPERATIONS.has(r.operation)) count(r.at, `vault ${r.operation} ${r.path.replace(/\/[^/]+$/, '/*')}`);
    for (const [i, s] of samples.entries()) {
      const before = samples[i - 1]?.done ?? s.done;
      for (const [kind, n] of s.done) for (let k = before.get(kind) ?? 0; k < n; k++) count(s.at, `reconciled ${kind}`);
    }
    const keys = [...new Set(buckets.flatMap((b) => [...b.keys()]))].sort();
    timelines.push(`${title}\n${table(['from (s)', ...keys], buckets.map((b, i) => [String(i * 5), ...keys.map((k) => String(b.get(k) ?? ''))]))}`);
  };

  operator = await startOperator();
  await eventually(async () => {
    const vault = (await custom.getNamespacedCustomObject({ group: API_GROUP, version: API_VERSION, namespace: ns, plural: 'vaults', name: 'vault' })) as { status?: { conditions?: Array<{ type: string; status: string; message?: string }> } };
    const ready = vault.status?.conditions?.find((c) => c.type === 'Ready');
    if (ready?.status !== 'True') throw new Error(`Vault not Ready: ${ready?.message ?? 'no status'}`);
  }, { timeoutMs: 120_000, intervalMs: 250 });
  process.stderr.write(`[bench] operator ready (RSS ${mb(rssOf(operator.pid!).rss)} MB); ${ACCOUNTS} ServiceAccounts (load ${load()})\n`);
  row('operator idle, nothing to manage: RSS', `${mb(rssOf(operator.pid!).rss)} MB`, '≤ 80 MB');

  // 1. ServiceAccounts
  const names = Array.from({ length: ACCOUNTS }, (_, i) => `app-${String(i).padStart(4, '0')}`);
  let vaultMark = vaultAudit.mark();
  let t0 = Date.now();
  let createdMs = 0;
  const { samples: burst } = await sampled((async () => {
    await pool(names, async (name) => {
      await core.createNamespacedServiceAccount({ namespace: ns, body: { metadata: { name, annotations: { [AUTO]: 'true' } } } });
    });
    createdMs = Date.now() - t0;
    await eventually(async () => {
      const found = await inVault();
      if (found.roles < ACCOUNTS || found.policies < ACCOUNTS) throw new Error(`${found.roles} roles, ${found.policies} policies`);
    }, { timeoutMs: 600_000, intervalMs: 500 });
  })());
  const rolesMs = Date.now() - t0;
  if (values.timeline) timeline(`step 1: ${ACCOUNTS} ServiceAccounts created -> every role and policy in Vault (${seconds(rolesMs)} s)`, t0, t0 + rolesMs, vaultMark, burst);
  const sample = [...names].sort(() => Math.random() - 0.5).slice(0, LOGINS);
  let loginsOk = 0;
  const loginErrors: string[] = [];
  await pool(sample, async (name) => {
    const jwt = (await core.createNamespacedServiceAccountToken({ namespace: ns, name, body: { spec: { audiences: [], expirationSeconds: 600 } } })).status!.token;
    const res = await vaultApi('POST', 'auth/kubernetes/login', { role: serviceAccountRoleName(ns, name), jwt }, '');
    const policies = (res.json.auth?.policies ?? []) as string[];
    if (res.status === 200 && policies.includes(serviceAccountRoleName(ns, name))) loginsOk++;
    else loginErrors.push(`${name}: HTTP ${res.status} ${JSON.stringify(res.json.errors ?? policies)}`);
  });
  const usableMs = Date.now() - t0;
  const rolesNow = await inVault();
  row(`${ACCOUNTS} ServiceAccounts created (${CONCURRENCY} at a time)`, `${seconds(createdMs)} s`, '');
  row(`  every role and policy in Vault (${rolesNow.roles} roles, ${rolesNow.policies} policies)`, `${seconds(rolesMs)} s`, '');
  row(`  + ${LOGINS} real logins, random sample: ${loginsOk} OK`, `${seconds(usableMs)} s`, '≤ 60 s');
  if (loginErrors.length) notes.push(`login failures: ${loginErrors.slice(0, 3).join('; ')}`);
  process.stderr.write(`[bench] ${rolesNow.roles} roles after ${seconds(rolesMs)} s; ${loginsOk}/${LOGINS} logins; RSS ${mb(rssOf(operator.pid!).rss)} MB; ${SECRETS} KMSVaultSecrets (load ${load()})\n`);

  if (values['accounts-only']) throw new Stop();

  // 2. KMSVaultSecrets
  const kms = new AwsKms({ region: env.kms.region, endpoint: env.kms.endpoint, credentials: KMS_CREDENTIALS });
  const context = { [NAMESPACE_CONTEXT_KEY]: ns };
  const secretNames = Array.from({ length: SECRETS }, (_, i) => `s-${String(i).padStart(4, '0')}`);
  t0 = Date.now();
  await pool(secretNames, async (name) => {
    const ciphertext = Buffer.from((await kms.encrypt({ keyId: env.kms.keyId, plaintext: Buffer.from(`value-of-${name}`), context })).ciphertext).toString('base64');
    await custom.createNamespacedCustomObject({ group: API_GROUP, version: API_VERSION, namespace: ns, plural: 'kmsvaultsecrets', body: {
      apiVersion: `${API_GROUP}/${API_VERSION}`, kind: 'KMSVaultSecret', metadata: { name },
      spec: { path: `${MOUNT}/${ns}/${name}`, kvSettings: { engineVersion: 'v2' }, secretContext: context, secrets: [{ key: 'value', encryptedSecret: ciphertext }] },
    } });
  });
  kms.destroy();
  const ready = async (): Promise<number> => {
    const items = ((await custom.listNamespacedCustomObject({ group: API_GROUP, version: API_VERSION, namespace: ns, plural: 'kmsvaultsecrets' })) as { items: Array<{ status?: { conditions?: Array<{ type: string; status: string }> } }> }).items;
    return items.filter((i) => i.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')).length;
  };
  await eventually(async () => {
    const n = await ready();
    if (n < SECRETS) throw new Error(`${n}/${SECRETS} Ready`);
  }, { timeoutMs: 600_000, intervalMs: 1000 });
  row(`${SECRETS} KMSVaultSecrets created and all Ready`, `${seconds(Date.now() - t0)} s`, '≤ 60 s');
  const loadedRss = rssOf(operator.pid!);
  row(`operator with ${ACCOUNTS} ServiceAccounts + ${SECRETS} KMSVaultSecrets: RSS (peak)`, `${mb(loadedRss.rss)} MB (${mb(loadedRss.peak)})`, '≤ 128 MB');

  // 3. restart
  process.stderr.write(`[bench] restart (load ${load()})\n`);
  await operator.stop('SIGTERM', 15_000);
  vaultMark = vaultAudit.mark();
  const restartAt = Date.now();
  operator = await startOperator();
  const want: Record<string, number> = { ServiceAccount: ACCOUNTS, KMSVaultSecret: SECRETS, Vault: 1 };
  let seen = new Map<string, number>();
  await eventually(async () => {
    const p = await progress();
    seen = p.done;
    const short = Object.entries(want).filter(([kind, n]) => (p.done.get(kind) ?? 0) < n);
    if (short.length || !p.idle) throw new Error(`not yet: ${JSON.stringify(Object.fromEntries(p.done))}, idle ${p.idle}`);
  }, { timeoutMs: 300_000, intervalMs: 100 });
  const syncedMs = Date.now() - restartAt;
  await new Promise((r) => setTimeout(r, 5000));
  const windowEnd = Date.now();
  const isWrite = (w: AuditedWrite) => !['get', 'list', 'watch'].includes(w.verb);
  const operatorCalls = (from: number, to: number) => auditedWrites(servers.apiserver.auditLogFile!).filter((w) => w.user === operatorUser && w.at >= from && w.at < to);
  const restartKube = operatorCalls(restartAt, windowEnd);
  const restartKubeWrites = restartKube.filter(isWrite);
  const restartVault = vaultAudit.since(vaultMark);
  const restartVaultWrites = restartVault.filter((r) => WRITE_OPERATIONS.has(r.operation) && r.path !== 'sys/audit/test-file');
  const byKind = (xs: Array<{ key: string }>) => Object.entries(xs.reduce<Record<string, number>>((m, x) => ((m[x.key] = (m[x.key] ?? 0) + 1), m), {})).map(([k, n]) => `${k} ×${n}`).join(', ');
  row(`restart with ${ACCOUNTS} ServiceAccounts + ${SECRETS} KMSVaultSecrets: in sync (${[...seen].map(([k, n]) => `${n} ${k}`).join(', ')} reconciled, queue empty)`, `${seconds(syncedMs)} s`, '≤ 30 s');
  row('  writes to the apiserver (its audit log) until in sync + 5 s', String(restartKubeWrites.length), '0');
  row('  writes to Vault (its audit device) until in sync + 5 s', String(restartVaultWrites.length), '0');
  row('  reads of Vault (the apiserver audit policy records writes only; the operator reads it through watches)', String(restartVault.length - restartVaultWrites.length), '');
  if (restartKubeWrites.length) notes.push(`apiserver writes at restart: ${byKind(restartKubeWrites.map((w) => ({ key: `${w.verb} ${w.resource}` })))}`);
  if (restartVaultWrites.length) notes.push(`Vault writes at restart: ${byKind(restartVaultWrites.map((r) => ({ key: `${r.operation} ${r.path.replace(/\/[^/]+$/, '/*')}` })))}`);

  // 4. idle
  if (IDLE_S > 0) {
    process.stderr.write(`[bench] idle ${IDLE_S} s (load ${load()})\n`);
    const idleMark = vaultAudit.mark();
    const idleFrom = Date.now();
    await new Promise((r) => setTimeout(r, IDLE_S * 1000));
    const idleTo = Date.now();
    const kube = operatorCalls(idleFrom, idleTo);
    const kubeWrites = kube.filter(isWrite);
    const vault = vaultAudit.since(idleMark);
    const vaultWrites = vault.filter((r) => WRITE_OPERATIONS.has(r.operation));
    const perMinute = (n: number) => ((n * 60_000) / (idleTo - idleFrom)).toFixed(1);
    row(`idle ${IDLE_S} s, everything in sync: writes to the apiserver / Vault`, `${kubeWrites.length} / ${vaultWrites.length}`, '0 / 0');
    row('  reads of Vault per minute (read/list)', perMinute(vault.length - vaultWrites.length), '');
    if (vault.length) notes.push(`idle Vault requests: ${byKind(vault.map((r) => ({ key: `${r.operation} ${r.path.replace(/\/[^/]+$/, '/*')}` })))}`);
    if (kubeWrites.length) notes.push(`idle apiserver writes: ${byKind(kubeWrites.map((w) => ({ key: `${w.verb} ${w.resource}` })))}`);
  }

  // 5. removal
  if (values['skip-removal']) throw new Stop();
  process.stderr.write(`[bench] deleting ${ACCOUNTS} ServiceAccounts (load ${load()})\n`);
  vaultMark = vaultAudit.mark();
  t0 = Date.now();
  const { samples: removal } = await sampled((async () => {
    await pool(names, async (name) => {
      await core.deleteNamespacedServiceAccount({ namespace: ns, name });
    });
    await eventually(async () => {
      const found = await inVault();
      if (found.roles || found.policies) throw new Error(`${found.roles} roles, ${found.policies} policies left`);
    }, { timeoutMs: 600_000, intervalMs: 500 });
  })());
  if (values.timeline) timeline(`step 5: ${ACCOUNTS} ServiceAccounts deleted -> none left in Vault (${seconds(Date.now() - t0)} s)`, t0, Date.now(), vaultMark, removal);
  row(`${ACCOUNTS} ServiceAccounts deleted -> no role or policy left in Vault`, `${seconds(Date.now() - t0)} s`, '≤ 60 s');
} catch (error) {
  if (error instanceof Stop) notes.push(values['accounts-only'] ? '--accounts-only: steps 2-5 skipped' : '--skip-removal: step 5 skipped');
  else notes.push(`aborted: ${error instanceof Error ? error.message : String(error)}`);
  if (operator && !(error instanceof Stop)) notes.push(`operator output (tail): ${operator.output().slice(-1500)}`);
} finally {
  await operator?.stop('SIGTERM', 15_000).catch(() => undefined);
  await servers.stopAll();
  rmSync(dir, { recursive: true, force: true });
}
process.stdout.write(timelines.map((t) => `\n${t}\n`).join(''));
process.stdout.write(`\n${table([`operator binary (bundle, node flags: ${NODE_FLAGS.join(' ') || 'none'}) on the harness servers`, 'figure', 'target', 'load average'], rows)}\n${notes.map((n) => `- ${n}`).join('\n')}\n${new Date().toISOString().slice(0, 16)}Z\n`);
process.exit(0);
