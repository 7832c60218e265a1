// X.509 certificates for the operator's own TLS endpoints (the admission
// webhook; the Vault controller may reuse it for Vault's TLS).
//
// Node can generate keys and sign bytes but has no API that issues a
// certificate, so this file holds a small DER encoder for exactly the subset of
// RFC 5280 we need: v3 certificates with basicConstraints, keyUsage,
// extKeyUsage, subjectAltName and key identifiers, signed with ECDSA P-256/384,
// RSA (PKCS#1 v1.5, SHA-256) or Ed25519.

import {
  KeyObject,
  X509Certificate,
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  randomBytes,
  sign,
} from 'node:crypto';
import { isIPv4, isIPv6 } from 'node:net';
import type { CoreV1Api, V1Secret } from '@kubernetes/client-node';

// ---------------------------------------------------------------------------
// DER encoding (X.690) — only the types a certificate uses.

const TAG = {
  boolean: 0x01,
  integer: 0x02,
  bitString: 0x03,
  octetString: 0x04,
  null: 0x05,
  oid: 0x06,
  utf8String: 0x0c,
  utcTime: 0x17,
  generalizedTime: 0x18,
  sequence: 0x30,
  set: 0x31,
} as const;

function derLength(length: number): Buffer {
  if (length < 0x80) return Buffer.from([length]);
  const bytes: number[] = [];
  for (let rest = length; rest > 0; rest = Math.floor(rest / 256)) bytes.unshift(rest & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

function tlv(tag: number, content: Buffer): Buffer {
  return Buffer.concat([Buffer.from([tag]), derLength(content.length), content]);
}

const sequence = (...items: Buffer[]): Buffer => tlv(TAG.sequence, Buffer.concat(items));
const set = (...items: Buffer[]): Buffer => tlv(TAG.set, Buffer.concat(items));
const octetString = (content: Buffer): Buffer => tlv(TAG.octetString, content);
const derNull = (): Buffer => Buffer.from([TAG.null, 0]);
const derBoolean = (value: boolean): Buffer => Buffer.from([TAG.boolean, 1, value ? 0xff : 0]);
const utf8String = (value: string): Buffer => tlv(TAG.utf8String, Buffer.from(value, 'utf8'));
/** [n] EXPLICIT wrapper (constructed, context-specific). */
const explicit = (n: number, content: Buffer): Buffer => tlv(0xa0 | n, content);
/** [n] IMPLICIT primitive (context-specific). */
const implicitPrimitive = (n: number, content: Buffer): Buffer => tlv(0x80 | n, content);

/** An unsigned big-endian integer, as the minimal two's-complement DER INTEGER. */
function unsignedInteger(bytes: Buffer): Buffer {
  let start = 0;
  while (start < bytes.length - 1 && bytes[start] === 0) start++;
  let body = bytes.subarray(start);
  if (body.length === 0) body = Buffer.from([0]);
  if (body[0]! & 0x80) body = Buffer.concat([Buffer.from([0]), body]);
  return tlv(TAG.integer, body);
}

function smallInteger(value: number): Buffer {
  return unsignedInteger(Buffer.from([value]));
}

export function encodeOid(oid: string): Buffer {
  const parts = oid.split('.').map((p) => Number.parseInt(p, 10));
  if (parts.length < 2 || parts.some((p) => !Number.isInteger(p) || p < 0)) throw new Error(`bad OID ${oid}`);
  const bytes: number[] = [parts[0]! * 40 + parts[1]!];
  for (const part of parts.slice(2)) {
    const chunk: number[] = [part & 0x7f];
    for (let rest = Math.floor(part / 128); rest > 0; rest = Math.floor(rest / 128)) chunk.unshift((rest & 0x7f) | 0x80);
    bytes.push(...chunk);
  }
  return tlv(TAG.oid, Buffer.from(bytes));
}

/** A BIT STRING holding whole bytes (signatures, keys). */
function bitStringBytes(content: Buffer): Buffer {
  return tlv(TAG.bitString, Buffer.concat([Buffer.from([0]), content]));
}

/** A named-bit BIT STRING (keyUsage): bit 0 is the most significant bit; trailing zero bits are dropped (DER). */
function namedBits(bits: number[]): Buffer {
  const highest = Math.max(...bits);
  const bytes = Buffer.alloc(Math.floor(highest / 8) + 1);
  for (const bit of bits) bytes[Math.floor(bit / 8)]! |= 0x80 >> bit % 8;
  const unused = 7 - (highest % 8);
  return tlv(TAG.bitString, Buffer.concat([Buffer.from([unused]), bytes]));
}

function time(date: Date): Buffer {
  const iso = date.toISOString(); // 2026-11-28T06:11:25.123Z
  const digits = iso.slice(0, 19).replace(/[-T:]/g, ''); // 20261128061125
  // RFC 5280 4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050.
  const year = date.getUTCFullYear();
  if (year < 1950 || year > 9999) throw new Error(`certificate date out of range: ${iso}`);
  return year < 2050
    ? tlv(TAG.utcTime, Buffer.from(`${digits.slice(2)}Z`, 'ascii'))
    : tlv(TAG.generalizedTime, Buffer.from(`${digits}Z`, 'ascii'));
}

// ---------------------------------------------------------------------------
// Certificate structure.

const OID = {
  commonName: '2.5.4.3',
  organization: '2.5.4.10',
  organizationalUnit: '2.5.4.11',
  subjectKeyIdentifier: '2.5.29.14',
  keyUsage: '2.5.29.15',
  subjectAltName: '2.5.29.17',
  basicConstraints: '2.5.29.19',
  authorityKeyIdentifier: '2.5.29.35',
  extKeyUsage: '2.5.29.37',
  serverAuth: '1.3.6.1.5.5.7.3.1',
  clientAuth: '1.3.6.1.5.5.7.3.2',
  ecdsaWithSha256: '1.2.840.10045.4.3.2',
  ecdsaWithSha384: '1.2.840.10045.4.3.3',
  sha256WithRsa: '1.2.840.113549.1.1.11',
  ed25519: '1.3.101.112',
} as const;

const KEY_USAGE_BIT = { digitalSignature: 0, keyEncipherment: 2, keyCertSign: 5, cRLSign: 6 } as const;

export interface DistinguishedName {
  commonName: string;
  organization?: string;
  organizationalUnit?: string;
}

function encodeName(name: DistinguishedName): Buffer {
  const rdn = (oid: string, value: string): Buffer => set(sequence(encodeOid(oid), utf8String(value)));
  const parts: Buffer[] = [];
  if (name.organization) parts.push(rdn(OID.organization, name.organization));
  if (name.organizationalUnit) parts.push(rdn(OID.organizationalUnit, name.organizationalUnit));
  parts.push(rdn(OID.commonName, name.commonName));
  return sequence(...parts);
}

function extension(oid: string, critical: boolean, value: Buffer): Buffer {
  return critical
    ? sequence(encodeOid(oid), derBoolean(true), octetString(value))
    : sequence(encodeOid(oid), octetString(value));
}

function ipAddressBytes(ip: string): Buffer {
  if (isIPv4(ip)) return Buffer.from(ip.split('.').map((p) => Number.parseInt(p, 10)));
  if (!isIPv6(ip)) throw new Error(`not an IP address: ${ip}`);
  // Expand "::" and an embedded IPv4 tail into eight 16-bit groups.
  let text = ip;
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    const b = ipAddressBytes(v4[1]!);
    text = text.slice(0, -v4[1]!.length) + `${b.readUInt16BE(0).toString(16)}:${b.readUInt16BE(2).toString(16)}`;
  }
  const [head, tail] = text.includes('::') ? text.split('::') : [text, undefined];
  const headGroups = head ? head.split(':') : [];
  const tailGroups = tail ? tail.split(':') : [];
  const zeros = tail === undefined ? [] : new Array<string>(8 - headGroups.length - tailGroups.length).fill('0');
  const groups = [...headGroups, ...zeros, ...tailGroups];
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => out.writeUInt16BE(Number.parseInt(g, 16), i * 2));
  return out;
}

