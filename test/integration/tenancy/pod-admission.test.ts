// Issue 11 item 5 (and the KMSVaultSecret side of item 3), acted out by a
// tenant: a real user holding `edit` in namespace A only (impersonation through
// the apiserver's RBAC) creates pods through the REAL kube-apiserver, which
// calls the operator's webhook. Pods naming a Vault that does not serve A, or
// an external Vault the operator does not trust, are refused with a message
// that says what to change; a same-named ConfigMap the operator did not make is
// never replaced; a KMSVaultSecret naming a Vault that does not serve A writes
// nothing. After each attempt nothing outside A (Kubernetes objects of every
// other namespace, cluster-scoped objects, Vault's auth, policies, mounts and
// secrets) has changed.
import { randomBytes } from 'node:crypto';
import test from 'ava';
import type { V1ConfigMap, V1Pod } from '@kubernetes/client-node';
import { KmsVaultSecretReason, KMS_VAULT_SECRET_PLURAL, NAMESPACE_CONTEXT_KEY, type KMSVaultSecret } from '../../../operator/api/kmsvaultsecret.js';
import { API_GROUP, API_GROUP_VERSION, API_VERSION } from '../../../operator/api/naming.js';
import { VAULT_PLURAL } from '../../../operator/api/vault.js';
import { registerKmsVaultSecretController } from '../../../operator/controllers/kmsvaultsecret/controller.js';
import { defaultKmsVaultSecretSettings } from '../../../operator/controllers/kmsvaultsecret/settings.js';
import { VaultTargets } from '../../../operator/controllers/kmsvaultsecret/vault-target.js';
import { AutopilotOperator, createLogger } from '../../../operator/framework/index.js';
import { makeKubeClients, resourcePath, type KubeClients } from '../../../operator/framework/kube.js';
import { createCertificateAuthority } from '../../../operator/framework/webhook-certs.js';
import { AwsKms } from '../../../operator/kms/aws-kms.js';
import { CA_CONFIGMAP, caConfigMapName } from '../../../operator/webhook/ca-configmap.js';
import { eventually } from '../../harness/index.js';
import { createTenant, describeChanges, diffSnapshots, refusal, snapshotOutside, useTenantEnv, type Snapshot, type Tenant } from '../../support/tenant.js';
import { CRD_FILES, KMS_CREDENTIALS, LogCapture, sealValue } from '../kmsvaultsecret/helpers.js';
import { createVaultFixture, INJECTION_LABEL, startPodWebhook, type RunningWebhook, type VaultFixture } from '../webhook/helpers/fixture.js';

const { env } = useTenantEnv(test);
const runId = randomBytes(4).toString('hex');
let tenant: Tenant;
let admin: KubeClients;
let platform: VaultFixture; // B/vault: serves namespaces carrying the webhook's injection label (A does)
let webhook: RunningWebhook;
let kmsOperator: AutopilotOperator;
let kms: AwsKms;
const A = () => tenant.namespace;
const B = () => platform.namespace;

const vaultPath = (ns: string, name?: string) => resourcePath(API_GROUP, API_VERSION, VAULT_PLURAL, ns, name);

/** A managed-mode Vault of the platform in B with its TLS Secret (only the CR and its CA matter to the webhook). */
async function platformVault(name: string, selfService?: object): Promise<void> {
  await admin.raw.request({
    method: 'POST',
    path: vaultPath(B()),
    body: { apiVersion: API_GROUP_VERSION, kind: 'Vault', metadata: { name, namespace: B() }, spec: { size: 1, ...(selfService ? { selfService } : {}) } },
  });
  const now = Date.now();
  const ca = createCertificateAuthority({ commonName: `${name} ca`, notBefore: new Date(now - 60_000), notAfter: new Date(now + 86_400_000) });
  await admin.core.createNamespacedSecret({ namespace: B(), body: { metadata: { name: `${name}-tls` }, data: { 'ca.crt': Buffer.from(ca.cert).toString('base64') } } });
}

