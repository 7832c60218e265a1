// The real binary (operator/main.ts, all four lifecycles, wired as in
// production) configured with the environment install.yaml's Deployment gives
// it, authenticated as the installed ServiceAccount, through the recording
// proxy: it starts, serves admissions and reconciles every kind without a
// single request the install's RBAC refuses. (Which rules are needed at all is
// proven by install-rbac.test.ts.)
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { CoreV1Api, CustomObjectsApi, KubernetesObjectApi, type KubernetesObject } from '@kubernetes/client-node';
import { eventually, WITHIN, startOperatorProcess, useTestEnv, type OperatorProcess } from '../../harness/index.js';
import { freePort } from '../../harness/ports.js';
import { API_GROUP, API_VERSION } from '../../../operator/api/naming.js';
import { defaultInstallSettings, installEnvironment, InstallMode } from '../../../operator/deploy/install-settings.js';
import { AwsKms } from '../../../operator/kms/aws-kms.js';
import { WEBHOOK_PATH } from '../../../operator/webhook/index.js';
import { analyseRequests, applyInstall, serviceAccountKubeConfig, vaultRoleNames, type AppliedInstall } from './install-helpers.js';
import { startRecordingProxy, type RecordingProxy } from './recording-proxy.js';

const env = useTestEnv(test);
const WAIT = { timeoutMs: 60_000, intervalMs: 300 };
const KMS_CREDENTIALS = { accessKeyId: 'test', secretAccessKey: 'test' };

let installNs: string;
let appNs: string;
let proxy: RecordingProxy;
let installed: AppliedInstall;
let proc: OperatorProcess;
let healthPort: number;