function signatureAlgorithm(key: KeyObject): { algorithmId: Buffer; digest: string | null } {
  switch (key.asymmetricKeyType) {
    case 'ec': {
      const curve = key.asymmetricKeyDetails?.namedCurve;
      if (curve === 'secp384r1') return { algorithmId: sequence(encodeOid(OID.ecdsaWithSha384)), digest: 'sha384' };
      return { algorithmId: sequence(encodeOid(OID.ecdsaWithSha256)), digest: 'sha256' };
    }
    case 'rsa':
      return { algorithmId: sequence(encodeOid(OID.sha256WithRsa), derNull()), digest: 'sha256' };
    case 'ed25519':
      return { algorithmId: sequence(encodeOid(OID.ed25519)), digest: null };
    default:
      throw new Error(`unsupported signing key type ${key.asymmetricKeyType}`);
  }
}

/** SHA-1 of the subjectPublicKey BIT STRING contents (RFC 5280 4.2.1.2 method 1). */
function keyIdentifier(publicKey: KeyObject): Buffer {
  const spki = publicKey.export({ type: 'spki', format: 'der' });
  // SubjectPublicKeyInfo ::= SEQUENCE { algorithm SEQUENCE, subjectPublicKey BIT STRING }
  const readHeader = (buf: Buffer, at: number): { contentStart: number; length: number } => {
    const first = buf[at + 1]!;
    if (first < 0x80) return { contentStart: at + 2, length: first };
    const n = first & 0x7f;
    let length = 0;
    for (let i = 0; i < n; i++) length = length * 256 + buf[at + 2 + i]!;
    return { contentStart: at + 2 + n, length };
  };
  const outer = readHeader(spki, 0);
  const algorithm = readHeader(spki, outer.contentStart);
  const bitStringAt = algorithm.contentStart + algorithm.length;
  const bits = readHeader(spki, bitStringAt);
  const keyBytes = spki.subarray(bits.contentStart + 1, bits.contentStart + bits.length); // skip unused-bits byte
  return createHash('sha1').update(keyBytes).digest();
}

