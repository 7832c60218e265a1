// The operator's Vault connection as in production: Kubernetes auth with its
// ServiceAccount token (TokenRequest against the real apiserver, TokenReview
// by Vault) and ONLY the policy the README documents. Proves the documented
// policy is enough for sync, drift correction and deletion, and that a mount
// outside it is reported, not crashed on.
import { readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import test from 'ava';
import { CoreV1Api, RbacAuthorizationV1Api } from '@kubernetes/client-node';
import { eventually, WITHIN, useTestEnv } from '../../harness/index.js';
import { VaultClient } from '../../../operator/vault/client.js';
import { CRD_FILES, Objects, sealValue, startInProcessOperator, VaultProbe, type RunningOperator } from './helpers.js';

const env = useTestEnv(test);
const SA = 'vault-autopilot-kms';
const suffix = randomBytes(3).toString('hex');
const AUTH_PATH = `k8s-kmsvs-${suffix}`;
const POLICY = `kmsvs-operator-${suffix}`;
const ROLE = 'kmsvs-operator';

let op: RunningOperator;
let objects: Objects;
let probe: VaultProbe;
let ns: string;
let v2: string;
let v1: string;
let ungranted: string;
const tokens: string[] = [];
const plaintexts: string[] = [];

async function must(res: Promise<{ status: number; json: Record<string, unknown> }>, what: string): Promise<void> {
  const r = await res;
  if (r.status >= 300) throw new Error(`${what}: ${r.status} ${JSON.stringify(r.json)}`);
}

test.before(async () => {
  const e = env();
  await e.applyCrds(...CRD_FILES);
  ns = await e.namespace('kmsvs-k8sauth');
  [v2, v1, ungranted] = [await e.vaultMount('kv-v2'), await e.vaultMount('kv-v1'), await e.vaultMount('kv-v2')];
  objects = new Objects(e.kubeConfig());
  probe = new VaultProbe(e);

  const kc = e.kubeConfig();
  const core = kc.makeApiClient(CoreV1Api);
  await core.createNamespacedServiceAccount({ namespace: ns, body: { metadata: { name: SA } } });
  await kc.makeApiClient(RbacAuthorizationV1Api).createClusterRoleBinding({
    body: {
      metadata: { name: `${ns}-kmsvs-auth-delegator` },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'system:auth-delegator' },
      subjects: [{ kind: 'ServiceAccount', name: SA, namespace: ns }],
    },
  });

  await must(probe.request('POST', `sys/auth/${AUTH_PATH}`, { type: 'kubernetes' }), 'enable kubernetes auth');
  await must(
    probe.request('POST', `auth/${AUTH_PATH}/config`, { kubernetes_host: e.apiserverUrl, kubernetes_ca_cert: readFileSync(e.apiserverCaFile, 'utf8') }),
    'configure kubernetes auth',
  );
  // exactly the policy the README documents, for the two granted mounts
  const policy = [
    `path "${v2}/data/*" { capabilities = ["create", "read", "update"] }`,
    `path "${v2}/metadata/*" { capabilities = ["delete"] }`,
    `path "${v1}/*" { capabilities = ["create", "read", "update", "delete"] }`,
  ].join('\n');
  await must(probe.request('PUT', `sys/policies/acl/${POLICY}`, { policy }), 'write policy');
  await must(
    probe.request('POST', `auth/${AUTH_PATH}/role/${ROLE}`, {
      bound_service_account_names: [SA],
      bound_service_account_namespaces: [ns],
      token_policies: [POLICY],
      token_ttl: '5m',
    }),
    'write role',
  );

  const vault = new VaultClient({
    address: e.vault.address,
    timeoutMs: 3000,
    auth: {
      method: 'kubernetes',
      role: ROLE,
      mountPath: AUTH_PATH,
      jwt: async () => {
        const res = await core.createNamespacedServiceAccountToken({ name: SA, namespace: ns, body: { spec: { audiences: [], expirationSeconds: 3600 } } });
        tokens.push(res.status!.token);
        return res.status!.token;
      },
    },
  });
  op = await startInProcessOperator(e, { syncPeriodMs: 1000 }, { vault });
});

