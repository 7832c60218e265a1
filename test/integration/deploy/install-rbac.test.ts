// The least-privilege proof: apply the generated install.yaml to the real
// kube-apiserver, then run the operator's lifecycles IN-PROCESS with a token
// of the ServiceAccount that install.yaml creates (TokenRequest), through a
// proxy that records every request. The last test fails if any request was
// forbidden (a permission is missing) or any verb of any permission in
// operator/deploy/rbac.ts was never used (a permission is superfluous).
import { readFileSync } from 'node:fs';
import test from 'ava';
import {
  AdmissionregistrationV1Api,
  ApiextensionsV1Api,
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  KubernetesObjectApi,
  PatchStrategy,
  setHeaderOptions,
  RbacAuthorizationV1Api,
  type KubernetesObject,
} from '@kubernetes/client-node';
import { eventually, useTestEnv } from '../../harness/index.js';
import { sampleOf } from '../../support/samples.js';
import { defaultInstallSettings, installEnvironment, InstallMode, NAME } from '../../../operator/deploy/install-settings.js';
import { operatorPermissions } from '../../../operator/deploy/rbac.js';
import { analyseRequests, applyInstall, serviceAccountKubeConfig, vaultRoleNames, type AppliedInstall } from './install-helpers.js';
import { API_GROUP, API_VERSION } from '../../../operator/api/naming.js';
import { AutopilotOperator, createLogger, makeKubeClients } from '../../../operator/framework/index.js';
import { createWebhookServer, parseWebhookSettings, registerPodWebhook, WEBHOOK_PATH } from '../../../operator/webhook/index.js';
import { caConfigMapName } from '../../../operator/webhook/ca-configmap.js';
import { freePort } from '../../harness/ports.js';
import { registerKmsVaultSecretController } from '../../../operator/controllers/kmsvaultsecret/controller.js';
import { defaultKmsVaultSecretSettings } from '../../../operator/controllers/kmsvaultsecret/settings.js';
import { NAMESPACE_CONTEXT_KEY } from '../../../operator/api/kmsvaultsecret.js';
import { registerVaultController } from '../../../operator/controllers/vault/controller.js';
import { parseVaultControllerSettings } from '../../../operator/controllers/vault/settings.js';
import { registerServiceAccountController } from '../../../operator/controllers/serviceaccount/controller.js';
import { parseServiceAccountSettings } from '../../../operator/controllers/serviceaccount/settings.js';
import { AwsKms } from '../../../operator/kms/aws-kms.js';
import { parseOperatorSettings } from '../../../operator/settings.js';
import { VaultClient } from '../../../operator/vault/client.js';
import { startRecordingProxy, type RecordingProxy } from './recording-proxy.js';
import { LogCapture } from '../../support/log-capture.js';

const env = useTestEnv(test);
const KMS_CREDENTIALS = { accessKeyId: 'test', secretAccessKey: 'test' };
const WAIT = { timeoutMs: 45_000, intervalMs: 300 };

let installNs: string;
let appNs: string;
let admin: KubeConfig;
let proxy: RecordingProxy;
let operator: AutopilotOperator;
let webhookUrl: string;
let firstCertSecret = '';
let kms: AwsKms;
const logs = new LogCapture();
let installed: AppliedInstall;

function custom(): CustomObjectsApi {
  return admin.makeApiClient(CustomObjectsApi);
}