export interface CertificateRequest {
  subject: DistinguishedName;
  dnsNames?: string[];
  ipAddresses?: string[];
  isCA?: boolean;
  notBefore: Date;
  notAfter: Date;
  /** The public key the certificate certifies (PEM or KeyObject). */
  publicKey: KeyObject | string;
  /** Signer; absent = self-signed, in which case `signingKey` must be the private key matching `publicKey`. */
  issuer?: { cert: string; key: KeyObject | string };
  /** Private key for a self-signed certificate. */
  signingKey?: KeyObject | string;
  /** Extended key usages; default serverAuth (+ clientAuth when `clientAuth` is set). */
  clientAuth?: boolean;
  /** Random when absent. */
  serialNumber?: Buffer;
}

const toPublicKey = (k: KeyObject | string): KeyObject => (typeof k === 'string' ? createPublicKey(k) : k.type === 'private' ? createPublicKey(k) : k);
const toPrivateKey = (k: KeyObject | string): KeyObject => (typeof k === 'string' ? createPrivateKey(k) : k);

/** Issues an X.509 v3 certificate and returns it as PEM. */
export function issueCertificate(request: CertificateRequest): string {
  const subjectKey = toPublicKey(request.publicKey);
  let signer: KeyObject;
  let issuerName: Buffer;
  let authorityKeyId: Buffer;
  if (request.issuer) {
    const issuerCert = new X509Certificate(request.issuer.cert);
    if (!issuerCert.ca) throw new Error('issuer certificate is not a CA');
    signer = toPrivateKey(request.issuer.key);
    if (!issuerCert.checkPrivateKey(signer)) throw new Error('issuer key does not match issuer certificate');
    issuerName = extractSubjectName(issuerCert.raw);
    authorityKeyId = keyIdentifier(issuerCert.publicKey);
  } else {
    if (!request.signingKey) throw new Error('a self-signed certificate needs signingKey');
    signer = toPrivateKey(request.signingKey);
    if (!createPublicKey(signer).equals(subjectKey)) throw new Error('signingKey does not match publicKey');
    issuerName = encodeName(request.subject);
    authorityKeyId = keyIdentifier(subjectKey);
  }
  if (!(request.notAfter.getTime() > request.notBefore.getTime())) throw new Error('notAfter must be after notBefore');

  const serial = request.serialNumber ?? randomBytes(16);
  if (!request.serialNumber) serial[0] = (serial[0]! & 0x7f) | 0x01; // positive, non-zero, 16 bytes

  const dnsNames = request.dnsNames ?? [];
  const ipAddresses = request.ipAddresses ?? [];
  const extensions: Buffer[] = [
    extension(OID.basicConstraints, true, request.isCA ? sequence(derBoolean(true)) : sequence()),
    extension(
      OID.keyUsage,
      true,
      namedBits(
        request.isCA
          ? [KEY_USAGE_BIT.digitalSignature, KEY_USAGE_BIT.keyCertSign, KEY_USAGE_BIT.cRLSign]
          : subjectKey.asymmetricKeyType === 'rsa'
            ? [KEY_USAGE_BIT.digitalSignature, KEY_USAGE_BIT.keyEncipherment]
            : [KEY_USAGE_BIT.digitalSignature],
      ),
    ),
  ];
  if (!request.isCA) {
    const usages = [encodeOid(OID.serverAuth)];
    if (request.clientAuth) usages.push(encodeOid(OID.clientAuth));
    extensions.push(extension(OID.extKeyUsage, false, sequence(...usages)));
  }
  if (dnsNames.length + ipAddresses.length > 0) {
    const names = [
      ...dnsNames.map((d) => implicitPrimitive(2, Buffer.from(d, 'ascii'))),
      ...ipAddresses.map((ip) => implicitPrimitive(7, ipAddressBytes(ip))),
    ];
    // RFC 5280: the SAN is critical when the subject is empty; ours never is.
    extensions.push(extension(OID.subjectAltName, false, sequence(...names)));
  }
  extensions.push(extension(OID.subjectKeyIdentifier, false, octetString(keyIdentifier(subjectKey))));
  extensions.push(extension(OID.authorityKeyIdentifier, false, sequence(implicitPrimitive(0, authorityKeyId))));

  const { algorithmId, digest } = signatureAlgorithm(signer);
  const spki = subjectKey.export({ type: 'spki', format: 'der' });
  const tbs = sequence(
    explicit(0, smallInteger(2)), // v3
    unsignedInteger(serial),
    algorithmId,
    issuerName,
    sequence(time(request.notBefore), time(request.notAfter)),
    encodeName(request.subject),
    spki,
    explicit(3, sequence(...extensions)),
  );
  const signature = sign(digest, tbs, signer);
  const der = sequence(tbs, algorithmId, bitStringBytes(signature));
  return toPem(der, 'CERTIFICATE');
}

