// makeKubeClients against a local HTTPS stand-in for the apiserver: the typed
// clients and RawKube reuse TLS connections (client-node alone opens one per call).
import test from 'ava';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import { makeKubeClients } from '../../../operator/framework/kube.js';
import { createCertificateAuthority, createServingCertificate } from '../../../operator/framework/webhook-certs.js';

async function fakeApiserver() {
  const now = Date.now();
  const validity = { notBefore: new Date(now - 60_000), notAfter: new Date(now + 3_600_000) };
  const ca = createCertificateAuthority({ commonName: 'fake apiserver ca', ...validity });
  const serving = createServingCertificate({ ca, commonName: 'apiserver', dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'], ...validity });
  const seen = { handshakes: 0, requests: [] as Array<{ path: string; authorization: string | undefined }> };
  const server = https.createServer({ cert: serving.cert, key: serving.key }, (req, res) => {
    seen.requests.push({ path: req.url ?? '', authorization: req.headers.authorization });
    req.resume();
    req.on('end', () => {
      const path = (req.url ?? '').split('?')[0]!;
      // KubernetesObjectApi asks discovery for the plural first
      const body =
        path === '/api/v1'
          ? { kind: 'APIResourceList', groupVersion: 'v1', resources: [{ name: 'namespaces', kind: 'Namespace', namespaced: false, verbs: ['get'] }] }
          : { apiVersion: 'v1', kind: 'Namespace', metadata: { name: decodeURIComponent(path.split('/').at(-1)!) } };
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    });
  });
  server.on('secureConnection', () => seen.handshakes++);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const kubeConfig = (token: string) => {
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 'c', server: `https://127.0.0.1:${(server.address() as AddressInfo).port}`, caData: Buffer.from(ca.cert).toString('base64') }],
      users: [{ name: 'u', token }],
      contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
      currentContext: 'x',
    });
    return kc;
  };
  return { seen, kubeConfig, close: () => new Promise<void>((r) => server.close(() => r())) };
}

test('typed clients and RawKube of one makeKubeClients share keep-alive connections; each call keeps its own credentials', async (t) => {
  const api = await fakeApiserver();
  t.teardown(api.close);
  const kube = makeKubeClients(api.kubeConfig('token-a'));
  t.teardown(() => kube.raw.close());
  for (let i = 0; i < 5; i++) t.is((await kube.core.readNamespace({ name: `ns-${i}` })).metadata?.name, `ns-${i}`);
  await kube.raw.request({ method: 'GET', path: '/api/v1/namespaces/raw' });
  await kube.objects.read({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'via-objects' } });
  t.is(api.seen.requests.length, 8); // 5 typed, 1 raw, discovery + 1 read
  t.is(api.seen.handshakes, 1, 'one TLS connection for sequential calls');
  t.true(api.seen.requests.every((r) => r.authorization === 'Bearer token-a'));

  // another identity (its own clients) never rides on those connections
  const other = makeKubeClients(api.kubeConfig('token-b'));
  t.teardown(() => other.raw.close());
  await other.core.readNamespace({ name: 'b' });
  t.is(api.seen.handshakes, 2);
  t.is(api.seen.requests.at(-1)?.authorization, 'Bearer token-b');
});

test('raw.close() closes the pooled connections; the clients still work afterwards', async (t) => {
  const api = await fakeApiserver();
  t.teardown(api.close);
  const kube = makeKubeClients(api.kubeConfig('t'));
  t.teardown(() => kube.raw.close());
  await kube.core.readNamespace({ name: 'a' });
  kube.raw.close();
  await kube.core.readNamespace({ name: 'b' });
  t.is(api.seen.handshakes, 2);
});