test.before(async () => {
  const e = env();
  admin = e.kubeConfig();
  installNs = await e.namespace('va-install');
  appNs = await e.namespace('va-apps');
  const webhookPort = await freePort();
  webhookUrl = `https://127.0.0.1:${webhookPort}${WEBHOOK_PATH}`;
  installed = await applyInstall(e, installNs, appNs, webhookUrl);
  // CRDs must be served before the operator lists them.
  await eventually(async () => {
    await custom().listNamespacedCustomObject({ group: API_GROUP, version: API_VERSION, plural: 'vaults', namespace: appNs });
    await custom().listNamespacedCustomObject({ group: API_GROUP, version: API_VERSION, plural: 'kmsvaultsecrets', namespace: appNs });
  }, WAIT);

  proxy = await startRecordingProxy(e.apiserverUrl, readFileSync(e.apiserverCaFile, 'utf8'));
  const kubeConfig = await serviceAccountKubeConfig(admin, installNs, proxy.url);
  const logger = createLogger({ stream: logs, level: 'debug' });
  // As main.ts wires it, with the settings the Deployment gives the operator
  // (installEnvironment) plus what differs on loopback: ports, URL, short periods.
  const webhookSettings = parseWebhookSettings({
    ...installEnvironment(defaultInstallSettings(InstallMode.Kubectl, '0.0.0')),
    POD_NAMESPACE: installNs,
    VAULT_AUTOPILOT_NAMESPACE: installNs,
    VAULT_AUTOPILOT_TARGET_VAULT: `${appNs}/vault`,
    VAULT_AUTOPILOT_WEBHOOK_HOST: '127.0.0.1',
    VAULT_AUTOPILOT_WEBHOOK_PORT: String(webhookPort),
    VAULT_AUTOPILOT_WEBHOOK_URL: webhookUrl,
    // a 30 s serving certificate is renewed after 20 s: the rotation happens during this file
    VAULT_AUTOPILOT_WEBHOOK_CERT_VALIDITY_MS: '30000',
    VAULT_AUTOPILOT_WEBHOOK_CERT_CHECK_INTERVAL_MS: '500',
    VAULT_AUTOPILOT_WEBHOOK_ROTATION_PROPAGATION_MS: '1000',
    VAULT_AUTOPILOT_WEBHOOK_CA_SYNC_INTERVAL_MS: '500',
  });
  const webhookServer = createWebhookServer(webhookSettings, makeKubeClients(kubeConfig), logger);
  // leader election as the Deployment turns it on (the Lease in the install namespace: the Role's rule)
  const { leaderElection } = parseOperatorSettings({ ...installEnvironment(defaultInstallSettings(InstallMode.Kubectl, '0.0.0')), POD_NAMESPACE: installNs, POD_NAME: 'vault-autopilot-0' });
  operator = new AutopilotOperator({ kubeConfig, logger, backoff: { baseMs: 200, maxMs: 2000 }, shutdownTimeoutMs: 5000, webhookServer, ...(leaderElection ? { leaderElection: { ...leaderElection, onLost: () => logger.error('test operator lost its lease') } } : {}) });

  kms = new AwsKms({ region: e.kms.region, endpoint: e.kms.endpoint, credentials: KMS_CREDENTIALS, allowedKeyIds: [e.kms.keyId], maxAttempts: 1, requestTimeoutMs: 3000 });
  const vault = new VaultClient({ address: e.vault.address, auth: { method: 'token', token: e.vault.rootToken }, timeoutMs: 3000 });
  await registerKmsVaultSecretController(operator, {
    vault,
    decryptor: kms,
    settings: { ...defaultKmsVaultSecretSettings, syncPeriodMs: 2000, kms: { region: e.kms.region, endpoint: e.kms.endpoint, allowedKeyIds: [e.kms.keyId] } },
  });
  await registerVaultController(operator, {
    // the platform lets the app namespace's Vault keep its CA in the namespaces it admits (caNamespaces)
    settings: { ...parseVaultControllerSettings({ VAULT_AUTOPILOT_KUBERNETES_HOST: e.apiserverUrl, VAULT_AUTOPILOT_CA_COPY_FROM_NAMESPACES: appNs }), sealedRecheckMs: 1000 },
    kms: (region) => new AwsKms({ region: region ?? e.kms.region, endpoint: e.kms.endpoint, credentials: KMS_CREDENTIALS }),
  });
  await registerServiceAccountController(operator, {
    settings: parseServiceAccountSettings({ VAULT_AUTOPILOT_TARGET_VAULT: `${appNs}/vault` }),
  });
  await registerPodWebhook(operator, { settings: webhookSettings });
  await operator.start();
  await eventually(async () => {
    if (!operator.isLeader()) throw new Error('not leader yet');
  }, WAIT);
  await operator.waitForSync();
});