function toPem(der: Buffer, label: string): string {
  const lines = der.toString('base64').match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

/**
 * The raw DER of a certificate's subject Name, copied byte for byte so the
 * issued certificate's issuer matches it exactly (chain building compares bytes).
 */
function extractSubjectName(certDer: Buffer): Buffer {
  const children = (buf: Buffer, start: number, end: number): Array<{ start: number; end: number; tag: number }> => {
    const out: Array<{ start: number; end: number; tag: number }> = [];
    let at = start;
    while (at < end) {
      const tag = buf[at]!;
      const first = buf[at + 1]!;
      let length = first;
      let header = 2;
      if (first >= 0x80) {
        const n = first & 0x7f;
        length = 0;
        for (let i = 0; i < n; i++) length = length * 256 + buf[at + 2 + i]!;
        header = 2 + n;
      }
      out.push({ start: at, end: at + header + length, tag });
      at += header + length;
    }
    return out;
  };
  const contentOf = (buf: Buffer, node: { start: number; end: number }): { start: number; end: number } => {
    const first = buf[node.start + 1]!;
    const header = first < 0x80 ? 2 : 2 + (first & 0x7f);
    return { start: node.start + header, end: node.end };
  };
  const [cert] = children(certDer, 0, certDer.length);
  const certContent = contentOf(certDer, cert!);
  const [tbs] = children(certDer, certContent.start, certContent.end);
  const tbsContent = contentOf(certDer, tbs!);
  const fields = children(certDer, tbsContent.start, tbsContent.end);
  // version [0] is optional: skip it when present.
  const offset = fields[0]!.tag === 0xa0 ? 1 : 0;
  const subject = fields[offset + 4]!; // serial, signature, issuer, validity, subject
  return certDer.subarray(subject.start, subject.end);
}

// ---------------------------------------------------------------------------
// Key pairs and convenience issuers.

export interface KeyPairPem {
  privateKey: string;
  publicKey: string;
}

export type KeyAlgorithm = 'ec-p256' | 'ec-p384' | 'rsa-2048' | 'ed25519';

export function generateKeyPair(algorithm: KeyAlgorithm = 'ec-p256'): KeyPairPem {
  const publicKeyEncoding = { type: 'spki', format: 'pem' } as const;
  const privateKeyEncoding = { type: 'pkcs8', format: 'pem' } as const;
  switch (algorithm) {
    case 'ec-p256':
      return generateKeyPairSync('ec', { namedCurve: 'P-256', publicKeyEncoding, privateKeyEncoding });
    case 'ec-p384':
      return generateKeyPairSync('ec', { namedCurve: 'P-384', publicKeyEncoding, privateKeyEncoding });
    case 'rsa-2048':
      return generateKeyPairSync('rsa', { modulusLength: 2048, publicKeyEncoding, privateKeyEncoding });
    case 'ed25519':
      return generateKeyPairSync('ed25519', { publicKeyEncoding, privateKeyEncoding });
  }
}

export interface IssuedPair {
  cert: string;
  key: string;
}

/** A self-signed CA. */
export function createCertificateAuthority(opts: {
  commonName: string;
  notBefore: Date;
  notAfter: Date;
  algorithm?: KeyAlgorithm;
}): IssuedPair {
  const keys = generateKeyPair(opts.algorithm);
  const cert = issueCertificate({
    subject: { commonName: opts.commonName },
    isCA: true,
    notBefore: opts.notBefore,
    notAfter: opts.notAfter,
    publicKey: keys.publicKey,
    signingKey: keys.privateKey,
  });
  return { cert, key: keys.privateKey };
}

/** A serving (leaf) certificate signed by `ca`. */
export function createServingCertificate(opts: {
  ca: IssuedPair;
  commonName: string;
  dnsNames: string[];
  ipAddresses?: string[];
  notBefore: Date;
  notAfter: Date;
  algorithm?: KeyAlgorithm;
}): IssuedPair {
  const keys = generateKeyPair(opts.algorithm);
  const cert = issueCertificate({
    subject: { commonName: opts.commonName },
    dnsNames: opts.dnsNames,
    ipAddresses: opts.ipAddresses ?? [],
    notBefore: opts.notBefore,
    notAfter: opts.notAfter,
    publicKey: keys.publicKey,
    issuer: opts.ca,
  });
  return { cert, key: keys.privateKey };
}

/** Splits a PEM bundle into its certificates (in order). */
export function splitPemBundle(bundle: string): string[] {
  return bundle.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n?/g)?.map((c) => (c.endsWith('\n') ? c : `${c}\n`)) ?? [];
}

