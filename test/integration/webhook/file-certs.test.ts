// File certificates (the OLM / cert-manager way): the server reads tls.crt and
// tls.key from a directory and picks up replacements without a restart while
// the real apiserver keeps admitting pods through it.
import test from 'ava';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tls from 'node:tls';
import { AdmissionregistrationV1Api, CoreV1Api, type V1Pod } from '@kubernetes/client-node';
import { useTestEnv, eventually, WITHIN } from '../../harness/index.js';
import { createCertificateAuthority, createServingCertificate, type IssuedPair } from '../../../operator/framework/webhook-certs.js';
import { desiredWebhookConfiguration } from '../../../operator/webhook/configuration.js';
import { createVaultFixture, injectedNamespace, startPodWebhook, type RunningWebhook } from './helpers/fixture.js';

const env = useTestEnv(test, { vault: false, kms: false });
const runId = randomBytes(4).toString('hex');
let webhook: RunningWebhook | undefined;
const dir = mkdtempSync(join(tmpdir(), 'wh-files-'));

test.after.always(async () => {
  await webhook?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const hour = 3_600_000;
const ca = (cn: string): IssuedPair => createCertificateAuthority({ commonName: cn, notBefore: new Date(Date.now() - 60_000), notAfter: new Date(Date.now() + hour) });
const serving = (issuer: IssuedPair, cn: string): IssuedPair =>
  createServingCertificate({ ca: issuer, commonName: cn, dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'], notBefore: new Date(Date.now() - 60_000), notAfter: new Date(Date.now() + hour) });

/** What cert-manager / kubelet do: new files appear by rename; key first, so for a moment the pair does not match. */
function installFiles(pair: IssuedPair): void {
  writeFileSync(join(dir, 'tls.key.new'), pair.key);
  writeFileSync(join(dir, 'tls.crt.new'), pair.cert);
  renameSync(join(dir, 'tls.key.new'), join(dir, 'tls.key'));
  renameSync(join(dir, 'tls.crt.new'), join(dir, 'tls.crt'));
}

function servedCommonName(port: number, trust: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port, ...(trust ? { ca: trust } : { rejectUnauthorized: false }) }, () => {
      const cn = String(socket.getPeerCertificate().subject?.CN ?? '');
      socket.end();
      resolve(cn);
    });
    socket.on('error', reject);
  });
}