function injectedPod(name: string, vault?: string): V1Pod {
  return {
    metadata: {
      name,
      annotations: {
        'vault.autopilot.dev/agent-inject': 'true',
        'vault.autopilot.dev/agent-inject-secret-config': `secret/data/${name}`,
        'vault.autopilot.dev/role': 'app',
        ...(vault ? { 'vault.autopilot.dev/vault': vault } : {}),
      },
    },
    spec: { terminationGracePeriodSeconds: 0, containers: [{ name: 'app', image: 'busybox:1.36', command: ['sleep', '3600'] }] },
  };
}

const createPod = (pod: V1Pod, dryRun = false) => tenant.kube.core.createNamespacedPod({ namespace: A(), body: pod, ...(dryRun ? { dryRun: 'All' } : {}) });
const podNames = async () => (await admin.core.listNamespacedPod({ namespace: A() })).items.map((p) => p.metadata!.name!).sort();
const caConfigMapsInA = async () => (await admin.core.listNamespacedConfigMap({ namespace: A() })).items.filter((c) => c.metadata?.name?.startsWith('vault-ca.')).map((c) => c.metadata!.name!).sort();

async function assertNothingOutsideA(t: { deepEqual(a: unknown, b: unknown, m?: string): void }, before: Snapshot): Promise<void> {
  const changes = diffSnapshots(before, await snapshotOutside(env(), A()));
  t.deepEqual(changes, [], describeChanges(changes));
}

test.before(async () => {
  const e = env();
  await e.applyCrds('crds/vault.yaml', ...CRD_FILES);
  admin = makeKubeClients(e.kubeConfig());
  // A carries the webhook's selector label (the platform opted it in) and a team label a Vault selector may match
  tenant = await createTenant(e, { prefix: 'pod-a', labels: { [INJECTION_LABEL]: runId, team: 'a' } });
  platform = await createVaultFixture(e, 'platform-b');
  await platformVault('private'); // serves B only (the default)
  await platformVault('team-b', { namespaces: { from: 'Selector', selector: { matchLabels: { team: 'b' } } } });
  const operatorNs = await e.namespace('pod-operator');
  webhook = await startPodWebhook(e, { vault: platform, runId, operatorNamespace: operatorNs });

  // the KMSVaultSecret lifecycle writing through Vault resources, as main.ts wires it without VAULT_AUTOPILOT_VAULT_ADDR
  kms = new AwsKms({ region: e.kms.region, endpoint: e.kms.endpoint, credentials: KMS_CREDENTIALS, maxAttempts: 1 });
  kmsOperator = new AutopilotOperator({ kubeConfig: e.kubeConfig(), logger: createLogger({ stream: new LogCapture(), level: 'debug' }), shutdownTimeoutMs: 5000 });
  await registerKmsVaultSecretController(kmsOperator, {
    targets: new VaultTargets({ operatorJwt: async () => 'never-sent' }),
    decryptor: kms,
    settings: { ...defaultKmsVaultSecretSettings, defaultVault: { namespace: B(), name: 'private' }, kms: { allowedKeyIds: [] } },
  });
  await kmsOperator.start();
  await kmsOperator.waitForSync();
});

test.after.always(async () => {
  await kmsOperator?.stop();
  kms?.destroy();
  await webhook?.stop();
});

test.serial('a pod naming a Vault that serves only its own namespace is refused with what to change; nothing is stored, nothing outside A changes', async (t) => {
  const before = await snapshotOutside(env(), A());
  const denied = await refusal(createPod(injectedPod('app', `${B()}/private`)));
  t.is(denied?.code, 400);
  t.regex(
    denied?.message ?? '',
    new RegExp(
      `denied the request: vault\\.autopilot\\.dev/vault: Vault ${B()}/private does not serve namespace ${A()}: it admits only its own namespace \\(spec\\.selfService\\.namespaces\\.from: Same, the default\\)\\. ` +
        `The pod was refused: the Vault named by vault\\.autopilot\\.dev/vault must admit namespace ${A()} first`,
    ),
  );
  // the same as a dry run (kubectl apply --dry-run=server): refused, not "would be mutated"
  const dry = await refusal(createPod(injectedPod('app', `${B()}/private`), true));
  t.regex(dry?.message ?? '', /does not serve namespace/);
  // an env-only pod (no agent) asks for the same Vault: refused too
  const envOnly = injectedPod('env-only', `${B()}/private`);
  envOnly.metadata!.annotations = { 'vault.autopilot.dev/inject-env': 'app', 'vault.autopilot.dev/vault': `${B()}/private` };
  t.regex((await refusal(createPod(envOnly)))?.message ?? '', /does not serve namespace/);
  t.deepEqual(await podNames(), []);
  t.deepEqual(await caConfigMapsInA(), [], 'no CA ConfigMap of that Vault in A');
  await assertNothingOutsideA(t, before);
});