test.after.always(async () => {
  await operator?.stop();
  kms?.destroy();
  await proxy?.close();
  await installed?.remove();
});

test.serial('install.yaml applies to the real apiserver and the operator starts with only its ServiceAccount token', async (t) => {
  const rbac = admin.makeApiClient(RbacAuthorizationV1Api);
  const role = await rbac.readClusterRole({ name: NAME.clusterRole });
  // watching every namespace: the ClusterRole holds the cluster-scoped and the watched-namespace rights
  t.is(role.rules?.length, operatorPermissions({ mode: InstallMode.Kubectl }).filter((p) => p.scope !== 'operator-namespace').length);
  t.true(installed.crdCount >= 3, 'install.yaml carries the CRDs');
  t.true(proxy.requests.some((r) => r.url.includes('/vaults')), 'the operator reached the apiserver through the recording proxy');
});

test.serial('webhook certificates: a Secret in its namespace, the caBundle published into its own configuration', async (t) => {
  const admission = admin.makeApiClient(AdmissionregistrationV1Api);
  await eventually(async () => {
    const config = await admission.readMutatingWebhookConfiguration({ name: NAME.webhookConfiguration });
    if (!config.webhooks?.[0]?.clientConfig.caBundle) throw new Error('no caBundle yet');
  }, WAIT);
  const secret = await admin.makeApiClient(CoreV1Api).readNamespacedSecret({ name: NAME.webhookCertSecret, namespace: installNs });
  t.truthy(secret.data);
  firstCertSecret = JSON.stringify(secret.data);
});

const vaultSample = (): KubernetesObject & { spec: Record<string, unknown> } => {
  const doc = sampleOf<KubernetesObject & { spec: Record<string, unknown> }>('samples/vault-managed.yaml', 'Vault');
  // deleteUnsealKeysOnDelete: the finalizer also removes the unseal-keys Secret.
  // ingress (Bank-Vaults field): the operator creates an Ingress, and deletes it when the field goes
  const ingress = { spec: { rules: [{ host: 'vault.example.test', http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'vault', port: { number: 8200 } } } }] } }] } };
  // serviceMonitorEnabled (Bank-Vaults field): a ServiceMonitor where its CRD exists, deleted when set to false
  // caNamespaces "*" (list namespaces; copies only where selfService admits) and watchedSecretsLabels (list the namespace's Secrets)
  // serviceRegistrationEnabled: a RoleBinding to the ClusterRole install.yaml ships (bind), deleted when switched off
  const bankVaults = { caNamespaces: ['*'], watchedSecretsLabels: [{ 'vault.example/restart': 'on-change' }], serviceRegistrationEnabled: true };
  return { ...doc, metadata: { name: 'vault', namespace: appNs }, spec: { ...doc.spec, deleteUnsealKeysOnDelete: true, ingress, serviceMonitorEnabled: true, ...bankVaults } };
};

