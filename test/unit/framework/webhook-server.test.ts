import test from 'ava';
import * as https from 'node:https';
import * as tls from 'node:tls';
import { mkdtempSync, rmSync, writeFileSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCertificateAuthority, createServingCertificate, generateKeyPair, issueCertificate, type IssuedPair } from '../../../operator/framework/webhook-certs.js';
import { clientNameAllowed, FileCertificateSource, StaticCertificateSource, WebhookServer, type WebhookLog } from '../../../operator/framework/webhook-server.js';
import type { AdmissionReview } from '../../../operator/framework/admission.js';

const silent: WebhookLog = { info: () => {}, warn: () => {}, error: () => {}, debug: () => {} };

function issue(ca: IssuedPair, cn: string): IssuedPair {
  const now = Date.now();
  return createServingCertificate({ ca, commonName: cn, dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'], notBefore: new Date(now - 60_000), notAfter: new Date(now + 3_600_000) });
}
function newCa(): IssuedPair {
  const now = Date.now();
  return createCertificateAuthority({ commonName: 'test', notBefore: new Date(now - 60_000), notAfter: new Date(now + 3_600_000) });
}

async function post(port: number, ca: string, path: string, body: unknown, agent?: https.Agent): Promise<{ status: number; body: string; peerCn: string }> {
  return new Promise((resolve, reject) => {
    const data = typeof body === 'string' ? body : JSON.stringify(body);
    const req = https.request(
      { host: '127.0.0.1', port, path, method: 'POST', ca, agent: agent ?? false, headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(data) } },
      (res) => {
        const socket = res.socket as tls.TLSSocket;
        const peer = socket.getPeerCertificate();
        let text = '';
        res.on('data', (c) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text, peerCn: String(peer.subject?.CN ?? '') }));
      },
    );
    req.on('error', reject);
    req.end(data);
  });
}

function review(uid: string, object: Record<string, unknown> = {}): AdmissionReview {
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid,
      kind: { group: '', version: 'v1', kind: 'Pod' },
      resource: { group: '', version: 'v1', resource: 'pods' },
      operation: 'CREATE',
      namespace: 'ns',
      object,
    },
  };
}

test('serves AdmissionReview v1: patch, denial, handler failure, bad input, unknown path', async (t) => {
  const ca = newCa();
  const server = new WebhookServer({ port: 0, host: '127.0.0.1', certificates: new StaticCertificateSource(issue(ca, 'one')), log: silent });
  server.register('/patch', async () => ({ allowed: true, patch: [{ op: 'add', path: '/metadata/labels', value: { a: 'b' } }], warnings: ['careful'] }));
  server.register('/deny', async (req) => ({ allowed: false, message: `no for ${req.namespace}` }));
  server.register('/none', async () => ({ allowed: true, patch: [] }));
  server.register('/boom', async () => {
    throw new Error('kaput');
  });
  t.throws(() => server.register('/deny', async () => ({ allowed: true })), { message: /already registered/ });
  t.false(server.isServing());
  await server.start();
  t.teardown(() => server.stop());
  t.true(server.isServing());

  const p = await post(server.port, ca.cert, '/patch', review('u1'));
  t.is(p.status, 200);
  const pr = JSON.parse(p.body) as AdmissionReview;
  t.is(pr.response!.uid, 'u1');
  t.true(pr.response!.allowed);
  t.is(pr.response!.patchType, 'JSONPatch');
  t.deepEqual(JSON.parse(Buffer.from(pr.response!.patch!, 'base64').toString()), [{ op: 'add', path: '/metadata/labels', value: { a: 'b' } }]);
  t.deepEqual(pr.response!.warnings, ['careful']);

  const d = JSON.parse((await post(server.port, ca.cert, '/deny', review('u2'))).body) as AdmissionReview;
  t.false(d.response!.allowed);
  t.deepEqual(d.response!.status, { code: 403, message: 'no for ns' });

  const n = JSON.parse((await post(server.port, ca.cert, '/none', review('u3'))).body) as AdmissionReview;
  t.true(n.response!.allowed);
  t.is(n.response!.patch, undefined);
  t.is(n.response!.patchType, undefined);

  t.is((await post(server.port, ca.cert, '/boom', review('u4'))).status, 500);
  t.is((await post(server.port, ca.cert, '/patch', '{not json')).status, 400);
  t.is((await post(server.port, ca.cert, '/patch', { apiVersion: 'admission.k8s.io/v1beta1', kind: 'AdmissionReview', request: { uid: 'x' } })).status, 400);
  t.is((await post(server.port, ca.cert, '/nope', review('u5'))).status, 404);
});

