// Managed mode against the REAL kube-apiserver (no kubelet: the Vault pods
// never run, so this checks the objects the operator creates and keeps).
import { X509Certificate } from 'node:crypto';
import test from 'ava';
import { AppsV1Api, CoreV1Api, KubernetesObjectApi, PatchStrategy, PolicyV1Api, RbacAuthorizationV1Api, type KubernetesObject } from '@kubernetes/client-node';
import { FINALIZER } from '../../../operator/api/naming.js';
import { eventually, WITHIN, useTestEnv } from '../../harness/index.js';
import { CRD_FILE, Vaults, changesOnceInSync, fromSample, passes, startVaultOperator, type RunningVaultOperator } from './helpers.js';

const env = useTestEnv(test, { vault: false, kms: false });
let op: RunningVaultOperator;
let ns: string;
let vaults: Vaults;
let apps: AppsV1Api;
let core: CoreV1Api;
const NAME = 'vault';

test.before(async () => {
  await env().applyCrds(CRD_FILE);
  ns = await env().namespace('vault-managed');
  vaults = new Vaults(env().kubeConfig());
  apps = env().kubeConfig().makeApiClient(AppsV1Api);
  core = env().kubeConfig().makeApiClient(CoreV1Api);
  op = await startVaultOperator(env(), ns);
  await vaults.create(fromSample('samples/vault-managed.yaml', ns, NAME));
});

test.after.always(async () => {
  await op?.stop();
});

const sts = () => apps.readNamespacedStatefulSet({ name: NAME, namespace: ns });
const configJson = async () => JSON.parse((await vaults.secretData(ns, `${NAME}-config`))!['vault.json']!) as { storage: { raft: { retry_join: Array<{ leader_api_addr: string }> } } };

test.serial('the sample creates StatefulSet, Services, config, SA + auth-delegator binding, PDB, with owner references', async (t) => {
  const set = await eventually(sts, { timeoutMs: 30_000 });
  t.is(set.spec!.replicas, 3);
  t.is(set.spec!.serviceName, `${NAME}-internal`);
  t.is(set.metadata!.ownerReferences?.[0]?.kind, 'Vault');
  t.is(set.spec!.template.spec!.containers[0]!.image, 'hashicorp/vault:1.21.4');
  t.truthy(set.spec!.template.spec!.affinity?.podAntiAffinity);
  const config = await configJson();
  t.deepEqual(
    config.storage.raft.retry_join.map((r) => r.leader_api_addr),
    [0, 1, 2].map((i) => `https://${NAME}-${i}.${NAME}-internal.${ns}.svc:8200`),
  );
  const client = await core.readNamespacedService({ name: NAME, namespace: ns });
  t.deepEqual(client.spec!.ports!.map((p) => p.port), [8200, 8201]);
  const peers = await core.readNamespacedService({ name: `${NAME}-internal`, namespace: ns });
  t.is(peers.spec!.clusterIP, 'None');
  t.true(peers.spec!.publishNotReadyAddresses);
  await core.readNamespacedServiceAccount({ name: NAME, namespace: ns });
  const pdb = await env().kubeConfig().makeApiClient(PolicyV1Api).readNamespacedPodDisruptionBudget({ name: NAME, namespace: ns });
  t.is(pdb.spec!.maxUnavailable, 1);
  const binding = await env().kubeConfig().makeApiClient(RbacAuthorizationV1Api).readClusterRoleBinding({ name: `vault-autopilot:${ns}:${NAME}:auth-delegator` });
  t.is(binding.roleRef.name, 'system:auth-delegator');
  t.deepEqual(JSON.parse(JSON.stringify(binding.subjects)), [{ kind: 'ServiceAccount', name: NAME, namespace: ns }]);
  const cr = await vaults.get(ns, NAME);
  t.true(cr.metadata!.finalizers!.includes(FINALIZER));
});

test.serial('the TLS Secret chains to the operator CA and covers the Service names', async (t) => {
  const tls = await eventually(async () => (await vaults.secretData(ns, `${NAME}-tls`)) ?? Promise.reject(new Error('no tls secret')), WITHIN.reconcile);
  const ca = new X509Certificate(tls['ca.crt']!);
  const leaf = new X509Certificate(tls['tls.crt']!);
  t.true(ca.ca);
  t.true(leaf.checkIssued(ca));
  t.true(leaf.verify(ca.publicKey));
  for (const host of [`${NAME}.${ns}.svc`, `${NAME}-0.${NAME}-internal.${ns}.svc`, `${NAME}-2.${NAME}-internal.${ns}`]) {
    t.truthy(leaf.checkHost(host), host);
  }
  t.true(leaf.checkPrivateKey((await import('node:crypto')).createPrivateKey(tls['tls.key']!)));
});