test.serial('Vault (managed): the StatefulSet, Services, Secrets, PDB and auth-delegator binding are created', async (t) => {
  await env().applyCrds('test/integration/vault/fixtures/servicemonitor-crd.yaml');
  await custom().createNamespacedCustomObject({ group: API_GROUP, version: API_VERSION, namespace: appNs, plural: 'vaults', body: vaultSample() });
  const rbac = admin.makeApiClient(RbacAuthorizationV1Api);
  const delegator = await eventually(async () => {
    // each read throws (404) until the object is there: no ava assertion in here, a retry would still record its failure
    await admin.makeApiClient(KubernetesObjectApi).read({ apiVersion: 'apps/v1', kind: 'StatefulSet', metadata: { name: 'vault', namespace: appNs } });
    const bindings = await rbac.listClusterRoleBinding();
    const binding = bindings.items.find((b) => b.roleRef.name === 'system:auth-delegator' && b.subjects?.some((s) => s.namespace === appNs));
    if (!binding) throw new Error('no auth-delegator binding yet');
    await admin.makeApiClient(KubernetesObjectApi).read({ apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', metadata: { name: 'vault', namespace: appNs } });
    await admin.makeApiClient(KubernetesObjectApi).read({ apiVersion: 'monitoring.coreos.com/v1', kind: 'ServiceMonitor', metadata: { name: 'vault', namespace: appNs } });
    await rbac.readNamespacedRoleBinding({ name: 'vault-service-registration', namespace: appNs });
    return binding;
  }, WAIT);
  t.deepEqual(
    delegator.subjects!.filter((s) => s.namespace === appNs).map((s) => s.kind),
    ['ServiceAccount'],
    'TokenReviews for the Vault pods\' ServiceAccount only',
  );
  // spec.ingress unset, serviceMonitorEnabled and serviceRegistrationEnabled false: all three go
  await custom().patchNamespacedCustomObject(
    { group: API_GROUP, version: API_VERSION, namespace: appNs, plural: 'vaults', name: 'vault', body: { spec: { ingress: null, serviceMonitorEnabled: false, serviceRegistrationEnabled: false } } },
    setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
  );
  await eventually(async () => {
    const list = await admin.makeApiClient(KubernetesObjectApi).list('networking.k8s.io/v1', 'Ingress', appNs);
    if (list.items.length) throw new Error('Ingress still there');
    const monitors = await admin.makeApiClient(KubernetesObjectApi).list('monitoring.coreos.com/v1', 'ServiceMonitor', appNs);
    if (monitors.items.length) throw new Error('ServiceMonitor still there');
    if ((await rbac.listNamespacedRoleBinding({ namespace: appNs })).items.some((b) => b.metadata!.name === 'vault-service-registration')) throw new Error('RoleBinding still there');
  }, WAIT);  // leave the shared apiserver without the Prometheus Operator CRD, as other files expect
  await admin.makeApiClient(ApiextensionsV1Api).deleteCustomResourceDefinition({ name: 'servicemonitors.monitoring.coreos.com' });
});

test.serial('a pod asking for an agent is mutated through the apiserver, and the Vault CA ConfigMap follows the Vault', async (t) => {
  const core = admin.makeApiClient(CoreV1Api);
  const vaultRef = { namespace: appNs, name: 'vault' };
  const pod = await core.createNamespacedPod({
    namespace: appNs,
    body: {
      metadata: { name: 'app', annotations: { 'vault.autopilot.dev/agent-inject': 'true', 'vault.autopilot.dev/agent-inject-secret-config': 'apps/data/app', 'vault.autopilot.dev/role': 'app', 'vault.autopilot.dev/inject-env': 'app' } },
      spec: { containers: [{ name: 'app', image: 'busybox:1.36', command: ['sleep', '3600'] }] },
    },
  });
  const names = [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])].map((c) => c.name);
  t.true(names.length > 1, `the webhook added the agent: ${names.join(', ')}`);
  const caName = caConfigMapName(vaultRef);
  const caOf = async () => (await core.readNamespacedConfigMap({ name: caName, namespace: appNs })).data?.['ca.crt'] ?? '';
  t.regex(await caOf(), /BEGIN CERTIFICATE/);
  // A ConfigMap whose CA drifted from its Vault's is put back by the periodic sync.
  await core.patchNamespacedConfigMap({ name: caName, namespace: appNs, body: { data: { 'ca.crt': 'stale' } } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch));
  await eventually(async () => {
    if (!(await caOf()).includes('BEGIN CERTIFICATE')) throw new Error('not synced back yet');
  }, WAIT);
});

