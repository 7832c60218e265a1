// The real kube-apiserver calls the pod webhook over TLS (self-managed
// certificate, caBundle published by the operator) for pods created in it.
import test from 'ava';
import * as https from 'node:https';
import { randomBytes } from 'node:crypto';
import { CoreV1Api, AdmissionregistrationV1Api, type V1Container, type V1Pod } from '@kubernetes/client-node';
import { useTestEnv, eventually, WITHIN } from '../../harness/index.js';
import type { AdmissionReview } from '../../../operator/framework/admission.js';
import type { AgentConfig } from '../../../operator/webhook/agent-config.js';
import { caConfigMapName } from '../../../operator/webhook/ca-configmap.js';
import { createVaultFixture, injectedNamespace, startPodWebhook, type RunningWebhook, type VaultFixture } from './helpers/fixture.js';

const env = useTestEnv(test, { vault: false, kms: false });
const runId = randomBytes(4).toString('hex');
const P = 'vault.autopilot.dev/';

let vault: VaultFixture;
let webhook: RunningWebhook;
let appNs: string;
let plainNs: string;
let core: CoreV1Api;

function podSpec(name: string, annotations: Record<string, string> | undefined, containers = ['app', 'other']): V1Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, ...(annotations ? { annotations } : {}) },
    spec: {
      containers: containers.map((c) => ({ name: c, image: 'busybox:1.36', command: ['sleep', '3600'] })),
    },
  };
}

async function create(ns: string, pod: V1Pod, dryRun = false): Promise<V1Pod> {
  return core.createNamespacedPod({ namespace: ns, body: pod, ...(dryRun ? { dryRun: 'All' } : {}) });
}

function errorBody(err: unknown): string {
  const e = err as { body?: unknown; message?: string };
  return typeof e.body === 'string' ? e.body : JSON.stringify(e.body ?? e.message);
}

const byName = (list: V1Container[] | undefined, name: string): V1Container | undefined => list?.find((c) => c.name === name);
const envNames = (c: V1Container | undefined): string[] => (c?.env ?? []).map((e) => e.name);

test.before(async () => {
  const kc = env().kubeConfig();
  core = kc.makeApiClient(CoreV1Api);
  vault = await createVaultFixture(env(), 'wh-vault');
  const operatorNs = await env().namespace('wh-operator');
  appNs = await injectedNamespace(env(), 'wh-app', runId);
  plainNs = await env().namespace('wh-plain'); // not selected by this run's webhook
  webhook = await startPodWebhook(env(), { vault, runId, operatorNamespace: operatorNs });
  // The apiserver picks the new configuration up asynchronously: wait until a dry run is mutated.
  await eventually(
    async () => {
      const out = await create(appNs, podSpec('probe', { [`${P}inject-env`]: 'app' }), true);
      if (!envNames(byName(out.spec!.containers, 'app')).includes('VAULT_ADDR')) throw new Error('webhook not active yet');
    },
    { timeoutMs: 30_000, message: 'webhook configuration never took effect' },
  );
});

test.after.always(async () => {
  await webhook?.stop();
});

test('the operator published its MutatingWebhookConfiguration with the CA bundle, Fail policy and namespace exclusions', async (t) => {
  const cfg = await env().kubeConfig().makeApiClient(AdmissionregistrationV1Api).readMutatingWebhookConfiguration({ name: webhook.settings.configurationName });
  const wh = cfg.webhooks![0]!;
  t.is(wh.failurePolicy, 'Fail');
  t.is(wh.sideEffects, 'NoneOnDryRun');
  t.is(wh.clientConfig.url, `https://127.0.0.1:${webhook.port}/mutate-pods`);
  t.regex(Buffer.from(wh.clientConfig.caBundle!, 'base64').toString(), /BEGIN CERTIFICATE/);
  t.deepEqual(wh.namespaceSelector!.matchExpressions![0]!.values!.slice(0, 3), ['kube-system', 'kube-public', 'kube-node-lease']);
});