test.after.always(async () => {
  await op?.stop();
  if (probe) {
    await probe.request('DELETE', `sys/auth/${AUTH_PATH}`);
    await probe.request('DELETE', `sys/policies/acl/${POLICY}`);
  }
  if (ns) {
    await env()
      .kubeConfig()
      .makeApiClient(RbacAuthorizationV1Api)
      .deleteClusterRoleBinding({ name: `${ns}-kmsvs-auth-delegator` })
      .catch(() => undefined);
  }
});

function value(label: string): string {
  const v = `k8sauth-${label}-${Math.random().toString(36).slice(2, 10)}`;
  plaintexts.push(v);
  return v;
}

test.serial('syncs KV v2 and v1 logged in with its ServiceAccount token and the documented policy', async (t) => {
  const a = value('v2');
  const b = value('v1');
  await objects.create(ns, 'v2', { path: `${v2}/${ns}/app`, kvSettings: { engineVersion: 'v2' }, secrets: [{ key: 'a', encryptedSecret: await sealValue(env(), a) }] });
  await objects.create(ns, 'v1', { path: `${v1}/${ns}/app`, kvSettings: { engineVersion: 'v1' }, secrets: [{ key: 'b', encryptedSecret: await sealValue(env(), b) }] });
  await objects.waitReady(ns, 'v2', 'True', 'Synced');
  await objects.waitReady(ns, 'v1', 'True', 'Synced');
  t.deepEqual(await probe.read(v2, 'v2', `${ns}/app`), { a });
  t.deepEqual(await probe.read(v1, 'v1', `${ns}/app`), { b });
  t.true(tokens.length >= 1, 'logged in with a ServiceAccount token');
  t.true(op.vault.stats.byPath.has(`POST auth/${AUTH_PATH}/login`));
});

test.serial('drift is corrected with the same token (check-and-set needs only read+update)', async (t) => {
  const before = await probe.read(v2, 'v2', `${ns}/app`);
  await probe.write(v2, 'v2', `${ns}/app`, { a: 'by-hand' });
  await eventually(async () => {
    if (JSON.stringify(await probe.read(v2, 'v2', `${ns}/app`)) !== JSON.stringify(before)) throw new Error('not restored');
  }, WITHIN.reconcile);
  t.pass();
});

test.serial('a mount the policy does not grant: Ready=False with a message, nothing written', async (t) => {
  await objects.create(ns, 'ungranted', {
    path: `${ungranted}/${ns}/app`,
    kvSettings: { engineVersion: 'v2' },
    secrets: [{ key: 'x', encryptedSecret: await sealValue(env(), value('ungranted')) }],
  });
  const obj = await objects.waitReady(ns, 'ungranted', 'False', 'MountMismatch');
  t.regex(obj.status!.conditions![0]!.message, /may not see it/);
  t.false(await probe.metadataExists(ungranted, `${ns}/app`));
});

test.serial('deletion with the documented policy removes v2 (all versions) and v1', async (t) => {
  await objects.delete(ns, 'v2');
  await objects.delete(ns, 'v1');
  await objects.waitGone(ns, 'v2');
  await objects.waitGone(ns, 'v1');
  t.false(await probe.metadataExists(v2, `${ns}/app`));
  t.is(await probe.read(v1, 'v1', `${ns}/app`), undefined);
});

test.serial('neither the ServiceAccount tokens, the Vault token nor a value is logged', async (t) => {
  const logs = op.logs.text();
  const vaultToken = await op.vault.token();
  t.true(vaultToken.length > 10);
  for (const secret of [vaultToken, ...tokens, ...plaintexts]) t.false(logs.includes(secret));
  const events = JSON.stringify(await objects.events(ns));
  for (const secret of plaintexts) t.false(events.includes(secret));
});
