// Client-certificate authentication of the webhook against the REAL
// kube-apiserver: the apiserver is started with an AdmissionConfiguration
// whose kubeconfig gives webhooks a client certificate (the documented way,
// README "Who may call the webhook"); the webhook requires a certificate of
// that CA with the name kube-apiserver. Pods are admitted and mutated through
// the apiserver (failurePolicy Fail: a refused handshake would fail them),
// while a direct caller without a certificate, or with another name, is not.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import * as https from 'node:https';
import test from 'ava';
import { CoreV1Api, type V1Pod } from '@kubernetes/client-node';
import { createCertificateAuthority, generateKeyPair, issueCertificate, type IssuedPair } from '../../../operator/framework/webhook-certs.js';
import { eventually, startServers, type Servers } from '../../harness/index.js';
import { createVaultFixture, injectedNamespace, startPodWebhook, type RunningWebhook } from './helpers/fixture.js';

const dir = mkdtempSync(join(tmpdir(), 'wh-client-auth-'));
const hour = 3_600_000;
const clientCa = createCertificateAuthority({ commonName: 'webhook clients', notBefore: new Date(Date.now() - 60_000), notAfter: new Date(Date.now() + hour) });
function clientCert(ca: IssuedPair, cn: string): IssuedPair {
  const keys = generateKeyPair();
  const cert = issueCertificate({ subject: { commonName: cn }, notBefore: new Date(Date.now() - 60_000), notAfter: new Date(Date.now() + hour), publicKey: keys.publicKey, issuer: ca, clientAuth: true });
  return { cert, key: keys.privateKey };
}
let servers: Servers;
let webhook: RunningWebhook | undefined;

test.before(async () => {
  const apiserverClient = clientCert(clientCa, 'kube-apiserver');
  writeFileSync(join(dir, 'client.crt'), apiserverClient.cert);
  writeFileSync(join(dir, 'client.key'), apiserverClient.key, { mode: 0o600 });
  writeFileSync(join(dir, 'client-ca.crt'), clientCa.cert);
  // '*' = every webhook this apiserver calls (a name per webhook host is the narrower form)
  writeFileSync(join(dir, 'webhook-kubeconfig.yaml'), [
    'apiVersion: v1', 'kind: Config', 'users:', "  - name: '*'", '    user:',
    `      client-certificate: ${join(dir, 'client.crt')}`, `      client-key: ${join(dir, 'client.key')}`, '',
  ].join('\n'));
  writeFileSync(join(dir, 'admission.yaml'), [
    'apiVersion: apiserver.config.k8s.io/v1', 'kind: AdmissionConfiguration', 'plugins:', '  - name: MutatingAdmissionWebhook', '    configuration:',
    '      apiVersion: apiserver.config.k8s.io/v1', '      kind: WebhookAdmissionConfiguration', `      kubeConfigFile: ${join(dir, 'webhook-kubeconfig.yaml')}`, '',
  ].join('\n'));
  servers = await startServers({ vault: false, kms: false, apiserverArgs: [`--admission-control-config-file=${join(dir, 'admission.yaml')}`] });
});

test.after.always(async () => {
  await webhook?.stop();
  await servers?.stopAll();
});

function directPost(port: number, client: IssuedPair | undefined): Promise<number | string> {
  return new Promise((resolve) => {
    const req = https.request(
      { host: '127.0.0.1', port, path: '/mutate-pods', method: 'POST', rejectUnauthorized: false, agent: false, ...(client ? { cert: client.cert, key: client.key } : {}), headers: { 'content-length': 2 } },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
    req.end('{}');
  });
}

test('the apiserver authenticates with its client certificate and pods are mutated; callers without one are refused', async (t) => {
  const env = servers.env;
  const runId = randomBytes(4).toString('hex');
  const vault = await createVaultFixture(env, 'ca-vault');
  const operatorNs = await env.namespace('ca-operator');
  const ns = await injectedNamespace(env, 'ca-app', runId);
  webhook = await startPodWebhook(env, {
    vault,
    runId,
    operatorNamespace: operatorNs,
    extraEnv: { VAULT_AUTOPILOT_WEBHOOK_CLIENT_CA_FILE: join(dir, 'client-ca.crt'), VAULT_AUTOPILOT_WEBHOOK_CLIENT_NAMES: 'kube-apiserver' },
  });
  const core = env.kubeConfig().makeApiClient(CoreV1Api);
  const pod = (name: string): V1Pod => ({ metadata: { name, annotations: { 'vault.autopilot.dev/inject-env': 'app' } }, spec: { containers: [{ name: 'app', image: 'busybox:1.36' }] } });
  await eventually(async () => {
    const out = await core.createNamespacedPod({ namespace: ns, body: pod('probe'), dryRun: 'All' });
    if (!out.spec!.containers[0]!.env?.length) throw new Error('webhook not active yet');
  }, { timeoutMs: 30_000 });
  let mutated = 0;
  for (let i = 0; i < 5; i++) {
    const stored = await core.createNamespacedPod({ namespace: ns, body: pod(`app-${i}`) });
    if (stored.spec!.containers[0]!.env?.some((e) => e.name === 'VAULT_ADDR')) mutated++;
  }
  t.is(mutated, 5, 'every pod went through the webhook (failurePolicy Fail: a refused apiserver would have failed them)');

  const port = webhook.port;
  t.is(typeof (await directPost(port, undefined)), 'string', 'no client certificate: the handshake is refused');
  t.is(typeof (await directPost(port, clientCert(createCertificateAuthority({ commonName: 'other', notBefore: new Date(Date.now() - 60_000), notAfter: new Date(Date.now() + hour) }), 'kube-apiserver'))), 'string', 'a certificate of another CA: refused');
  t.is(await directPost(port, clientCert(clientCa, 'tenant')), 403, 'a certificate of the CA with another name: 403');
  t.is(await directPost(port, clientCert(clientCa, 'kube-apiserver')), 400, 'the right certificate reaches the handler (an empty review is a 400)');
  t.log('apiserver -> webhook with its AdmissionConfiguration client certificate: 5/5 pods mutated; no certificate / foreign CA: handshake refused; wrong name: 403');
});