test.serial('ServiceAccount auto-configure: the role lands in the Vault resource, and leaves with the ServiceAccount', async (t) => {
  const core = admin.makeApiClient(CoreV1Api);
  await core.createNamespacedServiceAccount({
    namespace: appNs,
    body: { metadata: { name: 'orders', annotations: { 'vault.autopilot.dev/auto-configure': 'true', 'vault.autopilot.dev/vault': `${appNs}/vault` } } },
  });
  const mentionsOrders = async () => (await vaultRoleNames(custom(), appNs)).includes(`sa.${appNs}.orders`);
  await eventually(async () => {
    if (!(await mentionsOrders())) throw new Error('role not written yet');
  }, WAIT).catch((err) => {
    t.log(logs.lines.filter((l) => l.includes('orders') || l.includes('ServiceAccount')).slice(-15).join(''));
    throw err;
  });
  await core.deleteNamespacedServiceAccount({ name: 'orders', namespace: appNs });
  await eventually(async () => {
    if (await mentionsOrders()) throw new Error('role still there');
  }, WAIT);
  t.pass();
});

test.serial('a hand-written role in the way: the Warning repeats and is aggregated into one Event', async (t) => {
  const role = `sa.${appNs}.squatter`;
  await custom().createNamespacedCustomObject({ group: API_GROUP, version: API_VERSION, namespace: appNs, plural: 'vaults', body: {
    apiVersion: `${API_GROUP}/${API_VERSION}`, kind: 'Vault', metadata: { name: 'squat' },
    spec: { external: { address: 'http://127.0.0.1:1' }, externalConfig: { auth: [{ path: 'kubernetes', type: 'kubernetes', roles: [{ name: role, token_ttl: 1 }] }] } },
  } });
  const core = admin.makeApiClient(CoreV1Api);
  await core.createNamespacedServiceAccount({
    namespace: appNs,
    body: { metadata: { name: 'squatter', annotations: { 'vault.autopilot.dev/auto-configure': 'true', 'vault.autopilot.dev/vault': `${appNs}/squat` } } },
  });
  await eventually(async () => {
    const events = await core.listNamespacedEvent({ namespace: appNs, fieldSelector: 'involvedObject.name=squatter' });
    if (!events.items.some((e) => e.type === 'Warning' && (e.count ?? 0) >= 2)) throw new Error('no repeated Warning yet');
  }, WAIT);
  await core.deleteNamespacedServiceAccount({ name: 'squatter', namespace: appNs });
  await custom().deleteNamespacedCustomObject({ group: API_GROUP, version: API_VERSION, namespace: appNs, plural: 'vaults', name: 'squat' });
  await eventually(async () => {
    const list = (await custom().listNamespacedCustomObject({ group: API_GROUP, version: API_VERSION, namespace: appNs, plural: 'vaults' })) as { items: { metadata: { name: string } }[] };
    if (list.items.some((v) => v.metadata.name === 'squat')) throw new Error('Vault squat still there');
    const sas = await core.listNamespacedServiceAccount({ namespace: appNs });
    if (sas.items.some((sa) => sa.metadata?.name === 'squatter')) throw new Error('ServiceAccount still there (finalizer)');
  }, WAIT);
  t.pass();
});

