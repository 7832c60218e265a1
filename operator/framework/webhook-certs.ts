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
