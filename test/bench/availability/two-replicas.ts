// Two operator replicas under churn for minutes, counted by the servers, not
// by the operator: real kube-apiserver (its audit log), real Vault (its audit
// device), local-kms, two REAL operator processes with leader election
// (default timings) and every lifecycle on.
//
//   node --import=tsx test/bench/availability/two-replicas.ts [--seconds 300]    (make soak)
//
// Each replica has its own identities: its own ServiceAccount token for the
// apiserver (the audit log names the user) and its own Vault token for
// KMSVaultSecrets (Vault's audit log names its display_name). The Vault
// controller logs in with the Vault resource's token Secret, which both
// replicas share: its writes are checked by count instead (every role and
// policy path written once per change — a second writer would double them).
// Churn, every second: a ServiceAccount created, every 4th second one deleted;
// every 2nd a KMSVaultSecret created, every 5th one re-encrypted with a new
// value, every 6th one deleted; an admission review to each replica. Half-way
// the leader is killed -9; a third replica starts as the new follower.
// Fails (exit 1) if a follower wrote anything, or Vault does not hold exactly
// the expected roles, policies and secret values at the end.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { CoordinationV1Api, CoreV1Api, CustomObjectsApi, RbacAuthorizationV1Api } from '@kubernetes/client-node';
import { API_GROUP, API_VERSION, serviceAccountRoleName } from '../../../operator/api/naming.js';
import { AwsKms } from '../../../operator/kms/aws-kms.js';
import { auditedWrites } from '../../harness/apiserver-audit.js';
import { eventually, startOperatorProcess, startServers, type OperatorProcess } from '../../harness/index.js';
import { freePort } from '../../harness/ports.js';
import { VaultAudit, WRITE_OPERATIONS } from '../../harness/vault-audit.js';
import { admissionReview, KMS_CREDENTIALS, postWebhook, rssMiB, writeWebhookCerts } from '../../integration/availability/helpers.js';
import { vaultHttp } from '../support.js';

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '300' } } });
const seconds = Number(values.seconds);
const MOUNT = 'soak';
const OPS = 'soak-ops';
const LEASE = 'vault-autopilot-leader';