test.serial('a Vault whose selector does not match A refuses; A cannot relabel itself; once the platform widens the selector the pod is mutated', async (t) => {
  const before = await snapshotOutside(env(), A());
  const denied = await refusal(createPod(injectedPod('app', `${B()}/team-b`)));
  t.regex(denied?.message ?? '', new RegExp(`Vault ${B()}/team-b does not serve namespace ${A()}: its spec\\.selfService\\.namespaces\\.selector does not match this namespace`));
  // the labels a selector matches are the platform's: namespaces are cluster-scoped, `edit` in A cannot change them
  const relabel = await refusal(tenant.kube.raw.request({ method: 'PATCH', path: `/api/v1/namespaces/${A()}`, body: { metadata: { labels: { team: 'b' } } }, contentType: 'application/merge-patch+json' }));
  t.is(relabel?.code, 403);
  // nor can A edit B's Vault
  const widen = await refusal(tenant.kube.raw.request({ method: 'PATCH', path: vaultPath(B(), 'team-b'), body: { spec: { selfService: { namespaces: { from: 'All' } } } }, contentType: 'application/merge-patch+json' }));
  t.is(widen?.code, 403);
  t.deepEqual(await podNames(), []);
  await assertNothingOutsideA(t, before);

  // the platform admits team a as well
  await admin.raw.request({
    method: 'PATCH',
    path: vaultPath(B(), 'team-b'),
    body: { spec: { selfService: { namespaces: { from: 'Selector', selector: { matchLabels: null, matchExpressions: [{ key: 'team', operator: 'In', values: ['a', 'b'] }] } } } } },
    contentType: 'application/merge-patch+json',
  });
  const afterWiden = await snapshotOutside(env(), A());
  // the webhook remembers a Vault for its cache TTL (1 s in this fixture): the new rule counts once that passed
  const pod = await eventually(() => createPod(injectedPod('app', `${B()}/team-b`)), { timeoutMs: 30_000, intervalMs: 200 });
  t.true((pod.spec?.initContainers ?? []).length > 0, 'the agent was injected');
  t.deepEqual(await caConfigMapsInA(), [caConfigMapName({ namespace: B(), name: 'team-b' })]);
  await assertNothingOutsideA(t, afterWiden);
});

test.serial("the tenant's own external Vault at an address the operator does not trust: refused, nothing of it injected", async (t) => {
  const before = await snapshotOutside(env(), A());
  const ca = createCertificateAuthority({ commonName: 'attacker', notBefore: new Date(Date.now() - 60_000), notAfter: new Date(Date.now() + 86_400_000) });
  // `edit` in A includes Vault resources (OLM's aggregated roles): the tenant makes one pointing wherever they like
  for (const [name, address] of [['ext', 'https://vault.attacker.example.test:8200'], ['plain', 'http://vault.attacker.example.test:8200']] as const) {
    await tenant.kube.raw.request({
      method: 'POST',
      path: vaultPath(A()),
      body: { apiVersion: API_GROUP_VERSION, kind: 'Vault', metadata: { name, namespace: A() }, spec: { external: { address, caCert: ca.cert } } },
    });
  }
  const https = await refusal(createPod(injectedPod('app', 'ext'))); // a bare name: the Vault in the pod's own namespace
  t.regex(
    https?.message ?? '',
    new RegExp(`vault\\.autopilot\\.dev/vault: Vault ${A()}/ext \\(ExternalAddressNotAllowed\\): spec\\.external\\.address https://vault\\.attacker\\.example\\.test:8200 is not an external Vault the operator may send credentials to .*The pod was refused: the webhook points pods only at external Vaults the operator trusts\\.`),
  );
  const http = await refusal(createPod(injectedPod('app', 'plain')));
  t.regex(http?.message ?? '', new RegExp(`Vault ${A()}/plain \\(InsecureAddress\\): spec\\.external\\.address http://vault\\.attacker\\.example\\.test:8200 is plain http`));
  t.deepEqual(await podNames(), ['app'], 'only the pod admitted earlier');
  t.deepEqual(await caConfigMapsInA(), [caConfigMapName({ namespace: B(), name: 'team-b' })], 'no ConfigMap with the attacker CA');
  await assertNothingOutsideA(t, before);
});