test('serving certificate and CA replaced on disk while pods are created: no failed admission', async (t) => {
  const vault = await createVaultFixture(env(), 'file-vault');
  const operatorNs = await env().namespace('file-operator');
  const ns = await injectedNamespace(env(), 'file-app', runId);
  const kc = env().kubeConfig();
  const core = kc.makeApiClient(CoreV1Api);
  const admission = kc.makeApiClient(AdmissionregistrationV1Api);
  const ca1 = ca('ca-one');
  installFiles(serving(ca1, 'one'));
  webhook = await startPodWebhook(env(), {
    vault,
    runId,
    operatorNamespace: operatorNs,
    extraEnv: { VAULT_AUTOPILOT_WEBHOOK_SELF_MANAGED_CERTS: 'false', VAULT_AUTOPILOT_WEBHOOK_CERT_DIR: dir, VAULT_AUTOPILOT_WEBHOOK_CERT_RELOAD_INTERVAL_MS: '100' },
  });
  // In file mode the configuration (and its caBundle) belongs to the installer: OLM or cert-manager's cainjector.
  const publish = async (bundle: string): Promise<void> => {
    const desired = desiredWebhookConfiguration(webhook!.settings, bundle);
    try {
      const current = await admission.readMutatingWebhookConfiguration({ name: webhook!.settings.configurationName });
      await admission.replaceMutatingWebhookConfiguration({ name: webhook!.settings.configurationName, body: { ...desired, metadata: current.metadata } });
    } catch {
      await admission.createMutatingWebhookConfiguration({ body: desired });
    }
  };
  await publish(ca1.cert);
  const pod = (name: string): V1Pod => ({ metadata: { name, annotations: { 'vault.autopilot.dev/inject-env': 'app' } }, spec: { containers: [{ name: 'app', image: 'busybox:1.36' }] } });
  await eventually(async () => {
    const out = await core.createNamespacedPod({ namespace: ns, body: pod('probe'), dryRun: 'All' });
    if (!out.spec!.containers[0]!.env?.length) throw new Error('webhook not active yet');
  }, { timeoutMs: 30_000 });

  const failures: string[] = [];
  let created = 0;
  let running = true;
  let i = 0;
  const worker = async (): Promise<void> => {
    while (running) {
      const name = `f-${i++}`;
      try {
        const stored = await core.createNamespacedPod({ namespace: ns, body: pod(name) });
        if (!stored.spec!.containers[0]!.env?.length) failures.push(`${name}: not mutated`);
        created++;
      } catch (err) {
        failures.push(`${name}: ${(err as { body?: string }).body ?? (err as Error).message}`);
      }
      await new Promise((r) => setTimeout(r, 100)); // pacing of the traffic, not a wait
    }
  };
  const workers = [worker(), worker()];
  // Each step runs under traffic: so many more pods admitted, not so many seconds
  // (a loaded machine creates fewer per second). The pods after a bundle change
  // also give the apiserver's webhook informer time to take the new bundle.
  const traffic = async (pods: number): Promise<void> => {
    const target = created + pods;
    await eventually(async () => {
      if (failures.length) throw new Error(`admission failed: ${failures[0]}`);
      if (created < target) throw new Error(`${created}/${target} pods admitted`);
    }, { timeoutMs: 120_000, intervalMs: 50 });
  };

  await traffic(15);
  installFiles(serving(ca1, 'two')); // renewal by the same CA
  await eventually(async () => {
    if ((await servedCommonName(webhook!.port, ca1.cert)) !== 'two') throw new Error('not reloaded yet');
  }, WITHIN.reconcile);
  await traffic(15);
  // CA roll-over the cert-manager way: the bundle gains the new CA first, then the files change.
  const ca2 = ca('ca-two');
  await publish(ca1.cert + ca2.cert);
  await traffic(25);
  installFiles(serving(ca2, 'three'));
  await eventually(async () => {
    if ((await servedCommonName(webhook!.port, ca2.cert)) !== 'three') throw new Error('not reloaded yet');
  }, WITHIN.reconcile);
  await traffic(25);
  await publish(ca2.cert);
  await traffic(15);
  running = false;
  await Promise.all(workers);

  t.log(`pods created: ${created}, failures: ${failures.length}, certificate swaps: ${webhook.server.certificateVersion}`);
  t.deepEqual(failures, []);
  t.true(created >= 15 + 15 + 25 + 25 + 15, 'every step ran under its share of pods');
  t.is(webhook.server.certificateVersion, 2, 'two replacements, and the half-written pairs in between were never served');

  // Control: a certificate from a CA the apiserver was never given is refused,
  // and with failurePolicy Fail the pod is refused too — so the zero above means something.
  // (Connections already open keep their handshake: a bundle change makes the
  // apiserver open new ones, as every rotation step above did.)
  installFiles(serving(ca('ca-unpublished'), 'four'));
  await eventually(async () => {
    if ((await servedCommonName(webhook!.port, '')) !== 'four') throw new Error('not reloaded yet');
  }, WITHIN.reconcile);
  await publish(ca2.cert + ca('ca-unrelated').cert);
  const refusal = await eventually(
    async () => {
      try {
        await core.createNamespacedPod({ namespace: ns, body: pod(`control-${Date.now()}`) });
      } catch (err) {
        return (err as { body?: string }).body ?? '';
      }
      throw new Error('still admitted');
    },
    { timeoutMs: 60_000 },
  );
  t.regex(refusal, /failed calling webhook .*(x509|certificate)/);
});