const servers = await startServers({ vault: 'dev', kms: true, apiserver: true, apiserverAudit: true });
const failures: string[] = [];
const check = (ok: boolean, what: string) => {
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}`);
  if (!ok) failures.push(what);
};
const replicas: Array<{ name: string; proc: OperatorProcess; webhookPort: number; serving: boolean }> = [];

try {
  const env = servers.env;
  const vaultAddr = env.vault.address;
  const root = env.vault.rootToken;
  const { api: vaultApi, list, mountKv2 } = vaultHttp(vaultAddr, root);
  const vaultAudit = await VaultAudit.enable(env.vault);
  await mountKv2(MOUNT);

  await env.applyCrds('crds/vault.yaml', 'crds/kmsvaultsecret.yaml', 'crds/partialkmsvaultsecret.yaml');
  const kc = env.kubeConfig();
  const core = kc.makeApiClient(CoreV1Api);
  const custom = kc.makeApiClient(CustomObjectsApi);
  const rbac = kc.makeApiClient(RbacAuthorizationV1Api);
  const leases = kc.makeApiClient(CoordinationV1Api);
  const ns = await env.namespace('soak');
  await core.createNamespace({ body: { metadata: { name: OPS } } });
  await core.createNamespacedSecret({ namespace: ns, body: { metadata: { name: 'vault-admin' }, stringData: { token: root } } });
  await custom.createNamespacedCustomObject({ group: API_GROUP, version: API_VERSION, namespace: ns, plural: 'vaults', body: {
    apiVersion: `${API_GROUP}/${API_VERSION}`, kind: 'Vault', metadata: { name: 'vault' },
    spec: { external: { address: vaultAddr, auth: { method: 'token', tokenSecretRef: { name: 'vault-admin' } } } },
  } });
  const certs = writeWebhookCerts();
  const dir = mkdtempSync(join(tmpdir(), 'va-soak-'));

  /** A replica with its own apiserver user (ServiceAccount soak-ops/<name>) and its own Vault token (display name <name>). */
  const startReplica = async (name: string) => {
    await core.createNamespacedServiceAccount({ namespace: OPS, body: { metadata: { name } } });
    await rbac.createClusterRoleBinding({ body: {
      metadata: { name: `soak-${name}` },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'cluster-admin' },
      subjects: [{ kind: 'ServiceAccount', name, namespace: OPS }],
    } });
    const token = (await core.createNamespacedServiceAccountToken({ namespace: OPS, name, body: { spec: { audiences: [], expirationSeconds: 7200 } } })).status!.token;
    const kubeconfig = join(dir, `${name}.kubeconfig`);
    writeFileSync(kubeconfig, [
      'apiVersion: v1', 'kind: Config',
      `clusters: [{name: c, cluster: {server: "${env.apiserverUrl}", certificate-authority: "${env.apiserverCaFile}"}}]`,
      `users: [{name: u, user: {token: "${token}"}}]`,
      'contexts: [{name: c, context: {cluster: c, user: u}}]', 'current-context: c', '',
    ].join('\n'), { mode: 0o600 });
    const vaultToken = (await vaultApi('POST', 'auth/token/create', { display_name: name, policies: ['root'], ttl: '2h' })).json.auth.client_token as string;
    const tokenFile = join(dir, `${name}.vault-token`);
    writeFileSync(tokenFile, vaultToken, { mode: 0o600 });
    const webhookPort = await freePort();
    const healthPort = await freePort({ alsoFree: [webhookPort] });
    const proc = await startOperatorProcess({ entry: 'operator/main.ts', env: {
      KUBECONFIG: kubeconfig,
      POD_NAME: name,
      VAULT_AUTOPILOT_LIFECYCLES: 'vault,serviceaccount,kmsvaultsecret,webhook',
      VAULT_AUTOPILOT_HEALTH_PORT: String(healthPort),
      VAULT_AUTOPILOT_WEBHOOK_PORT: String(webhookPort),
      VAULT_AUTOPILOT_WEBHOOK_HOST: '127.0.0.1',
      VAULT_AUTOPILOT_WEBHOOK_SELF_MANAGED_CERTS: 'false',
      VAULT_AUTOPILOT_WEBHOOK_CERT_DIR: certs.dir,
      VAULT_AUTOPILOT_LEADER_ELECTION: 'true',
      VAULT_AUTOPILOT_LEADER_ELECTION_NAMESPACE: OPS,
      VAULT_AUTOPILOT_VAULT_NAMESPACE: ns,
      VAULT_AUTOPILOT_TARGET_VAULT: `${ns}/vault`,
      VAULT_AUTOPILOT_KUBERNETES_HOST: env.apiserverUrl,
      VAULT_AUTOPILOT_KUBERNETES_CA_FILE: env.apiserverCaFile,
      VAULT_AUTOPILOT_VAULT_ADDR: vaultAddr,
      VAULT_AUTOPILOT_VAULT_AUTH: 'token',
      VAULT_AUTOPILOT_VAULT_TOKEN_FILE: tokenFile,
      VAULT_AUTOPILOT_KMS_REGION: env.kms.region,
      VAULT_AUTOPILOT_KMS_ENDPOINT: env.kms.endpoint,
      AWS_ACCESS_KEY_ID: KMS_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: KMS_CREDENTIALS.secretAccessKey,
    } });
    const replica = { name, proc, webhookPort, serving: false };
    replicas.push(replica);
    // admissions are sent to a replica once it is ready (as the Service would)
    void eventually(async () => {
      if ((await fetch(`http://127.0.0.1:${healthPort}/readyz`)).status !== 200) throw new Error('not ready');
    }, { timeoutMs: 120_000, intervalMs: 200 }).then(() => (replica.serving = true), () => undefined);
    return replica;
  };
  const leaseAcquired = async (): Promise<{ holder: string; at: number }> => {
    const lease = await leases.readNamespacedLease({ namespace: OPS, name: LEASE });
    const at = lease.spec?.acquireTime as unknown as Date | string | undefined;
    return { holder: lease.spec?.holderIdentity ?? '', at: at instanceof Date ? at.getTime() : Date.parse(String(at)) };
  };

  const a = await startReplica('replica-a');
  await a.proc.waitForOutput(/became leader/, 90_000);
  const b = await startReplica('replica-b');
  await b.proc.waitForOutput(/waiting for leadership/, 90_000);
  console.log(`replica-a leads, replica-b follows; churn for ${seconds} s, replica-a killed -9 at ${Math.round(seconds / 2)} s`);

  const kms = new AwsKms({ region: env.kms.region, endpoint: env.kms.endpoint, credentials: KMS_CREDENTIALS });
  const encrypt = async (value: string) => Buffer.from((await kms.encrypt({ keyId: env.kms.keyId, plaintext: Buffer.from(value) })).ciphertext).toString('base64');
  const accounts = new Set<string>();
  const secrets = new Map<string, string>();
  const counts = { saCreated: 0, saDeleted: 0, ksCreated: 0, ksUpdated: 0, ksDeleted: 0 };
  const admissions: Record<string, { ok: number; failed: number; ms: number[] }> = {};
  const pick = <T>(items: Iterable<T>): T | undefined => {
    const all = [...items];
    return all[Math.floor(Math.random() * all.length)];
  };
  let c: Awaited<ReturnType<typeof startReplica>> | undefined;
  let killedAt = 0;
  let takeoverMs = 0;
  const started = Date.now();
  for (let tick = 1; Date.now() - started < seconds * 1000; tick++) {
    const tickStart = Date.now();
    const sa = `sa-${tick}`;
    await core.createNamespacedServiceAccount({ namespace: ns, body: { metadata: { name: sa, annotations: { 'vault.autopilot.dev/auto-configure': 'true' } } } });
    accounts.add(sa);
    counts.saCreated++;
    if (tick % 4 === 0) {
      const gone = pick(accounts)!;
      await core.deleteNamespacedServiceAccount({ namespace: ns, name: gone });
      accounts.delete(gone);
      counts.saDeleted++;
    }
    if (tick % 2 === 0) {
      const name = `s-${tick}`;
      const value = `soak-${tick}-${Math.random().toString(36).slice(2)}`;
      await custom.createNamespacedCustomObject({ group: API_GROUP, version: API_VERSION, namespace: ns, plural: 'kmsvaultsecrets', body: {
        apiVersion: `${API_GROUP}/${API_VERSION}`, kind: 'KMSVaultSecret', metadata: { name },
        spec: { path: `${MOUNT}/${ns}/${name}`, kvSettings: { engineVersion: 'v2' }, secrets: [{ key: 'value', encryptedSecret: await encrypt(value) }] },
      } });
      secrets.set(name, value);
      counts.ksCreated++;
    }
    if (tick % 5 === 0 && secrets.size) {
      const name = pick(secrets.keys())!;
      const value = `soak-${tick}-new-${Math.random().toString(36).slice(2)}`;
      await custom.patchNamespacedCustomObject({ group: API_GROUP, version: API_VERSION, namespace: ns, plural: 'kmsvaultsecrets', name,
        body: [{ op: 'replace', path: '/spec/secrets/0/encryptedSecret', value: await encrypt(value) }] });
      secrets.set(name, value);
      counts.ksUpdated++;
    }
    if (tick % 6 === 0 && secrets.size) {
      const name = pick(secrets.keys())!;
      await custom.deleteNamespacedCustomObject({ group: API_GROUP, version: API_VERSION, namespace: ns, plural: 'kmsvaultsecrets', name });
      secrets.delete(name);
      counts.ksDeleted++;
    }
    for (const r of replicas) {
      if ((r === a && killedAt) || !r.serving) continue;
      const stats = (admissions[r.name] ??= { ok: 0, failed: 0, ms: [] });
      const review = await postWebhook(r.webhookPort, certs.caPem, admissionReview(ns, `pod-${tick}`), { timeoutMs: 5000 });
      if (review.status === 200) stats.ok++;
      else stats.failed++;
      stats.ms.push(review.ms);
    }
    if (!killedAt && Date.now() - started >= (seconds * 1000) / 2) {
      process.kill(a.proc.pid!, 'SIGKILL');
      killedAt = Date.now();
      c = await startReplica('replica-c');
      void b.proc.waitForOutput(/became leader/, 120_000).then(() => (takeoverMs = Date.now() - killedAt));
    }
    await new Promise((r) => setTimeout(r, Math.max(0, 1000 - (Date.now() - tickStart))));
  }
  const churnMs = Date.now() - started;
  console.log(`churn done after ${(churnMs / 1000).toFixed(0)} s: ${JSON.stringify(counts)}; ${accounts.size} ServiceAccounts and ${secrets.size} KMSVaultSecrets expected`);
  await b.proc.waitForOutput(/became leader/, 60_000);
  await c!.proc.waitForOutput(/waiting for leadership/, 60_000);

  // converged: exactly the expected set in Vault
  const expectedRoles = [...accounts].map((s) => serviceAccountRoleName(ns, s)).sort();
  const prefix = `sa.${ns}.`;
  const inVault = async () => ({
    roles: (await list('auth/kubernetes/role')).filter((r) => r.startsWith(prefix)).sort(),
    policies: (await list('sys/policies/acl')).filter((p) => p.startsWith(prefix)).sort(),
    secrets: (await list(`${MOUNT}/metadata/${ns}`)).sort(),
  });
  const same = (x: string[], y: string[]) => x.length === y.length && x.every((v, i) => v === y[i]);
  const convergedAfter = Date.now();
  let found = await inVault();
  try {
    found = await eventually(async () => {
      const now = await inVault();
      if (!same(now.roles, expectedRoles) || !same(now.policies, expectedRoles) || !same(now.secrets, [...secrets.keys()].sort())) {
        throw new Error(`${now.roles.length}/${expectedRoles.length} roles, ${now.policies.length} policies, ${now.secrets.length}/${secrets.size} secrets`);
      }
      return now;
    }, { timeoutMs: 180_000, intervalMs: 1000 });
  } catch {
    found = await inVault();
  }
  const settleMs = Date.now() - convergedAfter;
  check(same(found.roles, expectedRoles), `roles in Vault: ${found.roles.length}, expected ${expectedRoles.length} (none missing or extra)`);
  check(same(found.policies, expectedRoles), `policies in Vault: ${found.policies.length}, expected ${expectedRoles.length}`);
  check(same(found.secrets, [...secrets.keys()].sort()), `secrets in Vault: ${found.secrets.length}, expected ${secrets.size}`);
  let wrongValues = 0;
  for (const [name, value] of secrets) {
    if ((await vaultApi('GET', `${MOUNT}/data/${ns}/${name}`)).json.data?.data?.value !== value) wrongValues++;
  }
  check(wrongValues === 0, `every secret holds its latest value (${wrongValues} wrong)`);

  // who wrote what: the apiserver's audit log and Vault's audit device
  const handover = await leaseAcquired();
  check(handover.holder.startsWith('replica-b'), `the Lease is held by ${handover.holder}`);
  const user = (n: string) => `system:serviceaccount:${OPS}:${n}`;
  const kubeWrites = auditedWrites(servers.apiserver.auditLogFile!).filter((w) => w.resource !== 'leases');
  const byUser = (n: string, filter: (w: { at: number }) => boolean = () => true) => kubeWrites.filter((w) => w.user === user(n) && filter(w));
  const bFollowing = byUser('replica-b', (w) => w.at < handover.at);
  const cFollowing = byUser('replica-c');
  const vaultWrites = vaultAudit.responses().filter((r) => WRITE_OPERATIONS.has(r.operation));
  const byToken = (n: string, filter: (r: { at?: number }) => boolean = () => true) => vaultWrites.filter((r) => r.displayName === `token-${n}` && filter(r));
  const vbFollowing = byToken('replica-b', (r) => (r.at ?? 0) < handover.at);
  const vcFollowing = byToken('replica-c');
  console.log(`apiserver audit log (writes other than the Lease): replica-a ${byUser('replica-a').length} (leader until killed), replica-b ${bFollowing.length} while following + ${byUser('replica-b').length - bFollowing.length} leading, replica-c ${cFollowing.length} (follower)`);
  console.log(`Vault audit device (writes with the replica's own token): replica-a ${byToken('replica-a').length}, replica-b ${vbFollowing.length} while following + ${byToken('replica-b').length - vbFollowing.length} leading, replica-c ${vcFollowing.length}`);
  check(bFollowing.length === 0, `replica-b wrote nothing to the apiserver while following${bFollowing.length ? `: ${JSON.stringify(bFollowing.slice(0, 5))}` : ''}`);
  check(cFollowing.length === 0, `replica-c wrote nothing to the apiserver (follower)${cFollowing.length ? `: ${JSON.stringify(cFollowing.slice(0, 5))}` : ''}`);
  check(vbFollowing.length === 0 && vcFollowing.length === 0, 'no follower wrote to Vault with its token');
  check(byUser('replica-a').length > 0 && byToken('replica-a').length > 0, 'the counts see the leader (the identities are the ones counted)');

  // the shared-token writes of the Vault controller: each role/policy path once per change
  const perPath = new Map<string, number>();
  for (const r of vaultWrites) {
    if (!/^(auth\/kubernetes\/role|sys\/policies\/acl)\/sa\./.test(r.path)) continue;
    perPath.set(`${r.operation} ${r.path}`, (perPath.get(`${r.operation} ${r.path}`) ?? 0) + 1);
  }
  const repeated = [...perPath].filter(([, n]) => n > 1);
  const roleWrites = [...perPath].filter(([k]) => k.includes('auth/kubernetes/role/')).reduce((s, [, n]) => s + n, 0);
  console.log(`Vault audit device, role+policy writes: ${[...perPath.values()].reduce((s, n) => s + n, 0)} (role writes ${roleWrites} for ${counts.saCreated} created + ${counts.saDeleted} deleted ServiceAccounts); paths written more than once per operation: ${repeated.length}${repeated.length ? ` e.g. ${repeated.slice(0, 3).map(([k, n]) => `${k} x${n}`).join(', ')}` : ''}`);
  check(repeated.length === 0, 'no role or policy written twice for one change (no second writer)');

  for (const [name, s] of Object.entries(admissions)) {
    const sorted = [...s.ms].sort((x, y) => x - y);
    console.log(`admissions to ${name}: ${s.ok} answered, ${s.failed} failed, p50 ${sorted[Math.floor(sorted.length / 2)]?.toFixed(0)} ms, max ${sorted.at(-1)?.toFixed(0)} ms`);
    check(s.failed === 0, `${name} answered every admission review`);
  }
  for (const r of replicas.slice(1)) console.log(`${r.name}: RSS ${rssMiB(r.proc.pid!)} MiB at the end (run through tsx)`);
  console.log(`leader killed -9 at ${((killedAt - started) / 1000).toFixed(0)} s; replica-b led ${(takeoverMs / 1000).toFixed(1)} s later (lease 15 s); Vault held exactly the expected set ${(settleMs / 1000).toFixed(1)} s after the churn stopped`);
  kms.destroy();
} catch (error) {
  failures.push(String(error));
  console.error(error);
} finally {
  for (const r of replicas) await r.proc.kill('SIGKILL').catch(() => undefined);
  await servers.stopAll();
}
console.log(failures.length ? `FAILED: ${failures.length} check(s)` : 'PASSED');
process.exit(failures.length ? 1 : 0);