test('agent + env injection: stored pod has agent init + native sidecar, secrets volume, env and CA mount only in the named container', async (t) => {
  const stored = await create(
    appNs,
    podSpec('agent-and-env', {
      [`${P}agent-inject`]: 'true',
      [`${P}agent-inject-secret-config.txt`]: 'secret/data/team/config',
      [`${P}inject-env`]: 'app',
    }),
  );
  t.deepEqual(stored.spec!.initContainers!.map((c) => c.name), ['vault-agent-init', 'vault-agent']);
  t.is(byName(stored.spec!.initContainers, 'vault-agent')!.restartPolicy, 'Always', 'apiserver 1.36: native sidecar');
  t.deepEqual(stored.spec!.containers.map((c) => c.name), ['app', 'other']);
  const volumes = Object.fromEntries(stored.spec!.volumes!.map((v) => [v.name, v]));
  t.is(volumes['vault-secrets']!.emptyDir!.medium, 'Memory');
  t.is(volumes['vault-ca']!.configMap!.name, caConfigMapName(vault));
  t.is(stored.metadata!.annotations![`${P}agent-inject-status`], 'injected');

  const app = byName(stored.spec!.containers, 'app')!;
  const other = byName(stored.spec!.containers, 'other')!;
  t.deepEqual(
    app.env!.map((e) => [e.name, e.value]),
    [
      ['VAULT_ADDR', `https://${vault.name}.${vault.namespace}.svc:8200`],
      ['VAULT_CACERT', '/vault/tls/ca.crt'],
    ],
  );
  t.true(app.volumeMounts!.some((m) => m.name === 'vault-ca' && m.mountPath === '/vault/tls'));
  t.deepEqual(envNames(other), []);
  t.false((other.volumeMounts ?? []).some((m) => m.name === 'vault-ca'), 'CA only in the named container');
  t.true((other.volumeMounts ?? []).some((m) => m.name === 'vault-secrets'), 'every app container reads the rendered secrets');

  const config = JSON.parse(Buffer.from(byName(stored.spec!.initContainers, 'vault-agent-init')!.env![0]!.value!, 'base64').toString()) as AgentConfig;
  t.is(config.auto_auth.method[0]!.config.role, `sa.${appNs}.default`);
  t.is(config.template[0]!.destination, '/vault/secrets/config.txt');

  // The CA is available in the pod's namespace, equal to the Vault's.
  const cm = await core.readNamespacedConfigMap({ name: caConfigMapName(vault), namespace: appNs });
  t.is(cm.data!['ca.crt'], vault.caPem);
});

test('pre-populate-only pod has the init container and no sidecar', async (t) => {
  const stored = await create(
    appNs,
    podSpec('prepopulate', {
      [`${P}agent-inject`]: 'true',
      [`${P}agent-pre-populate-only`]: 'true',
      [`${P}agent-inject-secret-a`]: 'secret/data/a',
    }),
  );
  t.deepEqual(stored.spec!.initContainers!.map((c) => c.name), ['vault-agent-init']);
  t.deepEqual(stored.spec!.containers.map((c) => c.name), ['app', 'other']);
});

test('an unannotated pod is stored byte-identical to one the webhook never saw, though the webhook reviewed it', async (t) => {
  const reviewed = await create(appNs, podSpec('plain', undefined));
  const unseen = await create(plainNs, podSpec('plain', undefined));
  const comparable = (p: V1Pod) => JSON.stringify({ spec: p.spec, annotations: p.metadata!.annotations, labels: p.metadata!.labels });
  t.is(comparable(reviewed), comparable(unseen));
  t.true(
    webhook.logs().split('\n').some((l) => l.includes('"admission reviewed"') && l.includes(`"namespace":"${appNs}"`) && l.includes('"name":"plain"') && l.includes('"patched":false')),
    'the webhook was called for the pod in the selected namespace',
  );
});