// ---------------------------------------------------------------------------
// Self-managed webhook certificates: a CA and a serving certificate kept in a
// Secret, rotated before expiry without a failed admission.
//
// CA rotation runs in three steps, each persisted before the next, so any
// replica (or a restarted operator) continues where the last one stopped:
//   1. create the next CA and publish [current, next] as the caBundle;
//   2. after `propagationMs` (every apiserver has the new bundle), serve a
//      certificate signed by the next CA, which becomes current; the old CA
//      stays in the bundle as "previous";
//   3. after another `propagationMs` (every replica serves the new cert),
//      drop the previous CA from the bundle.
// A serving certificate signed by the current CA is renewed on its own.

export interface WebhookCertState {
  ca?: IssuedPair;
  /** Generated, not yet serving; in the bundle once `nextCaPublishedAt` is set. */
  nextCa?: IssuedPair;
  nextCaPublishedAt?: Date;
  /** The CA before the last switch; trusted until `caSwitchedAt + propagationMs`. */
  previousCa?: string;
  caSwitchedAt?: Date;
  serving?: IssuedPair;
}

export interface RotationPolicy {
  caValidityMs: number;
  servingValidityMs: number;
  /** Renew when less than this fraction of the lifetime remains (default 1/3). */
  renewBeforeFraction: number;
  /** How long a caBundle change (or a Secret change) takes to reach every apiserver (or replica). */
  propagationMs: number;
  commonName: string;
  dnsNames: string[];
  ipAddresses: string[];
}

export type RotationStep =
  | 'created'
  | 'next-ca-created'
  | 'next-ca-published'
  | 'switched-to-next-ca'
  | 'dropped-previous-ca'
  | 'renewed-serving-certificate';

export interface RotationPlan {
  state: WebhookCertState;
  /** What changed (in order); empty when nothing needs doing now. */
  steps: RotationStep[];
  /** When to look again at the latest. */
  nextCheckAt: Date;
}

function validity(pem: string): { notBefore: number; notAfter: number } {
  const cert = new X509Certificate(pem);
  return { notBefore: Date.parse(cert.validFrom), notAfter: Date.parse(cert.validTo) };
}

function renewAt(pem: string, fraction: number): number {
  const { notBefore, notAfter } = validity(pem);
  return notAfter - (notAfter - notBefore) * fraction;
}

function pairIsUsable(pair: IssuedPair | undefined): pair is IssuedPair {
  if (!pair) return false;
  try {
    return new X509Certificate(pair.cert).checkPrivateKey(createPrivateKey(pair.key));
  } catch {
    return false;
  }
}

function sameNames(pem: string, policy: RotationPolicy): boolean {
  const san = new X509Certificate(pem).subjectAltName ?? '';
  const want = [...policy.dnsNames.map((d) => `DNS:${d}`), ...policy.ipAddresses.map((ip) => `IP Address:${ip}`)];
  const have = san.split(', ').filter(Boolean);
  return want.length === have.length && want.every((w) => have.some((h) => h.toLowerCase() === w.toLowerCase()));
}

/**
 * The CA bundle webhook clients must trust in this state (PEM, oldest first):
 * the previous CA while replicas may still serve its certificate, the current
 * CA, and the next CA once it is being published.
 */
export function trustBundle(state: WebhookCertState): string {
  return [state.previousCa, state.ca?.cert, state.nextCa?.cert].filter((c): c is string => !!c).join('');
}

/**
 * Pure: what the state should become at `now`. Applies every step that is due.
 * `publishedBundle` is the caBundle clients currently trust; the next CA only
 * counts as published once it is in there.
 */