test('a swapped certificate is served to new connections without a restart; open keep-alive connections keep working', async (t) => {
  const ca = newCa();
  const source = new StaticCertificateSource(issue(ca, 'first'));
  const server = new WebhookServer({ port: 0, host: '127.0.0.1', certificates: source, log: silent });
  server.register('/ok', async () => ({ allowed: true }));
  await server.start();
  t.teardown(() => server.stop());
  const keepAlive = new https.Agent({ keepAlive: true, maxSockets: 1 });
  t.teardown(() => keepAlive.destroy());

  t.is((await post(server.port, ca.cert, '/ok', review('a'), keepAlive)).peerCn, 'first');
  const port = server.port;
  source.set(issue(ca, 'second'));
  t.is(server.certificateVersion, 1);
  t.is(server.port, port);
  const onOld = await post(server.port, ca.cert, '/ok', review('b'), keepAlive);
  t.is(onOld.status, 200, 'request on the connection opened before the swap succeeds');
  t.is((await post(server.port, ca.cert, '/ok', review('c'))).peerCn, 'second');
  t.throws(() => source.set({ cert: issue(ca, 'x').cert, key: issue(ca, 'y').key }), undefined, 'a mismatched pair is refused');
  t.is((await post(server.port, ca.cert, '/ok', review('d'))).peerCn, 'second');
});

test('FileCertificateSource: reloads when tls.crt/tls.key change (atomic rename), ignores a half-written pair', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'wh-certs-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const ca = newCa();
  const first = issue(ca, 'from-file-1');
  writeFileSync(join(dir, 'tls.crt'), first.cert);
  writeFileSync(join(dir, 'tls.key'), first.key);
  // the source's warnings say when a poll has looked at a half-written pair
  let unusable = 0;
  const log: WebhookLog = { ...silent, warn: (message) => void (/not usable yet/.test(message) && unusable++) };
  const server = new WebhookServer({ port: 0, host: '127.0.0.1', certificates: new FileCertificateSource({ dir, pollIntervalMs: 50, log }), log: silent });
  server.register('/ok', async () => ({ allowed: true }));
  await server.start();
  t.teardown(() => server.stop());
  t.is((await post(server.port, ca.cert, '/ok', review('a'))).peerCn, 'from-file-1');

  // Half-written: new cert, old key -> mismatch, must be ignored.
  const second = issue(ca, 'from-file-2');
  writeFileSync(join(dir, 'tls.crt'), second.cert);
  const seen = unusable;
  while (unusable < seen + 2) await new Promise((r) => setTimeout(r, 20)); // two polls saw the mismatch and skipped it
  t.is((await post(server.port, ca.cert, '/ok', review('b'))).peerCn, 'from-file-1');
  t.is(server.certificateVersion, 0);

  writeFileSync(join(dir, 'tls.key.tmp'), second.key);
  renameSync(join(dir, 'tls.key.tmp'), join(dir, 'tls.key'));
  while (server.certificateVersion === 0) await new Promise((r) => setTimeout(r, 20)); // ava's timeout bounds it
  t.is(server.certificateVersion, 1);
  const after = await post(server.port, ca.cert, '/ok', review('c'));
  t.is(after.peerCn, 'from-file-2');
});