test.serial('status says why: no node answers yet, and the pods do not even exist (pods never run here)', async (t) => {
  const c = await vaults.waitForCondition(ns, NAME, 'Initialized', 'Unknown', { reason: 'PodNotRunning' });
  t.regex(c.message, new RegExp(`^${NAME}-0: pod does not exist yet; ${NAME}-1: pod does not exist yet; ${NAME}-2: pod does not exist yet$`));
  const ready = await vaults.condition(ns, NAME, 'Ready');
  t.is(ready?.status, 'False');
  const status = (await vaults.get(ns, NAME)).status!;
  t.is(status.mode, 'managed');
  t.is(status.nodes?.length, 3);
  t.true(status.nodes!.every((n) => !n.reachable));
  t.truthy(status.tlsNotAfter);
});

test.serial('an unchanged resource makes zero Kubernetes writes across reconciles', async (t) => {
  await changesOnceInSync(op, () => op.kubeWrites, 0);
  const writes = op.kubeWrites.length;
  const before = await vaults.get(ns, NAME);
  const setBefore = await sts();
  // pods unreachable -> the controller re-checks every second: several passes
  await passes(op, 4);
  t.deepEqual(op.kubeWrites.slice(writes), [], 'no write at all: objects, status, finalizers or Events');
  t.is((await vaults.get(ns, NAME)).metadata!.resourceVersion, before.metadata!.resourceVersion);
  t.is((await sts()).metadata!.resourceVersion, setBefore.metadata!.resourceVersion);
});

test.serial('scaling size updates the StatefulSet and the peers in the config', async (t) => {
  const sumBefore = (await sts()).spec!.template.metadata!.annotations!['vault.autopilot.dev/config-checksum'];
  await vaults.patchSpec(ns, NAME, { size: 5 });
  const set = await eventually(async () => {
    const s = await sts();
    if (s.spec!.replicas !== 5) throw new Error(`replicas ${s.spec!.replicas}`);
    return s;
  }, WITHIN.reconcile);
  t.is(set.spec!.template.metadata!.annotations!['vault.autopilot.dev/config-checksum'], sumBefore, 'scaling alone does not roll the pods');
  await eventually(async () => {
    const peers = (await configJson()).storage.raft.retry_join.length;
    if (peers !== 5) throw new Error(`peers ${peers}`);
  }, WITHIN.reconcile);
  const status = await eventually(async () => {
    const s = (await vaults.get(ns, NAME)).status!;
    if (s.nodes?.length !== 5) throw new Error(`nodes ${s.nodes?.length}`);
    return s;
  }, WITHIN.reconcile);
  t.is(status.observedGeneration, (await vaults.get(ns, NAME)).metadata!.generation);
});

test.serial('a serving certificate near expiry is renewed with the same CA (clock moved)', async (t) => {
  const before = (await vaults.secretData(ns, `${NAME}-tls`))!;
  const leaf = new X509Certificate(before['tls.crt']!);
  const tlsSum = async () => (await sts()).spec!.template.metadata!.annotations!['vault.autopilot.dev/tls-checksum'];
  const sumBefore = await tlsSum();
  // 1 hour inside the default 168h threshold
  op.clock.offsetMs = Date.parse(leaf.validTo) - Date.now() - 167 * 3_600_000;
  op.operator.enqueue('Vault', ns, NAME);
  const after = await eventually(async () => {
    const now = (await vaults.secretData(ns, `${NAME}-tls`))!;
    if (now['tls.crt'] === before['tls.crt']) throw new Error('not renewed yet');
    return now;
  }, WITHIN.reconcile);
  t.is(after['ca.crt'], before['ca.crt']);
  const renewed = new X509Certificate(after['tls.crt']!);
  t.true(Date.parse(renewed.validTo) > Date.parse(leaf.validTo));
  t.true(renewed.verify(new X509Certificate(after['ca.crt']!).publicKey));
  const events = await vaults.events(ns, NAME);
  t.true(events.some((e) => e.reason === 'TlsRenewed' && /expires/.test(e.message ?? '')));
  // Vault reads its certificate at start: the pods roll onto the new one
  await eventually(async () => {
    if ((await tlsSum()) === sumBefore) throw new Error('pod template not updated');
  }, WITHIN.reconcile);
  // renewed once, then stable
  const tlsWrites = () => op.kubeWrites.filter((w) => w.includes(`secrets ${ns}/${NAME}-tls`));
  await changesOnceInSync(op, tlsWrites, 0);
  const n = tlsWrites().length;
  op.operator.enqueue('Vault', ns, NAME);
  await passes(op, 3);
  t.is(tlsWrites().length, n);
  op.clock.offsetMs = 0;
});