test.serial('a same-named ConfigMap the operator did not make is never replaced: the pod is refused until its owner removes it', async (t) => {
  const before = await snapshotOutside(env(), A());
  const name = caConfigMapName({ namespace: B(), name: platform.name });
  const theirs = await tenant.kube.core.createNamespacedConfigMap({ namespace: A(), body: { metadata: { name }, data: { 'ca.crt': 'not a CA', 'app.conf': 'keep me' } } });
  const denied = await refusal(createPod(injectedPod('uses-b', `${B()}/${platform.name}`)));
  t.regex(
    denied?.message ?? '',
    new RegExp(`denied the request: ConfigMap ${A()}/${name.replaceAll('.', '\\.')} exists but was not made by vault-autopilot for Vault ${B()}/${platform.name} .*Rename or delete that ConfigMap, then create the pod again\\.`),
  );
  // a server-side dry run says the same (it looks at the ConfigMap, writes nothing)
  t.regex((await refusal(createPod(injectedPod('uses-b', `${B()}/${platform.name}`), true)))?.message ?? '', /exists but was not made by vault-autopilot/);
  // also with our label but no source annotation (a label alone proves nothing)
  await tenant.kube.raw.request({ method: 'PATCH', path: resourcePath('', 'v1', 'configmaps', A(), name), body: { metadata: { labels: { [CA_CONFIGMAP.label]: 'true' } } }, contentType: 'application/merge-patch+json' });
  t.regex((await refusal(createPod(injectedPod('uses-b', `${B()}/${platform.name}`))))?.message ?? '', /exists but was not made by vault-autopilot/);
  const still = await admin.core.readNamespacedConfigMap({ name, namespace: A() });
  t.deepEqual(still.data, theirs.data, 'their data untouched');
  t.deepEqual(await podNames(), ['app']);

  // its owner removes it: the operator's own is created and the pod admitted
  await tenant.kube.core.deleteNamespacedConfigMap({ name, namespace: A() });
  const pod = await createPod(injectedPod('uses-b', `${B()}/${platform.name}`));
  t.true((pod.spec?.initContainers ?? []).length > 0);
  const ours = await admin.core.readNamespacedConfigMap({ name, namespace: A() });
  t.is(ours.data?.['ca.crt'], platform.caPem);
  t.is(ours.metadata?.annotations?.[CA_CONFIGMAP.sourceAnnotation], `${B()}/${platform.name}`);
  await assertNothingOutsideA(t, before);
});

