// The install scope, proven under its own RBAC: install.yaml generated with
// --watch-namespaces (a Role in each watched namespace, a ClusterRole with
// only what is cluster-scoped) applied to the real kube-apiserver, and the
// real binary (operator/main.ts) run with the Deployment's environment as the
// installed ServiceAccount, through the recording proxy. Everything works in
// the watched namespace; a ServiceAccount and a pod annotated in a namespace
// outside the scope are left alone; no request is refused, and none goes
// cluster-wide or to an unwatched namespace.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { CoreV1Api, CustomObjectsApi, KubernetesObjectApi, RbacAuthorizationV1Api, type KubernetesObject } from '@kubernetes/client-node';
import { eventually, WITHIN, startOperatorProcess, useTestEnv, type OperatorProcess } from '../../harness/index.js';
import { freePort } from '../../harness/ports.js';
import { API_GROUP, API_VERSION } from '../../../operator/api/naming.js';
import { NAMESPACE_CONTEXT_KEY } from '../../../operator/api/kmsvaultsecret.js';
import { defaultInstallSettings, installEnvironment, InstallMode, NAME } from '../../../operator/deploy/install-settings.js';
import { apiRequestOf } from '../../../operator/deploy/rbac.js';
import { AwsKms } from '../../../operator/kms/aws-kms.js';
import { WEBHOOK_PATH } from '../../../operator/webhook/index.js';
import { analyseRequests, applyInstall, serviceAccountKubeConfig, vaultRoleNames, type AppliedInstall } from './install-helpers.js';
import { startRecordingProxy, type RecordingProxy } from './recording-proxy.js';

const env = useTestEnv(test);
const WAIT = { timeoutMs: 60_000, intervalMs: 300 };
const KMS_CREDENTIALS = { accessKeyId: 'test', secretAccessKey: 'test' };

let installNs: string;
let appNs: string;
let outsideNs: string;
let proxy: RecordingProxy;
let installed: AppliedInstall;
let proc: OperatorProcess;
let healthPort: number;

test.before(async () => {
  const e = env();
  installNs = await e.namespace('va-scope-install');
  appNs = await e.namespace('va-scope-apps');
  outsideNs = await e.namespace('va-scope-outside');
  const webhookPort = await freePort();
  healthPort = await freePort({ alsoFree: [webhookPort] });
  const webhookUrl = `https://127.0.0.1:${webhookPort}${WEBHOOK_PATH}`;
  // the apiserver sends pods of BOTH namespaces (as a hand-edited selector would): the operator itself must skip the outside one
  installed = await applyInstall(e, installNs, [appNs, outsideNs], webhookUrl, { watchNamespaces: [appNs] });
  proxy = await startRecordingProxy(e.apiserverUrl, readFileSync(e.apiserverCaFile, 'utf8'));
  const dir = mkdtempSync(join(tmpdir(), 'va-scope-'));
  writeFileSync(join(dir, 'kubeconfig'), (await serviceAccountKubeConfig(e.kubeConfig(), installNs, proxy.url)).exportConfig());
  writeFileSync(join(dir, 'vault-token'), e.vault.rootToken);
  proc = await startOperatorProcess({
    entry: 'operator/main.ts',
    env: {
      // what the scoped Deployment sets (fieldRefs resolved as the kubelet would)
      ...installEnvironment({ ...defaultInstallSettings(InstallMode.Kubectl, '0.0.0'), watchNamespaces: [appNs] }),
      POD_NAMESPACE: installNs,
      POD_NAME: 'vault-autopilot-0',
      VAULT_AUTOPILOT_NAMESPACE: installNs,
      KUBECONFIG: join(dir, 'kubeconfig'),
      VAULT_AUTOPILOT_HEALTH_PORT: String(healthPort),
      VAULT_AUTOPILOT_WEBHOOK_PORT: String(webhookPort),
      VAULT_AUTOPILOT_WEBHOOK_HOST: '127.0.0.1',
      VAULT_AUTOPILOT_WEBHOOK_URL: webhookUrl,
      VAULT_AUTOPILOT_TARGET_VAULT: `${appNs}/vault`,
      VAULT_AUTOPILOT_KUBERNETES_HOST: e.apiserverUrl,
      VAULT_AUTOPILOT_VAULT_ADDR: e.vault.address,
      VAULT_AUTOPILOT_VAULT_AUTH: 'token',
      VAULT_AUTOPILOT_VAULT_TOKEN_FILE: join(dir, 'vault-token'),
      VAULT_AUTOPILOT_KMS_REGION: e.kms.region,
      VAULT_AUTOPILOT_KMS_ENDPOINT: e.kms.endpoint,
      VAULT_AUTOPILOT_KMS_SYNC_PERIOD: '1s',
      AWS_ACCESS_KEY_ID: KMS_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: KMS_CREDENTIALS.secretAccessKey,
    },
  });
  await proc.waitForOutput(/operator started/, WITHIN.start.timeoutMs);
});

