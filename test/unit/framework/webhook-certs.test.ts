import test from 'ava';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tls from 'node:tls';
import * as https from 'node:https';
import {
  createCertificateAuthority,
  createServingCertificate,
  encodeOid,
  generateKeyPair,
  issueCertificate,
  splitPemBundle,
  type KeyAlgorithm,
} from '../../../operator/framework/webhook-certs.js';

const now = new Date('2026-11-28T06:00:00Z');
const inDays = (d: number): Date => new Date(now.getTime() + d * 86_400_000);

test('encodeOid encodes multi-byte arcs (X.690 8.19)', (t) => {
  // 1.2.840.113549 -> 06 06 2a 86 48 86 f7 0d
  t.is(encodeOid('1.2.840.113549').toString('hex'), '06062a864886f70d');
  t.is(encodeOid('2.5.29.17').toString('hex'), '0603551d11');
});

for (const algorithm of ['ec-p256', 'ec-p384', 'rsa-2048', 'ed25519'] as KeyAlgorithm[]) {
  test(`CA and serving certificate chain verify (${algorithm})`, (t) => {
    const ca = createCertificateAuthority({ commonName: 'test ca', notBefore: now, notAfter: inDays(30), algorithm });
    const leaf = createServingCertificate({
      ca,
      commonName: 'webhook',
      dnsNames: ['webhook.ns.svc', 'localhost'],
      ipAddresses: ['127.0.0.1', '::1'],
      notBefore: now,
      notAfter: inDays(7),
      algorithm,
    });
    const caCert = new X509Certificate(ca.cert);
    const leafCert = new X509Certificate(leaf.cert);
    t.true(caCert.ca);
    t.false(leafCert.ca);
    t.true(caCert.verify(caCert.publicKey), 'CA is self-signed');
    t.true(leafCert.verify(caCert.publicKey), 'leaf signed by CA');
    t.true(leafCert.checkIssued(caCert));
    t.is(leafCert.checkHost('webhook.ns.svc'), 'webhook.ns.svc');
    t.is(leafCert.checkHost('other.example'), undefined);
    t.is(leafCert.checkIP('127.0.0.1'), '127.0.0.1');
    t.truthy(leafCert.checkIP('::1'));
    t.is(leafCert.checkIP('10.0.0.1'), undefined);
    t.true(leafCert.checkPrivateKey(createPrivateKey(leaf.key)));
    t.is(new Date(leafCert.validTo).getTime(), inDays(7).getTime());
    t.is(new Date(leafCert.validFrom).getTime(), now.getTime());
    t.regex(leafCert.subject, /CN=webhook/);
    t.regex(leafCert.issuer, /CN=test ca/);
  });
}


test('dates from 2050 use GeneralizedTime and still parse', (t) => {
  const ca = createCertificateAuthority({
    commonName: 'long',
    notBefore: new Date('2049-12-31T23:00:00Z'),
    notAfter: new Date('2051-01-01T00:00:00Z'),
  });
  const cert = new X509Certificate(ca.cert);
  t.is(new Date(cert.validTo).toISOString(), '2051-01-01T00:00:00.000Z');
  t.is(new Date(cert.validFrom).toISOString(), '2049-12-31T23:00:00.000Z');
});

test('rejects an issuer key that does not match the issuer certificate', (t) => {
  const ca = createCertificateAuthority({ commonName: 'ca', notBefore: now, notAfter: inDays(1) });
  const other = generateKeyPair();
  t.throws(
    () =>
      issueCertificate({
        subject: { commonName: 'x' },
        notBefore: now,
        notAfter: inDays(1),
        publicKey: other.publicKey,
        issuer: { cert: ca.cert, key: other.privateKey },
      }),
    { message: /does not match/ },
  );
});

test('rejects a non-CA issuer and inverted validity', (t) => {
  const ca = createCertificateAuthority({ commonName: 'ca', notBefore: now, notAfter: inDays(1) });
  const leaf = createServingCertificate({ ca, commonName: 'l', dnsNames: ['l'], notBefore: now, notAfter: inDays(1) });
  t.throws(() => createServingCertificate({ ca: leaf, commonName: 'x', dnsNames: ['x'], notBefore: now, notAfter: inDays(1) }), {
    message: /not a CA/,
  });
  t.throws(() => createCertificateAuthority({ commonName: 'ca', notBefore: inDays(1), notAfter: now }), { message: /notAfter/ });
});

