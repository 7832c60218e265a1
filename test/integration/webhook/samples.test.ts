// Every webhook sample is exercised: the pod template of each Deployment is
// created as a pod through the real apiserver (no controller-manager runs
// here to do it) and the stored pod carries what the sample promises.
import test from 'ava';
import { randomBytes } from 'node:crypto';
import { CoreV1Api, type V1Deployment, type V1Pod } from '@kubernetes/client-node';
import { useTestEnv, eventually } from '../../harness/index.js';
import { sampleOf } from '../../support/samples.js';
import { createVaultFixture, injectedNamespace, startPodWebhook, type RunningWebhook } from './helpers/fixture.js';

const env = useTestEnv(test, { vault: false, kms: false });
const runId = randomBytes(4).toString('hex');
let webhook: RunningWebhook | undefined;
let ns: string;
let core: CoreV1Api;

function podFromSample(file: string): V1Pod {
  const deployment = sampleOf<V1Deployment>(file, 'Deployment');
  const template = deployment.spec!.template;
  return { apiVersion: 'v1', kind: 'Pod', metadata: { ...template.metadata, name: deployment.metadata!.name }, spec: template.spec! };
}

test.before(async () => {
  const vault = await createVaultFixture(env(), 'smp-vault');
  const operatorNs = await env().namespace('smp-operator');
  ns = await injectedNamespace(env(), 'smp-app', runId);
  core = env().kubeConfig().makeApiClient(CoreV1Api);
  webhook = await startPodWebhook(env(), { vault, runId, operatorNamespace: operatorNs });
  await eventually(async () => {
    const out = await core.createNamespacedPod({ namespace: ns, body: podFromSample('samples/deployment-env-injection.yaml'), dryRun: 'All' });
    if (!out.spec!.containers[0]!.env?.length) throw new Error('webhook not active yet');
  }, { timeoutMs: 30_000 });
});

test.after.always(async () => {
  await webhook?.stop();
});

test('samples/deployment-agent-injection.yaml: agent init + sidecar with both templates', async (t) => {
  const stored = await core.createNamespacedPod({ namespace: ns, body: podFromSample('samples/deployment-agent-injection.yaml') });
  t.deepEqual(stored.spec!.initContainers!.map((c) => c.name), ['vault-agent-init', 'vault-agent']);
  const config = JSON.parse(Buffer.from(stored.spec!.initContainers![0]!.env![0]!.value!, 'base64').toString()) as {
    template: Array<{ destination: string; contents: string }>;
    auto_auth: { method: Array<{ config: { role: string } }> };
  };
  t.deepEqual(config.template.map((x) => x.destination), ['/vault/secrets/db', '/vault/secrets/db.env']);
  t.regex(config.template[1]!.contents, /export \{\{ \$k \}\}/);
  t.is(config.auto_auth.method[0]!.config.role, `sa.${ns}.orders`);
  t.deepEqual(JSON.parse(JSON.stringify(stored.spec!.initContainers![0]!.resources)), { requests: { cpu: '25m', memory: '64Mi' }, limits: { cpu: '500m', memory: '64Mi' } });
  t.true(stored.spec!.containers[0]!.volumeMounts!.some((m) => m.mountPath === '/vault/secrets'));
});

test('samples/deployment-env-injection.yaml: env and CA in billing and migrate, nothing in metrics-exporter', async (t) => {
  const stored = await core.createNamespacedPod({ namespace: ns, body: podFromSample('samples/deployment-env-injection.yaml') });
  const all = [...stored.spec!.containers, ...stored.spec!.initContainers!];
  const envOf = (name: string) => all.find((c) => c.name === name)!.env?.map((e) => e.name) ?? [];
  t.deepEqual(envOf('billing'), ['VAULT_ADDR', 'VAULT_CACERT']);
  t.deepEqual(envOf('migrate'), ['VAULT_ADDR', 'VAULT_CACERT']);
  t.deepEqual(envOf('metrics-exporter'), []);
  t.falsy(all.find((c) => c.name === 'metrics-exporter')!.volumeMounts?.some((m) => m.name === 'vault-ca'));
  t.deepEqual(stored.spec!.initContainers!.map((c) => c.name), ['migrate'], 'no agent');
});