test.serial('KMSVaultSecret + PartialKMSVaultSecret: decrypted into Vault, then removed on delete', async (t) => {
  const e = env();
  const mount = await e.vaultMount('kv-v2');
  const secretContext = { [NAMESPACE_CONTEXT_KEY]: appNs }; // as `seal --namespace` binds it
  const seal = async (value: string) => {
    const out = await kms.encrypt({ keyId: e.kms.keyId, plaintext: Buffer.from(value), context: secretContext });
    return Buffer.from(out.ciphertext).toString('base64');
  };
  const api = custom();
  await api.createNamespacedCustomObject({ group: API_GROUP, version: API_VERSION, namespace: appNs, plural: 'partialkmsvaultsecrets', body: {
    apiVersion: `${API_GROUP}/${API_VERSION}`, kind: 'PartialKMSVaultSecret', metadata: { name: 'shared' },
    spec: { secretContext, secrets: [{ key: 'shared', encryptedSecret: await seal('s1') }] },
  } });
  await api.createNamespacedCustomObject({ group: API_GROUP, version: API_VERSION, namespace: appNs, plural: 'kmsvaultsecrets', body: {
    apiVersion: `${API_GROUP}/${API_VERSION}`, kind: 'KMSVaultSecret', metadata: { name: 'app' },
    spec: { path: `${mount}/${appNs}/app`, kvSettings: { engineVersion: 'v2' }, secretContext, secrets: [{ key: 'password', encryptedSecret: await seal('p1') }], includeSecrets: ['shared'] },
  } });
  const ready = async () => {
    const obj = (await api.getNamespacedCustomObject({ group: API_GROUP, version: API_VERSION, namespace: appNs, plural: 'kmsvaultsecrets', name: 'app' })) as { status?: { conditions?: { type: string; status: string; message?: string }[] } };
    const c = obj.status?.conditions?.find((x) => x.type === 'Ready');
    if (c?.status !== 'True') throw new Error(`not Ready: ${c?.message ?? 'no condition'}`);
  };
  await eventually(ready, WAIT);
  await api.deleteNamespacedCustomObject({ group: API_GROUP, version: API_VERSION, namespace: appNs, plural: 'kmsvaultsecrets', name: 'app' });
  await api.deleteNamespacedCustomObject({ group: API_GROUP, version: API_VERSION, namespace: appNs, plural: 'partialkmsvaultsecrets', name: 'shared' });
  await eventually(async () => {
    const list = (await api.listNamespacedCustomObject({ group: API_GROUP, version: API_VERSION, namespace: appNs, plural: 'kmsvaultsecrets' })) as { items: unknown[] };
    if (list.items.length) throw new Error('KMSVaultSecret still there (finalizer)');
  }, WAIT);
  t.pass();
});

test.serial('Vault deletion: cleanup runs (binding, unseal keys) and the finalizer goes', async (t) => {
  // As if the Vault had been initialised: deleteUnsealKeysOnDelete removes this Secret.
  const core = admin.makeApiClient(CoreV1Api);
  await core.createNamespacedSecret({ namespace: appNs, body: { metadata: { name: 'vault-unseal-keys' }, stringData: { placeholder: 'not-a-key' } } });
  await custom().deleteNamespacedCustomObject({ group: API_GROUP, version: API_VERSION, namespace: appNs, plural: 'vaults', name: 'vault' });
  const rbac = admin.makeApiClient(RbacAuthorizationV1Api);
  await eventually(async () => {
    const list = (await custom().listNamespacedCustomObject({ group: API_GROUP, version: API_VERSION, namespace: appNs, plural: 'vaults' })) as { items: unknown[] };
    if (list.items.length) throw new Error('Vault still there (finalizer)');
    const bindings = await rbac.listClusterRoleBinding();
    if (bindings.items.some((b) => b.roleRef.name === 'system:auth-delegator' && b.subjects?.some((s) => s.namespace === appNs))) throw new Error('binding not removed');
  }, WAIT);
  const secrets = await core.listNamespacedSecret({ namespace: appNs });
  t.false(secrets.items.some((s) => s.metadata?.name === 'vault-unseal-keys'));
});

test.serial('the self-managed serving certificate is renewed (30 s validity in this test)', async (t) => {
  const core = admin.makeApiClient(CoreV1Api);
  await eventually(async () => {
    const secret = await core.readNamespacedSecret({ name: NAME.webhookCertSecret, namespace: installNs });
    if (JSON.stringify(secret.data) === firstCertSecret) throw new Error('not renewed yet');
  }, { timeoutMs: 60_000, intervalMs: 1000 });
  t.pass();
});

test.serial('least privilege: no request was forbidden and every permission verb was used', (t) => {
  const findings = analyseRequests(proxy.requests, installNs);
  t.log(`${findings.requests} requests; per permission verb:\n  ${findings.usage.join('\n  ')}`);
  t.deepEqual(findings.forbidden, [], 'requests the ServiceAccount was not allowed to make (missing permissions)');
  t.deepEqual(findings.unparsed, [], 'requests the analysis could not map to a permission (a 403 there would go unseen)');
  t.deepEqual(findings.uncovered, [], 'requests no permission in rbac.ts explains');
  t.deepEqual(findings.unused, [], 'permission verbs no lifecycle used (superfluous)');
});
