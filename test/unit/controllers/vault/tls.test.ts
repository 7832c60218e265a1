import { X509Certificate } from 'node:crypto';
import test from 'ava';
import { decideTls, issueTls, thresholdMs, vaultTlsNames } from '../../../../operator/controllers/vault/tls.js';

const now = new Date('2026-06-01T00:00:00Z');
const names = vaultTlsNames('vault', 'ns', ['vault.example.com', '10.1.2.3']);
const opts = { now, caValidityDays: 3650, certValidityDays: 30 };

test('names cover the client service, every peer and the additional hosts', (t) => {
  t.true(names.dnsNames.includes('vault.ns.svc'));
  t.true(names.dnsNames.includes('*.vault-internal.ns.svc'));
  t.true(names.dnsNames.includes('vault.example.com'));
  t.deepEqual(names.ipAddresses, ['127.0.0.1', '10.1.2.3']);
});

test('issued serving certificate chains to the CA and covers the names', (t) => {
  const { ca, serving } = issueTls('vault', names, undefined, opts);
  const caCert = new X509Certificate(ca.cert);
  const leaf = new X509Certificate(serving.cert);
  t.true(caCert.ca);
  t.true(leaf.verify(caCert.publicKey));
  t.truthy(leaf.checkHost('vault.ns.svc'));
  t.truthy(leaf.checkHost('vault-2.vault-internal.ns.svc'));
  t.truthy(leaf.checkIP('10.1.2.3'));
});

test('decision: nothing stored -> new CA; complete and fresh -> keep', (t) => {
  t.like(decideTls({}, names, now, thresholdMs(undefined)), { action: 'issue', newCa: true });
  const { ca, serving } = issueTls('vault', names, undefined, opts);
  const stored = { ca, serving: { ...serving, caCert: ca.cert } };
  t.like(decideTls(stored, names, now, thresholdMs('168h')), { action: 'keep' });
});

test('decision: a certificate inside the expiry threshold is renewed with the same CA', (t) => {
  const { ca, serving } = issueTls('vault', names, undefined, opts);
  const stored = { ca, serving: { ...serving, caCert: ca.cert } };
  const later = new Date(now.getTime() + 24 * 86_400_000); // 6 days left of 30
  t.like(decideTls(stored, names, later, thresholdMs('168h')), { action: 'issue', newCa: false });
  t.like(decideTls(stored, names, later, thresholdMs('24h')), { action: 'keep' });
});

test('decision: a new host or a foreign certificate triggers reissue', (t) => {
  const { ca, serving } = issueTls('vault', names, undefined, opts);
  const stored = { ca, serving: { ...serving, caCert: ca.cert } };
  const more = vaultTlsNames('vault', 'ns', ['vault.example.com', '10.1.2.3', 'new.example.com']);
  const decision = decideTls(stored, more, now, thresholdMs(undefined));
  t.like(decision, { action: 'issue', newCa: false });
  t.regex((decision as { reason: string }).reason, /new\.example\.com/);
  const other = issueTls('vault', names, undefined, opts);
  t.like(decideTls({ ca, serving: { ...other.serving, caCert: ca.cert } }, names, now, thresholdMs(undefined)), { action: 'issue', newCa: false });
});

test('threshold parses Go durations', (t) => {
  t.is(thresholdMs('1h'), 3_600_000);
  t.is(thresholdMs(undefined), 168 * 3_600_000);
});