test('FileCertificateSource: start fails with a clear message when no files exist', async (t) => {
  const source = new FileCertificateSource({ dir: '/nonexistent-dir-for-test' });
  await t.throwsAsync(source.start(() => {}), { message: /no serving certificate: cannot read a valid pair from \/nonexistent-dir-for-test\/tls\.crt/ });
});

/** A raw TLS client: send these pieces with pauses, return the status line (or the socket's fate). */
function rawRequest(port: number, ca: string, pieces: Array<string | Buffer | number>): Promise<string> {
  return new Promise((resolve) => {
    const socket = tls.connect({ host: '127.0.0.1', port, ca, servername: 'localhost' }, async () => {
      for (const p of pieces) {
        if (typeof p === 'number') await new Promise((r) => setTimeout(r, p));
        else if (!socket.destroyed) socket.write(p);
      }
    });
    let text = '';
    socket.on('data', (c) => {
      text += c.toString();
      // the status line is all we need; the server may keep the connection open (keep-alive)
      if (text.includes('\r\n')) socket.destroy();
    });
    socket.on('close', () => resolve(text.split('\r\n')[0] ?? ''));
    socket.on('error', () => resolve(text.split('\r\n')[0] || 'error'));
  });
}

test('limits: a declared or streamed body over the size is refused (413), a stalled one times out (408), the byte budget gives 503', async (t) => {
  const ca = newCa();
  const server = new WebhookServer({ port: 0, host: '127.0.0.1', certificates: new StaticCertificateSource(issue(ca, 'one')), log: silent, maxBodyBytes: 64 * 1024, maxBufferedBytes: 100 * 1024, bodyTimeoutMs: 300 });
  server.register('/ok', async () => ({ allowed: true }));
  await server.start();
  t.teardown(() => server.stop());
  const head = (extra: string) => `POST /ok HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n${extra}\r\n`;
  t.regex(await rawRequest(server.port, ca.cert, [head('Content-Length: 8388608\r\n')]), /^HTTP\/1.1 413/);
  const chunk = (n: number) => `${n.toString(16)}\r\n${'x'.repeat(n)}\r\n`;
  t.regex(await rawRequest(server.port, ca.cert, [head('Transfer-Encoding: chunked\r\n'), chunk(40_000), chunk(40_000), '0\r\n\r\n']), /^HTTP\/1.1 413/);
  t.regex(await rawRequest(server.port, ca.cert, [head('Content-Length: 100\r\n'), '{"apiVersion"', 2000]), /^HTTP\/1.1 408/);
  // two slow clients holding 60 KiB each exceed a 100 KiB budget: one of them is told to come back
  const slow = (n: number) => rawRequest(server.port, ca.cert, [head(`Content-Length: ${n}\r\n`), 'y'.repeat(60 * 1024), 1000]);
  const statuses = await Promise.all([slow(63 * 1024), slow(63 * 1024)]);
  t.true(statuses.some((s) => /^HTTP\/1.1 503/.test(s)), statuses.join(' | '));
  // and a normal review still works
  t.is((await post(server.port, ca.cert, '/ok', review('after'))).status, 200);
});

test('limits: at most maxConcurrent reviews run at once; the others wait and are all answered', async (t) => {
  const ca = newCa();
  const server = new WebhookServer({ port: 0, host: '127.0.0.1', certificates: new StaticCertificateSource(issue(ca, 'one')), log: silent, maxConcurrent: 2 });
  let running = 0;
  let peak = 0;
  // each handler holds until the test releases it, one at a time: no step depends on how fast the machine is
  const held: Array<() => void> = [];
  server.register('/slow', async () => {
    running++;
    peak = Math.max(peak, running);
    await new Promise<void>((resolve) => held.push(resolve));
    running--;
    return { allowed: true };
  });
  await server.start();
  t.teardown(() => server.stop());
  const pending = Promise.all(Array.from({ length: 12 }, (_, i) => post(server.port, ca.cert, '/slow', review(`c${i}`))));
  const until = async (ok: () => boolean) => {
    while (!ok()) await new Promise((r) => setTimeout(r, 10)); // ava's timeout bounds it
  };
  // release one, wait for the next waiting review to take the freed slot; the ones still queued by then had
  // every chance to start and would push `running` past 2 without the limit
  for (let left = 12; left > 0; left--) {
    await until(() => running === Math.min(2, left) && held.length === running);
    t.true(running <= 2, `at most two at once (${running})`);
    held.shift()!();
  }
  const results = await pending;
  t.true(results.every((r) => r.status === 200));
  t.is(peak, 2);
});