export function planRotation(current: WebhookCertState, now: Date, policy: RotationPolicy, publishedBundle: string | undefined): RotationPlan {
  const t = now.getTime();
  const state: WebhookCertState = { ...current };
  const steps: RotationStep[] = [];
  // Backdate a little (clocks of apiservers and nodes drift), but by no more
  // than a tenth of the lifetime so the renewal point stays after issuance.
  const backdated = (validityMs: number): Date => new Date(t - Math.min(5 * 60_000, validityMs / 10));
  const newCa = (): IssuedPair =>
    createCertificateAuthority({
      commonName: `${policy.commonName}-ca-${t}`,
      notBefore: backdated(policy.caValidityMs),
      notAfter: new Date(t + policy.caValidityMs),
    });
  const newServing = (ca: IssuedPair): IssuedPair =>
    createServingCertificate({
      ca,
      commonName: policy.commonName,
      dnsNames: policy.dnsNames,
      ipAddresses: policy.ipAddresses,
      notBefore: backdated(policy.servingValidityMs),
      notAfter: new Date(Math.min(t + policy.servingValidityMs, validity(ca.cert).notAfter)),
    });

  if (!pairIsUsable(state.ca) || validity(state.ca.cert).notAfter <= t) {
    // Nothing to roll over from (first start, or a CA already expired): start afresh.
    state.ca = newCa();
    state.serving = newServing(state.ca);
    delete state.nextCa;
    delete state.nextCaPublishedAt;
    delete state.previousCa;
    delete state.caSwitchedAt;
    steps.push('created');
  }

  if (state.previousCa && (!state.caSwitchedAt || t - state.caSwitchedAt.getTime() >= policy.propagationMs)) {
    delete state.previousCa;
    delete state.caSwitchedAt;
    steps.push('dropped-previous-ca');
  }

  if (state.nextCa && !pairIsUsable(state.nextCa)) {
    delete state.nextCa;
    delete state.nextCaPublishedAt;
  }
  if (!state.nextCa && !state.previousCa && t >= renewAt(state.ca!.cert, policy.renewBeforeFraction)) {
    state.nextCa = newCa();
    steps.push('next-ca-created');
  }
  if (state.nextCa && !state.nextCaPublishedAt && publishedBundle?.includes(state.nextCa.cert)) {
    state.nextCaPublishedAt = now;
    steps.push('next-ca-published');
  }
  if (state.nextCa && state.nextCaPublishedAt && t - state.nextCaPublishedAt.getTime() >= policy.propagationMs) {
    state.previousCa = state.ca!.cert;
    state.caSwitchedAt = now;
    state.ca = state.nextCa;
    state.serving = newServing(state.ca);
    delete state.nextCa;
    delete state.nextCaPublishedAt;
    steps.push('switched-to-next-ca');
  }

  const serving = state.serving;
  const servingOk =
    pairIsUsable(serving) &&
    new X509Certificate(serving.cert).checkIssued(new X509Certificate(state.ca!.cert)) &&
    new X509Certificate(serving.cert).verify(new X509Certificate(state.ca!.cert).publicKey) &&
    t < renewAt(serving.cert, policy.renewBeforeFraction) &&
    sameNames(serving.cert, policy);
  if (!servingOk) {
    state.serving = newServing(state.ca!);
    steps.push('renewed-serving-certificate');
  }

  const candidates = [renewAt(state.serving!.cert, policy.renewBeforeFraction), renewAt(state.ca!.cert, policy.renewBeforeFraction)];
  if (state.nextCaPublishedAt) candidates.push(state.nextCaPublishedAt.getTime() + policy.propagationMs);
  if (state.nextCa && !state.nextCaPublishedAt) candidates.push(t);
  if (state.caSwitchedAt) candidates.push(state.caSwitchedAt.getTime() + policy.propagationMs);
  return { state, steps, nextCheckAt: new Date(Math.max(t, Math.min(...candidates))) };
}

/** Secret keys and annotations of the stored state. */
export const CERT_SECRET = {
  caCert: 'ca.crt',
  caKey: 'ca.key',
  nextCaCert: 'next-ca.crt',
  nextCaKey: 'next-ca.key',
  previousCaCert: 'previous-ca.crt',
  servingCert: 'tls.crt',
  servingKey: 'tls.key',
  nextCaPublishedAt: 'vault.autopilot.dev/next-ca-published-at',
  caSwitchedAt: 'vault.autopilot.dev/ca-switched-at',
} as const;