test.after.always(async () => {
  await proc?.kill('SIGTERM');
  await proxy?.close();
  await installed?.remove();
});

test.serial('the scoped install: Roles only in the watched namespace, a ClusterRole without namespaced rights; the operator becomes ready', async (t) => {
  const admin = env().kubeConfig();
  const rbac = admin.makeApiClient(RbacAuthorizationV1Api);
  const clusterRole = await rbac.readClusterRole({ name: NAME.clusterRole });
  // cluster-scoped by nature: the auth-delegator binding, the webhook configuration, and reading namespaces (a Vault's self-service selector, caNamespaces)
  t.deepEqual([...new Set(clusterRole.rules?.map((r) => r.resources?.[0]))].sort(), ['clusterrolebindings', 'clusterroles', 'mutatingwebhookconfigurations', 'namespaces']);
  // cluster roles: only bound, each by name (auth-delegator; the service-registration one)
  for (const r of clusterRole.rules?.filter((r) => r.resources?.[0] === 'clusterroles') ?? []) {
    t.deepEqual(r.verbs, ['bind']);
    t.is(r.resourceNames?.length, 1, JSON.stringify(r));
  }
  t.deepEqual(clusterRole.rules?.find((r) => r.resources?.[0] === 'namespaces')?.verbs, ['get', 'list'], 'namespaces: read only (labels; caNamespaces "*" lists them)');
  t.truthy(await rbac.readNamespacedRole({ name: NAME.watchRole, namespace: appNs }));
  const outside = await rbac.listNamespacedRole({ namespace: outsideNs });
  t.deepEqual(outside.items.map((r) => r.metadata?.name), []);
  await eventually(async () => {
    const res = await fetch(`http://127.0.0.1:${healthPort}/readyz`);
    if (res.status !== 200) throw new Error(`readyz ${res.status}`);
  }, WAIT);
  t.regex(proc.output(), /"watchNamespaces":\["va-scope-apps/);
});

test.serial('inside the scope everything works; a ServiceAccount and a pod annotated outside it are left alone', async (t) => {
  const e = env();
  const admin = e.kubeConfig();
  const custom = admin.makeApiClient(CustomObjectsApi);
  const core = admin.makeApiClient(CoreV1Api);
  await custom.createNamespacedCustomObject({ group: API_GROUP, version: API_VERSION, namespace: appNs, plural: 'vaults', body: {
    apiVersion: `${API_GROUP}/${API_VERSION}`, kind: 'Vault', metadata: { name: 'vault' }, spec: { size: 1 },
  } });
  await eventually(() => admin.makeApiClient(KubernetesObjectApi).read({ apiVersion: 'apps/v1', kind: 'StatefulSet', metadata: { name: 'vault', namespace: appNs } }), WAIT);

  // the outsider first: were it watched, it would be handled before the insider
  const annotations = { 'vault.autopilot.dev/auto-configure': 'true', 'vault.autopilot.dev/vault': `${appNs}/vault` };
  await core.createNamespacedServiceAccount({ namespace: outsideNs, body: { metadata: { name: 'outsider', annotations } } });
  await core.createNamespacedServiceAccount({ namespace: appNs, body: { metadata: { name: 'orders', annotations } } });
  const roleNames = () => vaultRoleNames(custom, appNs);
  await eventually(async () => {
    if (!(await roleNames()).includes(`sa.${appNs}.orders`)) throw new Error('role not written yet');
  }, WAIT);

  const mount = await e.vaultMount('kv-v2');
  const kms = new AwsKms({ region: e.kms.region, endpoint: e.kms.endpoint, credentials: KMS_CREDENTIALS });
  // bound to its namespace, as `seal --namespace` does
  const sealFor = async (namespace: string) => {
    const secretContext = { [NAMESPACE_CONTEXT_KEY]: namespace };
    const out = await kms.encrypt({ keyId: e.kms.keyId, plaintext: Buffer.from('p1'), context: secretContext });
    return { secretContext, encryptedSecret: Buffer.from(out.ciphertext).toString('base64') };
  };
  const kmsSecret = async (name: string, namespace: string) => {
    const { secretContext, encryptedSecret } = await sealFor(namespace);
    return {
      apiVersion: `${API_GROUP}/${API_VERSION}`, kind: 'KMSVaultSecret', metadata: { name },
      spec: { path: `${mount}/${namespace}/${name}`, kvSettings: { engineVersion: 'v2' }, secretContext, secrets: [{ key: 'password', encryptedSecret }] },
    };
  };
  await custom.createNamespacedCustomObject({ group: API_GROUP, version: API_VERSION, namespace: outsideNs, plural: 'kmsvaultsecrets', body: await kmsSecret('outside', outsideNs) });
  await custom.createNamespacedCustomObject({ group: API_GROUP, version: API_VERSION, namespace: appNs, plural: 'kmsvaultsecrets', body: await kmsSecret('inside', appNs) });
  kms.destroy();
  type WithStatus = KubernetesObject & { status?: { conditions?: { type: string; status: string }[] } };
  const kmsStatus = async (namespace: string, name: string) =>
    ((await custom.getNamespacedCustomObject({ group: API_GROUP, version: API_VERSION, namespace, plural: 'kmsvaultsecrets', name })) as WithStatus);
  await eventually(async () => {
    const conditions = (await kmsStatus(appNs, 'inside')).status?.conditions;
    if (conditions?.find((c) => c.type === 'Ready')?.status !== 'True') throw new Error(`not Ready yet: ${JSON.stringify(conditions)}`);
  }, WAIT);

  const podBody = (name: string) => ({
    metadata: { name, annotations: { 'vault.autopilot.dev/agent-inject': 'true', 'vault.autopilot.dev/agent-inject-secret-config': 'apps/data/app', 'vault.autopilot.dev/role': 'app' } },
    spec: { containers: [{ name: 'app', image: 'busybox:1.36', command: ['sleep', '3600'] }] },
  });
  const inside = await core.createNamespacedPod({ namespace: appNs, body: podBody('app') });
  t.true([...(inside.spec?.initContainers ?? []), ...(inside.spec?.containers ?? [])].length > 1, 'the agent was injected inside the scope');
  const outsidePod = await core.createNamespacedPod({ namespace: outsideNs, body: podBody('app') });
  t.deepEqual([...(outsidePod.spec?.initContainers ?? []), ...(outsidePod.spec?.containers ?? [])].map((c) => c.name), ['app'], 'outside: the webhook was called and left it alone');

  // the outsiders: no role, no finalizer, no status, no Event
  t.deepEqual(await roleNames(), [`sa.${appNs}.orders`], 'no role for the outsider');
  const outsider = await core.readNamespacedServiceAccount({ name: 'outsider', namespace: outsideNs });
  t.deepEqual(outsider.metadata?.finalizers ?? [], []);
  t.deepEqual(Object.keys(outsider.metadata?.annotations ?? {}).sort(), Object.keys(annotations).sort(), 'no annotation added');
  const outsideSecret = await kmsStatus(outsideNs, 'outside');
  t.is(outsideSecret.status, undefined);
  t.deepEqual(outsideSecret.metadata?.finalizers ?? [], []);
  t.deepEqual((await core.listNamespacedEvent({ namespace: outsideNs })).items.map((ev) => `${ev.reason}: ${ev.message}`), []);

  await custom.deleteNamespacedCustomObject({ group: API_GROUP, version: API_VERSION, namespace: appNs, plural: 'kmsvaultsecrets', name: 'inside' });
  await core.deleteNamespacedServiceAccount({ name: 'orders', namespace: appNs });
  await custom.deleteNamespacedCustomObject({ group: API_GROUP, version: API_VERSION, namespace: appNs, plural: 'vaults', name: 'vault' });
  await eventually(async () => {
    for (const plural of ['kmsvaultsecrets', 'vaults']) {
      const list = (await custom.listNamespacedCustomObject({ group: API_GROUP, version: API_VERSION, namespace: appNs, plural })) as { items: unknown[] };
      if (list.items.length) throw new Error(`${plural} still there`);
    }
  }, WAIT);
});

test.serial('least privilege under the scoped install: nothing refused or unexplained, nothing cluster-wide but the auth-delegator binding and the webhook configuration', (t) => {
  const findings = analyseRequests(proxy.requests, installNs, [appNs]);
  t.log(`${findings.requests} requests; per permission verb:\n  ${findings.usage.join('\n  ')}`);
  t.deepEqual(findings.forbidden, [], 'requests the ServiceAccount was not allowed to make (missing permissions)');
  t.deepEqual(findings.uncovered, [], 'requests no permission in rbac.ts explains for this scope');
  const wide = new Set<string>();
  for (const r of proxy.requests) {
    const req = apiRequestOf(r.method, r.url);
    if (!req) continue;
    if (req.namespace === undefined && !['clusterrolebindings', 'clusterroles', 'mutatingwebhookconfigurations'].includes(req.resource)) wide.add(`${req.verb} ${req.resource}`);
    if (req.namespace !== undefined && req.namespace !== appNs && req.namespace !== installNs) wide.add(`${req.verb} ${req.resource} in ${req.namespace}`);
  }
  t.deepEqual([...wide], [], 'requests outside the watched namespace and the own namespace');
  if (findings.forbidden.length) t.log(proc.output().split('\n').filter((l) => /forbidden|403/i.test(l)).slice(-10).join('\n'));
});