test.serial("a hand-made 'operator' ConfigMap naming a Vault that does not serve A gets nothing from the CA sync", async (t) => {
  const before = await snapshotOutside(env(), A());
  const name = caConfigMapName({ namespace: B(), name: 'private' });
  const forged: V1ConfigMap = {
    metadata: { name, labels: { [CA_CONFIGMAP.label]: 'true', 'app.kubernetes.io/managed-by': 'vault-autopilot' }, annotations: { [CA_CONFIGMAP.sourceAnnotation]: `${B()}/private` } },
    data: { 'ca.crt': 'stale' },
  };
  await tenant.kube.core.createNamespacedConfigMap({ namespace: A(), body: forged });
  const result = await webhook.pod.caConfigMaps.syncAll();
  t.true(result.refused >= 1, JSON.stringify(result));
  t.is((await admin.core.readNamespacedConfigMap({ name, namespace: A() })).data?.['ca.crt'], 'stale', "B/private's CA was not copied into A");
  // the ConfigMaps of Vaults that serve A are still kept current by the same sync
  t.is((await admin.core.readNamespacedConfigMap({ name: caConfigMapName({ namespace: B(), name: platform.name }), namespace: A() })).data?.['ca.crt'], platform.caPem);
  await assertNothingOutsideA(t, before);
});

test.serial('a KMSVaultSecret naming a Vault that does not serve A: condition SelfServiceRefused, nothing written; admitted, it moves on', async (t) => {
  const before = await snapshotOutside(env(), A());
  const secretContext = { [NAMESPACE_CONTEXT_KEY]: A() };
  const body = (name: string, vaultRef?: object) => ({
    apiVersion: API_GROUP_VERSION,
    kind: 'KMSVaultSecret',
    metadata: { name, namespace: A() },
    spec: { path: `secret/${A()}/${name}`, kvSettings: { engineVersion: 'v2' }, secretContext, secrets: [{ key: 'password', encryptedSecret: '' }], ...(vaultRef ? { vaultRef } : {}) },
  });
  const plaintext = `pw-${randomBytes(6).toString('hex')}`;
  const sealed = await sealValue(env(), plaintext, secretContext);
  const kmsPath = resourcePath(API_GROUP, API_VERSION, KMS_VAULT_SECRET_PLURAL, A());
  for (const [name, ref] of [['by-ref', { name: 'private', namespace: B() }], ['by-default', undefined]] as const) {
    const obj = body(name, ref);
    obj.spec.secrets[0]!.encryptedSecret = sealed;
    await tenant.kube.raw.request({ method: 'POST', path: kmsPath, body: obj });
  }
  const readyOf = async (name: string) => {
    const obj = await tenant.kube.raw.request<KMSVaultSecret>({ method: 'GET', path: `${kmsPath}/${name}` });
    return obj.status?.conditions?.find((c) => c.type === 'Ready');
  };
  for (const name of ['by-ref', 'by-default']) {
    const ready = await eventually(async () => {
      const c = await readyOf(name);
      if (c?.reason !== KmsVaultSecretReason.SelfServiceRefused) throw new Error(`${name}: ${JSON.stringify(c)}`);
      return c;
    }, { timeoutMs: 30_000, intervalMs: 200 });
    t.is(ready.status, 'False');
    t.regex(ready.message ?? '', new RegExp(`^Vault ${B()}/private does not serve namespace ${A()}: it admits only its own namespace .*Nothing was written: .*point spec\\.vaultRef at a Vault that serves it; will retry$`));
    t.notRegex(ready.message ?? '', /not Ready|no status yet/, "nothing else about B's Vault is told");
  }
  const events = JSON.stringify((await tenant.kube.core.listNamespacedEvent({ namespace: A() })).items.filter((e) => e.reason === KmsVaultSecretReason.SelfServiceRefused));
  t.regex(events, /does not serve namespace/, 'a Warning Event says the same');
  t.false(events.includes(plaintext));
  await assertNothingOutsideA(t, before);

  // the platform admits A: the objects (waiting for that Vault, re-checked every 10 s, at once when it is usable) meet its next check
  await admin.raw.request({
    method: 'PATCH',
    path: vaultPath(B(), 'private'),
    body: { spec: { selfService: { namespaces: { from: 'Selector', selector: { matchLabels: { team: 'a' } } } } } },
    contentType: 'application/merge-patch+json',
  });
  for (const name of ['by-ref', 'by-default']) {
    const next = await eventually(async () => {
      const c = await readyOf(name);
      if (c?.reason === KmsVaultSecretReason.SelfServiceRefused) throw new Error(`${name}: still refused`);
      return c;
    }, { timeoutMs: 30_000, intervalMs: 200 });
    t.is(next?.reason, KmsVaultSecretReason.VaultNotReady, `${name}: past the namespace gate, waiting for the (controller-less) Vault: ${next?.message}`);
  }
});