test('serial numbers are positive and unique', (t) => {
  const a = new X509Certificate(createCertificateAuthority({ commonName: 'a', notBefore: now, notAfter: inDays(1) }).cert);
  const b = new X509Certificate(createCertificateAuthority({ commonName: 'a', notBefore: now, notAfter: inDays(1) }).cert);
  t.not(a.serialNumber, b.serialNumber);
  t.regex(a.serialNumber, /^[0-7][0-9A-F]{31}$/i);
});

test('splitPemBundle returns each certificate', (t) => {
  const a = createCertificateAuthority({ commonName: 'a', notBefore: now, notAfter: inDays(1) }).cert;
  const b = createCertificateAuthority({ commonName: 'b', notBefore: now, notAfter: inDays(1) }).cert;
  t.deepEqual(splitPemBundle(a + b), [a, b]);
  t.deepEqual(splitPemBundle(''), []);
});

test('a TLS client verifying against the CA accepts the serving certificate (real handshake)', async (t) => {
  const start = new Date(Date.now() - 60_000);
  const ca = createCertificateAuthority({ commonName: 'ca', notBefore: start, notAfter: new Date(Date.now() + 3_600_000) });
  const leaf = createServingCertificate({
    ca,
    commonName: 'srv',
    dnsNames: ['localhost'],
    ipAddresses: ['127.0.0.1'],
    notBefore: start,
    notAfter: new Date(Date.now() + 3_600_000),
  });
  const server = https.createServer({ cert: leaf.cert, key: leaf.key }, (_req, res) => res.end('ok'));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  try {
    const body = await new Promise<string>((resolve, reject) => {
      https
        .get({ host: '127.0.0.1', port, ca: ca.cert, path: '/' }, (res) => {
          let data = '';
          res.on('data', (c) => (data += c));
          res.on('end', () => resolve(data));
        })
        .on('error', reject);
    });
    t.is(body, 'ok');
    const otherCa = createCertificateAuthority({ commonName: 'other', notBefore: start, notAfter: new Date(Date.now() + 3_600_000) });
    await t.throwsAsync(
      new Promise((resolve, reject) => {
        const socket = tls.connect({ host: '127.0.0.1', port, ca: otherCa.cert }, () => resolve(socket));
        socket.on('error', reject);
      }),
    );
  } finally {
    server.close();
  }
});

// openssl is a prerequisite the project installs (`make openssl`, .ci/run); without it this test fails
test('openssl verifies the chain with strict X.509 checks', (t) => {
  const start = new Date(Date.now() - 60_000);
  const end = new Date(Date.now() + 3_600_000);
  const ca = createCertificateAuthority({ commonName: 'ca', notBefore: start, notAfter: end });
  const leaf = createServingCertificate({ ca, commonName: 'srv', dnsNames: ['svc.example'], notBefore: start, notAfter: end });
  const dir = mkdtempSync(join(tmpdir(), 'certs-'));
  try {
    writeFileSync(join(dir, 'ca.pem'), ca.cert);
    writeFileSync(join(dir, 'leaf.pem'), leaf.cert);
    const out = execFileSync(
      'openssl',
      ['verify', '-x509_strict', '-purpose', 'sslserver', '-verify_hostname', 'svc.example', '-CAfile', join(dir, 'ca.pem'), join(dir, 'leaf.pem')],
      { encoding: 'utf8' },
    );
    t.regex(out, /OK/);
    const text = execFileSync('openssl', ['x509', '-noout', '-text', '-in', join(dir, 'leaf.pem')], { encoding: 'utf8' });
    t.regex(text, /TLS Web Server Authentication/);
    t.regex(text, /DNS:svc\.example/);
    t.regex(text, /Digital Signature/);
    t.regex(text, /CA:FALSE/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