test.serial('a StatefulSet changed by hand is put back', async (t) => {
  const set = await sts();
  await apps.replaceNamespacedStatefulSet({ name: NAME, namespace: ns, body: { ...set, spec: { ...set.spec!, replicas: 1 } } });
  op.operator.enqueue('Vault', ns, NAME);
  await eventually(async () => {
    if ((await sts()).spec!.replicas !== 5) throw new Error('not restored');
  }, WITHIN.reconcile);
  t.pass();
});

test.serial('no private key appears in logs, events or status', async (t) => {
  const tls = (await vaults.secretData(ns, `${NAME}-tls`))!;
  const ca = (await vaults.secretData(ns, `${NAME}-ca`))!;
  const keys = [tls['tls.key']!, ca['tls.key']!].map((k) => k.split('\n').slice(1, 3).join(''));
  const events = JSON.stringify(await vaults.events(ns, NAME));
  const status = JSON.stringify((await vaults.get(ns, NAME)).status);
  for (const key of keys) {
    t.true(key.length > 40);
    t.false(op.logs.text().replace(/\\n/g, '').includes(key));
    t.false(events.includes(key));
    t.false(status.includes(key));
  }
});

test.serial('server-side apply contract: another field manager owns single roles and policies', async (t) => {
  const objects = KubernetesObjectApi.makeApiClient(env().kubeConfig());
  const apply = (roles: unknown[], policies: unknown[]) =>
    objects.patch(
      {
        apiVersion: 'vault.autopilot.dev/v1alpha1',
        kind: 'Vault',
        metadata: { name: NAME, namespace: ns },
        spec: { externalConfig: { auth: [{ path: 'kubernetes', type: 'kubernetes', roles }], policies } },
      } as KubernetesObject,
      undefined,
      undefined,
      'vault-autopilot-serviceaccounts',
      true,
      PatchStrategy.ServerSideApply,
    );
  const role = { name: `sa.${ns}.app`, bound_service_account_names: ['app'], bound_service_account_namespaces: [ns], token_policies: [`sa.${ns}.app`], token_ttl: '5m' };
  await apply([role], [{ name: `sa.${ns}.app`, rules: 'path "x" { capabilities = ["read"] }' }]);
  let ec = (await vaults.get(ns, NAME)).spec.externalConfig!;
  t.deepEqual(ec.auth!.find((a) => a.path === 'kubernetes')!.roles!.map((r) => r.name), [`sa.${ns}.app`]);
  t.deepEqual(ec.policies!.map((p) => p.name), [`sa.${ns}.app`]);
  t.is(ec.auth!.find((a) => a.path === 'kubernetes')!.roles![0]!.token_ttl, '5m', 'free-form role fields are kept');
  t.is(ec.auth!.find((a) => a.path === 'kubernetes')!.description, "Service owners' pods (roles come from annotated ServiceAccounts)", "the sample's own fields stay");
  await apply([], []);
  ec = (await vaults.get(ns, NAME)).spec.externalConfig!;
  t.deepEqual(ec.auth!.find((a) => a.path === 'kubernetes')!.roles ?? [], []);
  t.deepEqual(ec.policies ?? [], []);
  t.is(ec.secrets?.[0]?.path, 'secret', 'the KV mount is untouched');
});

test.serial('the schema rejects an auth entry without type and a role without name (a missing path means the type)', async (t) => {
  const bad = fromSample('samples/vault-managed.yaml', ns, 'bad', { externalConfig: { auth: [{ path: 'kubernetes' } as never] } });
  const err = await t.throwsAsync(vaults.create(bad));
  t.regex(String((err as unknown as { body?: string }).body ?? err?.message), /type/);
  const bad2 = fromSample('samples/vault-managed.yaml', ns, 'bad2', { externalConfig: { auth: [{ type: 'approle', path: 'approle', roles: [{ token_ttl: '1m' } as never] }] } });
  const err2 = await t.throwsAsync(vaults.create(bad2));
  t.regex(String((err2 as unknown as { body?: string }).body ?? err2?.message), /name/);
});

test.serial('deleting the resource removes the cluster-scoped binding and the finalizer', async (t) => {
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
  const rbac = env().kubeConfig().makeApiClient(RbacAuthorizationV1Api);
  const err = await t.throwsAsync(rbac.readClusterRoleBinding({ name: `vault-autopilot:${ns}:${NAME}:auth-delegator` }));
  t.is((err as unknown as { code: number }).code, 404);
});