test('re-admission of a stored, mutated pod produces no patch (idempotent), over HTTPS', async (t) => {
  const stored = await create(appNs, podSpec('readmit', { [`${P}agent-inject`]: 'true', [`${P}agent-inject-secret-x`]: 'secret/data/x', [`${P}inject-env`]: 'app,other' }));
  const cfg = await env().kubeConfig().makeApiClient(AdmissionregistrationV1Api).readMutatingWebhookConfiguration({ name: webhook.settings.configurationName });
  const ca = Buffer.from(cfg.webhooks![0]!.clientConfig.caBundle!, 'base64').toString();
  const review: AdmissionReview = {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: 'readmit-1',
      kind: { group: '', version: 'v1', kind: 'Pod' },
      resource: { group: '', version: 'v1', resource: 'pods' },
      operation: 'CREATE',
      namespace: appNs,
      object: stored as unknown as Record<string, unknown>,
    },
  };
  const answer = await new Promise<AdmissionReview>((resolve, reject) => {
    const body = JSON.stringify(review);
    const req = https.request({ host: '127.0.0.1', port: webhook.port, path: '/mutate-pods', method: 'POST', ca, headers: { 'Content-Type': 'application/json' } }, (res) => {
      let text = '';
      res.on('data', (c) => (text += c));
      res.on('end', () => resolve(JSON.parse(text) as AdmissionReview));
    });
    req.on('error', reject);
    req.end(body);
  });
  t.true(answer.response!.allowed);
  t.is(answer.response!.patch, undefined);
  t.is(stored.spec!.initContainers!.filter((c) => c.name === 'vault-agent-init').length, 1);
});

const badCases: Array<{ name: string; annotations: Record<string, string>; message: RegExp }> = [
  { name: 'unknown container', annotations: { [`${P}inject-env`]: 'app,ghost' }, message: /vault\.autopilot\.dev\/inject-env: the pod has no container \\?"ghost\\?"; its containers are app, other/ },
  { name: 'bad boolean', annotations: { [`${P}agent-inject`]: 'yes' }, message: /vault\.autopilot\.dev\/agent-inject: \\?"yes\\?" is not accepted; use \\?"true\\?" or \\?"false\\?"/ },
  { name: 'typo in the annotation name', annotations: { [`${P}agent-inject-secert-db`]: 'secret/data/db' }, message: /vault\.autopilot\.dev\/agent-inject-secert-db is not known/ },
  { name: 'malformed secret path', annotations: { [`${P}agent-inject`]: 'true', [`${P}agent-inject-secret-db`]: 'secret/data/my db' }, message: /agent-inject-secret-db: .* is not a Vault path/ },
  { name: 'unknown target Vault', annotations: { [`${P}inject-env`]: 'app', [`${P}vault`]: 'nowhere/none' }, message: /vault\.autopilot\.dev\/vault: Vault nowhere\/none does not exist/ },
];
for (const c of badCases) {
  test(`bad annotations are rejected at create time with the message: ${c.name}`, async (t) => {
    const err = await t.throwsAsync(create(appNs, podSpec(`bad-${badCases.indexOf(c)}`, c.annotations)));
    const body = errorBody(err);
    t.regex(body, /denied the request/);
    t.regex(body, c.message);
    await t.throwsAsync(core.readNamespacedPod({ name: `bad-${badCases.indexOf(c)}`, namespace: appNs }), undefined, 'nothing stored');
  });
}

test('a dry run (sideEffects NoneOnDryRun) mutates the answer but creates no CA ConfigMap', async (t) => {
  const ns = await injectedNamespace(env(), 'wh-dry', runId);
  const out = await create(ns, podSpec('dry', { [`${P}inject-env`]: 'app' }), true);
  t.true(envNames(byName(out.spec!.containers, 'app')).includes('VAULT_CACERT'));
  await t.throwsAsync(core.readNamespacedConfigMap({ name: caConfigMapName(vault), namespace: ns }));
});