export function stateFromSecret(data: Record<string, string> | undefined, annotations: Record<string, string> | undefined): WebhookCertState {
  const d = (key: string): string | undefined => (data?.[key] ? Buffer.from(data[key], 'base64').toString('utf8') : undefined);
  const pair = (c: string, k: string): IssuedPair | undefined => {
    const cert = d(c);
    const key = d(k);
    return cert && key ? { cert, key } : undefined;
  };
  const date = (key: string): Date | undefined => {
    const v = annotations?.[key];
    const ms = v ? Date.parse(v) : NaN;
    return Number.isNaN(ms) ? undefined : new Date(ms);
  };
  const state: WebhookCertState = {};
  const ca = pair(CERT_SECRET.caCert, CERT_SECRET.caKey);
  if (ca) state.ca = ca;
  const next = pair(CERT_SECRET.nextCaCert, CERT_SECRET.nextCaKey);
  if (next) state.nextCa = next;
  const published = date(CERT_SECRET.nextCaPublishedAt);
  if (published && next) state.nextCaPublishedAt = published;
  const previous = d(CERT_SECRET.previousCaCert);
  if (previous) state.previousCa = previous;
  const switched = date(CERT_SECRET.caSwitchedAt);
  if (switched && previous) state.caSwitchedAt = switched;
  const serving = pair(CERT_SECRET.servingCert, CERT_SECRET.servingKey);
  if (serving) state.serving = serving;
  return state;
}

export function secretFromState(state: WebhookCertState): { data: Record<string, string>; annotations: Record<string, string> } {
  const data: Record<string, string> = {};
  const put = (key: string, value: string | undefined): void => {
    if (value) data[key] = Buffer.from(value, 'utf8').toString('base64');
  };
  put(CERT_SECRET.caCert, state.ca?.cert);
  put(CERT_SECRET.caKey, state.ca?.key);
  put(CERT_SECRET.nextCaCert, state.nextCa?.cert);
  put(CERT_SECRET.nextCaKey, state.nextCa?.key);
  put(CERT_SECRET.previousCaCert, state.previousCa);
  put(CERT_SECRET.servingCert, state.serving?.cert);
  put(CERT_SECRET.servingKey, state.serving?.key);
  const annotations: Record<string, string> = {};
  if (state.nextCaPublishedAt) annotations[CERT_SECRET.nextCaPublishedAt] = state.nextCaPublishedAt.toISOString();
  if (state.caSwitchedAt) annotations[CERT_SECRET.caSwitchedAt] = state.caSwitchedAt.toISOString();
  return { data, annotations };
}

/** Where the trust bundle goes: the caBundle of the operator's webhook configuration. */
export interface BundlePublisher {
  /** The bundle clients trust now (PEM), or undefined when unknown / not consistent. */
  read(): Promise<string | undefined>;
  /** Makes `bundle` the trusted bundle; throws when it could not. */
  publish(bundle: string): Promise<void>;
}

export interface SelfManagedCertificatesOptions {
  core: CoreV1Api;
  namespace: string;
  secretName: string;
  publisher: BundlePublisher;
  policy: RotationPolicy;
  log: {
    info(message: string, meta?: Record<string, unknown>): unknown;
    warn(message: string, meta?: Record<string, unknown>): unknown;
  };
  /** Longest wait between checks; also how soon a replica sees a Secret another replica rotated. */
  maxCheckIntervalMs?: number;
  now?: () => Date;
}

/**
 * A CertificateSource (see webhook-server.ts) backed by a Secret it creates and
 * rotates itself. Every write is conditional on the Secret's resourceVersion,
 * so several replicas can run it: the loser of a race re-reads and continues.
 */
export class SelfManagedCertificates {
  readonly #opts: SelfManagedCertificatesOptions;
  #timer: NodeJS.Timeout | undefined;
  #onChange: ((pair: IssuedPair) => void) | undefined;
  #served: IssuedPair | undefined;
  #stopped = false;
  #running: Promise<void> | undefined;

  constructor(opts: SelfManagedCertificatesOptions) {
    this.#opts = opts;
  }

  async start(onChange: (pair: IssuedPair) => void): Promise<IssuedPair> {
    this.#stopped = false;
    let lastError: unknown;
    for (let attempt = 0; attempt < 8; attempt++) {
      try {
        const { serving, nextCheckAt } = await this.reconcile();
        this.#served = serving;
        this.#onChange = onChange;
        this.#schedule(nextCheckAt);
        return serving;
      } catch (err) {
        lastError = err;
        this.#opts.log.warn('self-managed webhook certificate not ready; retrying', { error: (err as Error).message, attempt });
        await new Promise((r) => setTimeout(r, Math.min(250 * 2 ** attempt, 5_000)));
      }
    }
    throw new Error(`self-managed webhook certificate: ${(lastError as Error)?.message ?? lastError}`);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#onChange = undefined;
    await this.#running?.catch(() => undefined);
  }