test.serial("another team's committed ciphertext copied into A (context and all), or ciphertext sealed without a namespace: NamespaceMismatch before any KMS or Vault call", async (t) => {
  const before = await snapshotOutside(env(), A());
  const other = `team-c-${randomBytes(3).toString('hex')}`;
  const theirContext = { [NAMESPACE_CONTEXT_KEY]: other, app: 'orders' };
  const theirs = await sealValue(env(), `pw-${randomBytes(6).toString('hex')}`, theirContext);
  const unbound = await sealValue(env(), `pw-${randomBytes(6).toString('hex')}`, { app: 'orders' });
  const kmsPath = resourcePath(API_GROUP, API_VERSION, KMS_VAULT_SECRET_PLURAL, A());
  const submit = (name: string, secretContext: Record<string, string>, key: string, encryptedSecret: string) =>
    tenant.kube.raw.request({
      method: 'POST',
      path: kmsPath,
      body: { apiVersion: API_GROUP_VERSION, kind: 'KMSVaultSecret', metadata: { name, namespace: A() }, spec: { path: `secret/${A()}/${name}`, kvSettings: { engineVersion: 'v2' }, secretContext, secrets: [{ key, encryptedSecret }] } },
    });
  await submit('copied', theirContext, 'stolen', theirs);
  await submit('unbound', { app: 'orders' }, 'legacy', unbound);
  const reasonOf = (name: string) =>
    eventually(async () => {
      const obj = await tenant.kube.raw.request<KMSVaultSecret>({ method: 'GET', path: `${kmsPath}/${name}` });
      const c = obj.status?.conditions?.find((x) => x.type === 'Ready');
      if (c?.reason !== KmsVaultSecretReason.NamespaceMismatch) throw new Error(`${name}: ${JSON.stringify(c)}`);
      return c;
    }, { timeoutMs: 30_000, intervalMs: 200 });
  t.regex((await reasonOf('copied')).message ?? '', new RegExp(`"stolen" \\(spec\\.secrets\\) was sealed for namespace "${other}", not "${A()}": ciphertext is only used in the namespace it was sealed for; seal again with vault-autopilot seal --namespace ${A()}`));
  t.regex((await reasonOf('unbound')).message ?? '', /"legacy" \(spec\.secrets\) has no vault\.autopilot\.dev\/namespace in the encryption context \(sealed before namespace binding\)/);
  await assertNothingOutsideA(t, before);
});

test.serial('the default Vault (a pod without the vault annotation) follows the same rule: once it stops serving A, pods are refused and its CA is no longer synced into A', async (t) => {
  await admin.raw.request({
    method: 'PATCH',
    path: vaultPath(B(), platform.name),
    body: { spec: { selfService: null } },
    contentType: 'application/merge-patch+json',
  });
  const before = await snapshotOutside(env(), A());
  // the webhook remembers the Vault for its cache TTL (1 s here): the narrowed rule counts once that passed
  const denied = await eventually(async () => {
    const r = await refusal(createPod(injectedPod('by-default')));
    if (!r) throw new Error('still admitted');
    return r;
  }, { timeoutMs: 30_000, intervalMs: 200 });
  t.regex(
    denied.message,
    new RegExp(`Vault ${B()}/${platform.name} does not serve namespace ${A()}: it admits only its own namespace .*the operator's default Vault \\(the pod has no vault\\.autopilot\\.dev/vault annotation\\) must admit namespace ${A()} first`),
  );
  t.false((await podNames()).includes('by-default'));
  const result = await webhook.pod.caConfigMaps.syncAll();
  t.is(result.refused, 1, `B/${platform.name}'s copy in A is left alone (B/private serves A since the KMSVaultSecret test): ${JSON.stringify(result)}`);
  await assertNothingOutsideA(t, before);
});
