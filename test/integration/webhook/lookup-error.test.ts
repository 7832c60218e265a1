// README: "errors looking up the Vault are answered with HTTP 500, so
// failurePolicy decides". The webhook's Vault lookups go through a proxy in
// front of the REAL apiserver that answers them 500 on demand; the real
// apiserver then refuses the pod (failurePolicy Fail). Without the fault the
// same pod is admitted and mutated: the refusal came from the lookup.
import test from 'ava';
import * as https from 'node:https';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { AdmissionregistrationV1Api, CoreV1Api, KubeConfig, type V1Pod } from '@kubernetes/client-node';
import { useTestEnv, eventually, WITHIN } from '../../harness/index.js';
import { startFaultProxy, type FaultProxy } from '../../harness/fault-proxy.js';
import type { AdmissionReview } from '../../../operator/framework/admission.js';
import { createVaultFixture, injectedNamespace, startPodWebhook, type RunningWebhook } from './helpers/fixture.js';

const env = useTestEnv(test, { vault: false, kms: false });
const runId = randomBytes(4).toString('hex');
let webhook: RunningWebhook | undefined;
let proxy: FaultProxy | undefined;

test.after.always(async () => {
  await webhook?.stop();
  await proxy?.close();
});

test('a failed Vault lookup is answered with HTTP 500, and failurePolicy Fail refuses the pod', async (t) => {
  const vault = await createVaultFixture(env(), 'lk-vault');
  const operatorNs = await env().namespace('lk-operator');
  const ns = await injectedNamespace(env(), 'lk-app', runId);
  let failing = true;
  const failed: string[] = [];
  const vaultPath = `/apis/vault.autopilot.dev/v1alpha1/namespaces/${vault.namespace}/vaults/${vault.name}`;
  proxy = await startFaultProxy(env().apiserverUrl, {
    caPem: readFileSync(env().apiserverCaFile, 'utf8'),
    hooks: {
      onRequest: (req) => {
        if (!failing || req.method !== 'GET' || req.url.split('?')[0] !== vaultPath) return 'pass';
        failed.push(req.url);
        return { status: 500, body: JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', message: 'etcdserver: request timed out', reason: 'InternalError', code: 500 }), headers: { 'content-type': 'application/json' } };
      },
    },
  });
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'proxy', server: proxy.url, skipTLSVerify: true }],
    users: [{ name: 'admin', token: env().kubeConfig().getCurrentUser()?.token ?? '' }],
    contexts: [{ name: 'proxy', cluster: 'proxy', user: 'admin' }],
    currentContext: 'proxy',
  });
  webhook = await startPodWebhook(env(), { vault, runId, operatorNamespace: operatorNs, kubeConfig: kc });
  const core = env().kubeConfig().makeApiClient(CoreV1Api);
  const pod = (name: string): V1Pod => ({ metadata: { name, namespace: ns, annotations: { 'vault.autopilot.dev/inject-env': 'app' } }, spec: { containers: [{ name: 'app', image: 'busybox:1.36' }] } });

  // the webhook itself, asked directly over HTTPS: 500
  const cfg = await eventually(async () => {
    const c = await env().kubeConfig().makeApiClient(AdmissionregistrationV1Api).readMutatingWebhookConfiguration({ name: webhook!.settings.configurationName });
    if (!c.webhooks?.[0]?.clientConfig.caBundle) throw new Error('no caBundle yet');
    return c;
  }, WITHIN.reconcile);
  const ca = Buffer.from(cfg.webhooks![0]!.clientConfig.caBundle!, 'base64').toString();
  const review: AdmissionReview = {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: 'lookup-1',
      kind: { group: '', version: 'v1', kind: 'Pod' },
      resource: { group: '', version: 'v1', resource: 'pods' },
      operation: 'CREATE',
      namespace: ns,
      object: pod('direct') as unknown as Record<string, unknown>,
    },
  };
  const status = await new Promise<number>((resolve, reject) => {
    const req = https.request({ host: '127.0.0.1', port: webhook!.port, path: '/mutate-pods', method: 'POST', ca, headers: { 'Content-Type': 'application/json' } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end(JSON.stringify(review));
  });
  t.is(status, 500, 'the lookup error is an HTTP 500, not an allowed or denied review');
  t.true(failed.length > 0, 'the answer came after a failed lookup');

  // through the real apiserver: failurePolicy Fail -> the pod is refused
  const refusal = await eventually(async () => {
    try {
      await core.createNamespacedPod({ namespace: ns, body: pod(`refused-${Date.now()}`) });
    } catch (err) {
      const body = String((err as { body?: string }).body ?? (err as Error).message);
      if (/failed calling webhook/.test(body)) return body;
      throw new Error(`refused for another reason: ${body}`);
    }
    throw new Error('admitted');
  }, WITHIN.reconcile);
  t.regex(refusal, /failed calling webhook/);

  // the control: the lookup answers again -> the same pod is admitted and mutated
  failing = false;
  const admitted = await eventually(async () => core.createNamespacedPod({ namespace: ns, body: pod(`admitted-${Date.now()}`) }), WITHIN.reconcile);
  t.true(admitted.spec!.containers[0]!.env?.some((e) => e.name === 'VAULT_ADDR'), 'mutated once the lookup works');
});