test('the CA ConfigMap follows a change of the Vault TLS Secret', async (t) => {
  await create(appNs, podSpec('ca-sync', { [`${P}inject-env`]: 'other' }));
  const secret = await core.readNamespacedSecret({ name: `${vault.name}-tls`, namespace: vault.namespace });
  const rotated = `${vault.caPem}# rotated\n`;
  secret.data = { 'ca.crt': Buffer.from(rotated).toString('base64') };
  await core.replaceNamespacedSecret({ name: `${vault.name}-tls`, namespace: vault.namespace, body: secret });
  await eventually(
    async () => {
      const cm = await core.readNamespacedConfigMap({ name: caConfigMapName(vault), namespace: appNs });
      if (cm.data!['ca.crt'] !== rotated) throw new Error('not synced yet');
    },
    WITHIN.reconcile,
  );
  t.pass();
});

test('admissions are counted and timed in the operator metrics', async (t) => {
  const { defaultRegistry } = await import('../../../operator/framework/metrics.js');
  // its own admissions, counted before and after: other tests of this file run at the same time, so at least one more each
  const sample = (re: RegExp) => Number(re.exec(defaultRegistry.render())?.[1] ?? 0);
  const denied = /vault_autopilot_webhook_admissions_total\{[^}]*path="\/mutate-pods"[^}]*result="denied"[^}]*\} (\d+)/;
  const allowed = /vault_autopilot_webhook_admissions_total\{[^}]*path="\/mutate-pods"[^}]*result="allowed"[^}]*\} (\d+)/;
  const timed = /vault_autopilot_webhook_latency_seconds_count\{[^}]*path="\/mutate-pods"[^}]*\} (\d+)/;
  const before = { denied: sample(denied), allowed: sample(allowed), timed: sample(timed) };
  await t.throwsAsync(create(appNs, podSpec('metrics-denied', { [`${P}agent-inject`]: 'yes' }), true));
  await create(appNs, podSpec('metrics-allowed', { [`${P}inject-env`]: 'app' }), true);
  t.true(sample(denied) >= before.denied + 1, 'the denial was counted');
  t.true(sample(allowed) >= before.allowed + 1, 'the admission was counted');
  t.true(sample(timed) >= before.timed + 2, 'both were timed');
});

test('every shape the mutator produces (classic and native sidecars, init order, env only) passes the apiserver validation', async (t) => {
  const { mutatePod } = await import('../../../operator/webhook/mutate.js');
  const { someSettings } = await import('../../unit/webhook/helpers/builders.js');
  const shapes: Array<Record<string, string>> = [
    { [`${P}agent-inject`]: 'true', [`${P}agent-inject-secret-a`]: 'secret/data/a' },
    { [`${P}agent-inject`]: 'true', [`${P}agent-inject-secret-a`]: 'secret/data/a', [`${P}agent-pre-populate-only`]: 'true' },
    { [`${P}agent-inject`]: 'true', [`${P}agent-inject-secret-a`]: 'secret/data/a', [`${P}agent-init-first`]: 'false', [`${P}inject-env`]: 'app,prep' },
    { [`${P}inject-env`]: 'other' },
  ];
  let checked = 0;
  for (const annotations of shapes) {
    for (const nativeSidecars of [true, false]) {
      const pod = podSpec(`shape-${checked}`, annotations);
      pod.spec!.initContainers = [{ name: 'prep', image: 'busybox:1.36' }];
      const outcome = mutatePod(pod, plainNs, someSettings({ nativeSidecars, vault: { address: 'https://v.vs.svc:8200', caConfigMapName: 'ca' } }));
      if (outcome.action !== 'patch') return t.fail(JSON.stringify(outcome));
      // plainNs is not selected by the webhook: this is the mutator's output, validated as is.
      const stored = await create(plainNs, outcome.pod, true);
      t.is(stored.spec!.containers.length, outcome.pod.spec!.containers.length);
      checked++;
    }
  }
  t.is(checked, 8);
});