  /** One pass: read, plan, persist, publish — until nothing is due. Returns the pair to serve. */
  async reconcile(): Promise<{ serving: IssuedPair; nextCheckAt: Date }> {
    const { core, namespace, secretName, publisher, policy, log } = this.#opts;
    const now = this.#opts.now ?? (() => new Date());
    for (let pass = 0; pass < 10; pass++) {
      const secret = await readSecretOrUndefined(core, namespace, secretName);
      const state = stateFromSecret(secret?.data, secret?.metadata?.annotations);
      let published: string | undefined;
      try {
        published = await publisher.read();
      } catch (err) {
        log.warn('cannot read the published webhook caBundle; will publish again', { error: (err as Error).message });
      }
      const plan = planRotation(state, now(), policy, published);
      if (plan.steps.length > 0) {
        const { data, annotations } = secretFromState(plan.state);
        const body: V1Secret = {
          apiVersion: 'v1',
          kind: 'Secret',
          type: 'Opaque',
          metadata: {
            name: secretName,
            namespace,
            labels: { 'app.kubernetes.io/managed-by': 'vault-autopilot', ...(secret?.metadata?.labels ?? {}) },
            annotations: { ...withoutRotationAnnotations(secret?.metadata?.annotations), ...annotations },
            ...(secret?.metadata?.resourceVersion ? { resourceVersion: secret.metadata.resourceVersion } : {}),
          },
          data,
        };
        try {
          if (secret) await core.replaceNamespacedSecret({ name: secretName, namespace, body });
          else await core.createNamespacedSecret({ namespace, body });
        } catch (err) {
          if (errorCode(err) === 409) continue; // another replica wrote first: re-read
          throw err;
        }
        log.info('webhook certificates rotated', { steps: plan.steps, nextCheckAt: plan.nextCheckAt.toISOString() });
      }
      const bundle = trustBundle(plan.state);
      if (bundle !== published) {
        try {
          await publisher.publish(bundle);
        } catch (err) {
          // Keep serving what the Secret holds (a pending next CA is not used
          // before it is published) and try again soon; a missing webhook
          // configuration or permission must not stop the operator.
          log.warn('cannot publish the webhook caBundle; retrying', { error: (err as Error).message });
          return { serving: plan.state.serving!, nextCheckAt: new Date(now().getTime() + 5_000) };
        }
        log.info('webhook caBundle published', { certificates: splitPemBundle(bundle).length });
        if (plan.state.nextCa && !plan.state.nextCaPublishedAt) continue; // record the publication
      }
      if (plan.steps.length > 0) continue; // re-read what we wrote (and let a due step follow)
      return { serving: plan.state.serving!, nextCheckAt: plan.nextCheckAt };
    }
    throw new Error('webhook certificate rotation did not settle after 10 passes');
  }

  #schedule(at: Date): void {
    if (this.#stopped) return;
    const now = (this.#opts.now ?? (() => new Date()))().getTime();
    const wait = Math.max(50, Math.min(at.getTime() - now, this.#opts.maxCheckIntervalMs ?? 60_000));
    this.#timer = setTimeout(() => {
      this.#running = this.#tick();
    }, wait);
    this.#timer.unref();
  }

  async #tick(): Promise<void> {
    let nextCheckAt = new Date(Date.now() + 5_000);
    try {
      const result = await this.reconcile();
      nextCheckAt = result.nextCheckAt;
      if (!this.#served || result.serving.cert !== this.#served.cert) {
        this.#served = result.serving;
        this.#onChange?.(result.serving);
      }
    } catch (err) {
      this.#opts.log.warn('webhook certificate check failed; retrying', { error: (err as Error).message });
    }
    this.#schedule(nextCheckAt);
  }
}

function withoutRotationAnnotations(annotations: Record<string, string> | undefined): Record<string, string> {
  const out = { ...(annotations ?? {}) };
  delete out[CERT_SECRET.nextCaPublishedAt];
  delete out[CERT_SECRET.caSwitchedAt];
  return out;
}

async function readSecretOrUndefined(core: CoreV1Api, namespace: string, name: string): Promise<V1Secret | undefined> {
  try {
    return await core.readNamespacedSecret({ name, namespace });
  } catch (err) {
    if (errorCode(err) === 404) return undefined;
    throw err;
  }
}

function errorCode(err: unknown): number | undefined {
  const code = (err as { code?: unknown } | undefined)?.code;
  return typeof code === 'number' ? code : undefined;
}
