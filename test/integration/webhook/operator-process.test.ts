// The released entry point (operator/main.ts) with only the webhook lifecycle:
// it serves admission over TLS with self-managed certificates, the real
// apiserver mutates pods through it, and SIGTERM stops it cleanly.
import test from 'ava';
import { randomBytes } from 'node:crypto';
import { AdmissionregistrationV1Api, CoreV1Api } from '@kubernetes/client-node';
import { WITHIN, useTestEnv, eventually, startOperatorProcess } from '../../harness/index.js';
import { freePort } from '../../harness/ports.js';
import { createVaultFixture, INJECTION_LABEL, injectedNamespace } from './helpers/fixture.js';

const env = useTestEnv(test, { vault: false, kms: false });
const runId = randomBytes(4).toString('hex');
const configurationName = `vault-autopilot-webhook-proc-${runId}`;

test('main.ts with VAULT_AUTOPILOT_LIFECYCLES=webhook mutates pods created through the apiserver and exits 0 on SIGTERM', async (t) => {
  const vault = await createVaultFixture(env(), 'proc-vault');
  const operatorNs = await env().namespace('proc-operator');
  const ns = await injectedNamespace(env(), 'proc-app', runId);
  const kc = env().kubeConfig();
  const admission = kc.makeApiClient(AdmissionregistrationV1Api);
  t.teardown(() => admission.deleteMutatingWebhookConfiguration({ name: configurationName }).then(() => undefined, () => undefined));
  const port = await freePort();
  const proc = await startOperatorProcess({
    entry: 'operator/main.ts',
    env: {
      KUBECONFIG: env().kubeconfigPath,
      VAULT_AUTOPILOT_LIFECYCLES: 'webhook',
      VAULT_AUTOPILOT_HEALTH_PORT: String(await freePort()),
      VAULT_AUTOPILOT_NAMESPACE: operatorNs,
      VAULT_AUTOPILOT_TARGET_VAULT: `${vault.namespace}/${vault.name}`,
      VAULT_AUTOPILOT_WEBHOOK_PORT: String(port),
      VAULT_AUTOPILOT_WEBHOOK_HOST: '127.0.0.1',
      VAULT_AUTOPILOT_WEBHOOK_URL: `https://127.0.0.1:${port}/mutate-pods`,
      VAULT_AUTOPILOT_WEBHOOK_SELF_MANAGED_CERTS: 'true',
      VAULT_AUTOPILOT_WEBHOOK_CONFIGURATION_NAME: configurationName,
      VAULT_AUTOPILOT_WEBHOOK_NAMESPACE_SELECTOR: `${INJECTION_LABEL}=${runId}`,
    },
  });
  await proc.waitForOutput(/admission webhook server listening/, WITHIN.start.timeoutMs);
  t.regex(proc.output(), /"nativeSidecars":true/, 'native sidecars detected from the apiserver version');

  const core = kc.makeApiClient(CoreV1Api);
  const stored = await eventually(
    async () => {
      const out = await core.createNamespacedPod({
        namespace: ns,
        body: {
          metadata: { name: `p-${randomBytes(3).toString('hex')}`, annotations: { 'vault.autopilot.dev/agent-inject': 'true', 'vault.autopilot.dev/agent-inject-secret-x': 'secret/data/x' } },
          spec: { containers: [{ name: 'app', image: 'busybox:1.36' }] },
        },
      });
      if (!out.spec!.initContainers?.length) throw new Error('webhook not active yet');
      return out;
    },
    { timeoutMs: 30_000 },
  );
  t.deepEqual(stored.spec!.initContainers!.map((c) => c.name), ['vault-agent-init', 'vault-agent']);
  t.false(proc.output().includes('PRIVATE KEY'));
  t.is(await proc.kill('SIGTERM'), 0);
});