function clientCert(ca: IssuedPair, cn: string, dnsNames: string[] = []): IssuedPair {
  const keys = generateKeyPair();
  const now = Date.now();
  const cert = issueCertificate({ subject: { commonName: cn }, dnsNames, notBefore: new Date(now - 60_000), notAfter: new Date(now + 3_600_000), publicKey: keys.publicKey, issuer: ca, clientAuth: true });
  return { cert, key: keys.privateKey };
}

/** Status of a POST with the given client certificate, or the transport error's code when the handshake refuses it. */
function postAs(port: number, ca: string, client: IssuedPair | undefined): Promise<number | string> {
  return new Promise((resolve) => {
    const data = JSON.stringify(review('c'));
    const req = https.request(
      { host: '127.0.0.1', port, path: '/ok', method: 'POST', ca, agent: false, ...(client ? { cert: client.cert, key: client.key } : {}), headers: { 'Content-Length': Buffer.byteLength(data) } },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
    req.end(data);
  });
}

test('client-certificate authentication: no or a foreign certificate is refused in the handshake, a wrong name gets 403; kept across a certificate swap', async (t) => {
  const servingCa = newCa();
  const clientCa = newCa();
  const source = new StaticCertificateSource(issue(servingCa, 'one'));
  const server = new WebhookServer({ port: 0, host: '127.0.0.1', certificates: source, log: silent, clientAuth: { ca: clientCa.cert, names: ['kube-apiserver'] } });
  server.register('/ok', async () => ({ allowed: true }));
  await server.start();
  t.teardown(() => server.stop());

  const apiserver = clientCert(clientCa, 'kube-apiserver');
  t.is(await postAs(server.port, servingCa.cert, apiserver), 200);
  t.is(typeof (await postAs(server.port, servingCa.cert, undefined)), 'string', 'no client certificate: no answer');
  t.is(typeof (await postAs(server.port, servingCa.cert, clientCert(newCa(), 'kube-apiserver'))), 'string', 'a certificate of another CA: no answer');
  t.is(await postAs(server.port, servingCa.cert, clientCert(clientCa, 'someone-else')), 403, 'the right CA, another name');
  t.is(await postAs(server.port, servingCa.cert, clientCert(clientCa, 'x', ['kube-apiserver'])), 200, 'a DNS name counts as well');
  source.set(issue(servingCa, 'two'));
  t.is(typeof (await postAs(server.port, servingCa.cert, undefined)), 'string', 'after a serving-certificate swap client certificates are still required');
  t.is(await postAs(server.port, servingCa.cert, apiserver), 200);
});

test('clientNameAllowed: CN or a DNS subject alternative name, nothing else', (t) => {
  t.true(clientNameAllowed({ subject: { CN: 'kube-apiserver' } }, ['kube-apiserver']));
  t.true(clientNameAllowed({ subject: { CN: 'x' }, subjectaltname: 'IP Address:127.0.0.1, DNS:kube-apiserver' }, ['kube-apiserver']));
  t.false(clientNameAllowed({ subject: { CN: 'x' }, subjectaltname: 'URI:kube-apiserver, IP Address:10.0.0.1' }, ['kube-apiserver']));
  t.false(clientNameAllowed({ subject: { CN: 'kube-apiserver-evil' } }, ['kube-apiserver']));
  t.false(clientNameAllowed(undefined, ['kube-apiserver']));
  t.false(clientNameAllowed({}, ['kube-apiserver']));
});
