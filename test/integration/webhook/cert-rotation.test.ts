// Self-managed certificates rotate (serving certificate renewals and a full CA
// roll-over: publish next CA -> switch -> drop old) while pods are being
// created through the real kube-apiserver: not one admission may fail.
import test from 'ava';
import { randomBytes, X509Certificate } from 'node:crypto';
import { CoreV1Api, type V1Pod } from '@kubernetes/client-node';
import { completeLines, useTestEnv, eventually, WITHIN } from '../../harness/index.js';
import { splitPemBundle } from '../../../operator/framework/webhook-certs.js';
import { createVaultFixture, injectedNamespace, startPodWebhook, type RunningWebhook } from './helpers/fixture.js';

const env = useTestEnv(test, { vault: false, kms: false });
const runId = randomBytes(4).toString('hex');
let webhook: RunningWebhook | undefined;

test.after.always(async () => {
  await webhook?.stop();
});

test('certificate rotation while pods are being created: no failed admission', async (t) => {
  const vault = await createVaultFixture(env(), 'rot-vault');
  const operatorNs = await env().namespace('rot-operator');
  const ns = await injectedNamespace(env(), 'rot-app', runId);
  const core = env().kubeConfig().makeApiClient(CoreV1Api);
  webhook = await startPodWebhook(env(), {
    vault,
    runId,
    operatorNamespace: operatorNs,
    extraEnv: {
      // Shortest lifetimes the settings accept: the CA rolls over after ~40 s.
      VAULT_AUTOPILOT_WEBHOOK_CA_VALIDITY_MS: '60000',
      VAULT_AUTOPILOT_WEBHOOK_CERT_VALIDITY_MS: '30000',
      VAULT_AUTOPILOT_WEBHOOK_ROTATION_PROPAGATION_MS: '3000',
      VAULT_AUTOPILOT_WEBHOOK_CERT_CHECK_INTERVAL_MS: '500',
    },
  });
  const pod = (name: string): V1Pod => ({
    metadata: { name, annotations: { 'vault.autopilot.dev/inject-env': 'app' } },
    spec: { containers: [{ name: 'app', image: 'busybox:1.36' }] },
  });
  await eventually(
    async () => {
      const out = await core.createNamespacedPod({ namespace: ns, body: pod('probe'), dryRun: 'All' });
      if (!out.spec!.containers[0]!.env?.some((e) => e.name === 'VAULT_ADDR')) throw new Error('webhook not active yet');
    },
    WITHIN.reconcile,
  );
  const firstCa = new X509Certificate(
    splitPemBundle(Buffer.from((await core.readNamespacedSecret({ name: webhook.settings.certSecretName, namespace: operatorNs })).data!['ca.crt']!, 'base64').toString())[0]!,
  ).fingerprint256;

  const failures: string[] = [];
  let created = 0;
  let unmutated = 0;
  const bundleSizes = new Set<number>();
  const STEPS = ['renewed-serving-certificate', 'next-ca-created', 'next-ca-published', 'switched-to-next-ca', 'dropped-previous-ca'];
  const stepsSoFar = (): string[] =>
    completeLines(webhook!.logs()).filter((l) => l.includes('"webhook certificates rotated"')).map((l) => (JSON.parse(l) as { steps: string[] }).steps).flat();
  // Pods keep coming until the whole roll-over has happened under them (not for a
  // fixed time: on a loaded machine it takes longer), then TAIL more after the last step.
  const TAIL = 20;
  let createdAtLastStep: number | undefined;
  // wall clock is right here: the roll-over runs on the CA's wall-clock lifetime (60 s); four lifetimes
  // without one is a roll-over that never completes. Under ava's 5-min timeout, so the step assertions say which step is missing.
  const hangGuard = Date.now() + 4 * 60_000;
  const running = (): boolean => {
    if (createdAtLastStep === undefined && STEPS.every((s) => stepsSoFar().includes(s)) && bundleSizes.has(2)) createdAtLastStep = created;
    return (createdAtLastStep === undefined || created < createdAtLastStep + TAIL) && Date.now() < hangGuard;
  };
  let i = 0;
  // ~10 pod creates per second, 2 in flight.
  const worker = async (): Promise<void> => {
    while (running()) {
      const name = `p-${i++}`;
      const started = Date.now();
      try {
        const stored = await core.createNamespacedPod({ namespace: ns, body: pod(name) });
        created++;
        if (!stored.spec!.containers[0]!.env?.some((e) => e.name === 'VAULT_ADDR')) unmutated++;
      } catch (err) {
        failures.push(`${name}: ${(err as { body?: string }).body ?? (err as Error).message}`);
      }
      await new Promise((r) => setTimeout(r, Math.max(0, 200 - (Date.now() - started)))); // pacing, not a wait: at most 5/s per worker
    }
  };
  const watcher = async (): Promise<void> => {
    while (running()) {
      const cfg = await env()
        .kubeConfig()
        .makeApiClient((await import('@kubernetes/client-node')).AdmissionregistrationV1Api)
        .readMutatingWebhookConfiguration({ name: webhook!.settings.configurationName });
      bundleSizes.add(splitPemBundle(Buffer.from(cfg.webhooks![0]!.clientConfig.caBundle!, 'base64').toString()).length);
      await new Promise((r) => setTimeout(r, 250)); // poll interval; the loop ends on the rotation, not on time
    }
  };
  await Promise.all([worker(), worker(), watcher()]);

  const steps = stepsSoFar();
  t.log(`pods created: ${created} (${createdAtLastStep} before the last step), failures: ${failures.length}, serving certificate swaps: ${webhook.server.certificateVersion}, steps: ${steps.join(',')}, bundle sizes seen: ${[...bundleSizes].join(',')}`);
  for (const step of STEPS) t.true(steps.includes(step), `rotation step ${step} happened (within the hang guard)`);
  t.deepEqual(failures, []);
  t.is(unmutated, 0);
  t.true(created >= (createdAtLastStep ?? Infinity) + TAIL, `${TAIL} pods admitted after the last rotation step`);
  t.true(webhook.server.certificateVersion >= 2, 'the server swapped its certificate at least twice without restarting');
  t.true(bundleSizes.has(2), 'the next CA was published next to the current one');
  const currentCa = new X509Certificate(
    splitPemBundle(Buffer.from((await core.readNamespacedSecret({ name: webhook.settings.certSecretName, namespace: operatorNs })).data!['ca.crt']!, 'base64').toString())[0]!,
  ).fingerprint256;
  t.not(currentCa, firstCa, 'the CA was replaced');

  // Private keys never reach a log line.
  const secret = await core.readNamespacedSecret({ name: webhook.settings.certSecretName, namespace: operatorNs });
  const logs = webhook.logs();
  t.true(logs.length > 0);
  t.false(logs.includes('PRIVATE KEY'));
  for (const key of ['tls.key', 'ca.key']) {
    const pem = Buffer.from(secret.data![key]!, 'base64').toString();
    const body = pem.split('\n').filter((l) => l && !l.startsWith('-----')).join('');
    t.false(logs.includes(body.slice(0, 40)), `${key} not in the logs`);
  }
});