test.before(async () => {
  const e = env();
  installNs = await e.namespace('va-proc-install');
  appNs = await e.namespace('va-proc-apps');
  const webhookPort = await freePort();
  healthPort = await freePort({ alsoFree: [webhookPort] });
  const webhookUrl = `https://127.0.0.1:${webhookPort}${WEBHOOK_PATH}`;
  installed = await applyInstall(e, installNs, appNs, webhookUrl);
  proxy = await startRecordingProxy(e.apiserverUrl, readFileSync(e.apiserverCaFile, 'utf8'));
  const dir = mkdtempSync(join(tmpdir(), 'va-proc-'));
  writeFileSync(join(dir, 'kubeconfig'), (await serviceAccountKubeConfig(e.kubeConfig(), installNs, proxy.url)).exportConfig());
  writeFileSync(join(dir, 'vault-token'), e.vault.rootToken);
  proc = await startOperatorProcess({
    entry: 'operator/main.ts',
    env: {
      // what the Deployment sets (fieldRefs resolved as the kubelet would)
      ...installEnvironment(defaultInstallSettings(InstallMode.Kubectl, '0.0.0')),
      POD_NAMESPACE: installNs,
      POD_NAME: 'vault-autopilot-0',
      VAULT_AUTOPILOT_NAMESPACE: installNs,
      // what differs on loopback, or what an administrator would add
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
      // sealed without the namespace binding here (tested in test/integration/tenancy/)
      VAULT_AUTOPILOT_KMS_LEGACY_NAMESPACES: '*',
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

test.serial('the operator process becomes ready with the installed ServiceAccount', async (t) => {
  await eventually(async () => {
    const res = await fetch(`http://127.0.0.1:${healthPort}/readyz`);
    if (res.status !== 200) throw new Error(`readyz ${res.status}`);
  }, WAIT);
  t.true(proxy.requests.length > 0, 'it talks to the apiserver through the recording proxy');
});

test.serial('a Vault, an annotated ServiceAccount, a KMSVaultSecret and an injected pod are all handled', async (t) => {
  const e = env();
  const admin = e.kubeConfig();
  const custom = admin.makeApiClient(CustomObjectsApi);
  const core = admin.makeApiClient(CoreV1Api);
  await custom.createNamespacedCustomObject({ group: API_GROUP, version: API_VERSION, namespace: appNs, plural: 'vaults', body: {
    apiVersion: `${API_GROUP}/${API_VERSION}`, kind: 'Vault', metadata: { name: 'vault' }, spec: { size: 1 },
  } });
  await eventually(() => admin.makeApiClient(KubernetesObjectApi).read({ apiVersion: 'apps/v1', kind: 'StatefulSet', metadata: { name: 'vault', namespace: appNs } }), WAIT);

  await core.createNamespacedServiceAccount({ namespace: appNs, body: { metadata: { name: 'orders', annotations: { 'vault.autopilot.dev/auto-configure': 'true' } } } });
  await eventually(async () => {
    if (!(await vaultRoleNames(custom, appNs)).includes(`sa.${appNs}.orders`)) throw new Error('role not written yet');
  }, WAIT);

  const mount = await e.vaultMount('kv-v2');
  const kms = new AwsKms({ region: e.kms.region, endpoint: e.kms.endpoint, credentials: KMS_CREDENTIALS });
  const ciphertext = Buffer.from((await kms.encrypt({ keyId: e.kms.keyId, plaintext: Buffer.from('p1') })).ciphertext).toString('base64');
  kms.destroy();
  await custom.createNamespacedCustomObject({ group: API_GROUP, version: API_VERSION, namespace: appNs, plural: 'kmsvaultsecrets', body: {
    apiVersion: `${API_GROUP}/${API_VERSION}`, kind: 'KMSVaultSecret', metadata: { name: 'app' },
    spec: { path: `${mount}/${appNs}/app`, kvSettings: { engineVersion: 'v2' }, secrets: [{ key: 'password', encryptedSecret: ciphertext }] },
  } });
  await eventually(async () => {
    const obj = (await custom.getNamespacedCustomObject({ group: API_GROUP, version: API_VERSION, namespace: appNs, plural: 'kmsvaultsecrets', name: 'app' })) as KubernetesObject & { status?: { conditions?: { type: string; status: string }[] } };
    if (obj.status?.conditions?.find((c) => c.type === 'Ready')?.status !== 'True') throw new Error('not Ready yet');
  }, WAIT);

  const pod = await core.createNamespacedPod({ namespace: appNs, body: {
    metadata: { name: 'app', annotations: { 'vault.autopilot.dev/agent-inject': 'true', 'vault.autopilot.dev/agent-inject-secret-config': 'apps/data/app', 'vault.autopilot.dev/role': 'app' } },
    spec: { containers: [{ name: 'app', image: 'busybox:1.36', command: ['sleep', '3600'] }] },
  } });
  t.true([...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])].length > 1, 'the agent was injected');

  // and everything goes again (finalizers)
  await custom.deleteNamespacedCustomObject({ group: API_GROUP, version: API_VERSION, namespace: appNs, plural: 'kmsvaultsecrets', name: 'app' });
  await core.deleteNamespacedServiceAccount({ name: 'orders', namespace: appNs });
  await custom.deleteNamespacedCustomObject({ group: API_GROUP, version: API_VERSION, namespace: appNs, plural: 'vaults', name: 'vault' });
  await eventually(async () => {
    for (const plural of ['kmsvaultsecrets', 'vaults']) {
      const list = (await custom.listNamespacedCustomObject({ group: API_GROUP, version: API_VERSION, namespace: appNs, plural })) as { items: unknown[] };
      if (list.items.length) throw new Error(`${plural} still there`);
    }
  }, WAIT);
});

test.serial('no request of the real process was refused or unexplained by the install RBAC', (t) => {
  const findings = analyseRequests(proxy.requests, installNs);
  t.log(`${findings.requests} requests; per permission verb:\n  ${findings.usage.join('\n  ')}`);
  t.deepEqual(findings.forbidden, [], 'requests the ServiceAccount was not allowed to make (missing permissions)');
  t.deepEqual(findings.unparsed, [], 'requests the analysis could not map to a permission (a 403 there would go unseen)');
  t.deepEqual(findings.uncovered, [], 'requests no permission in rbac.ts explains');
  if (findings.forbidden.length) t.log(proc.output().split('\n').filter((l) => /forbidden|403/i.test(l)).slice(-10).join('\n'));
});
