// X.509 certificates for the operator's own TLS endpoints (the admission
// webhook; the Vault controller may reuse it for Vault's TLS).
//
// Node can generate keys and sign bytes but has no API that issues a
// certificate, so this file holds a small DER encoder for exactly the subset of
// RFC 5280 we need: v3 certificates with basicConstraints, keyUsage,
// extKeyUsage, subjectAltName and key identifiers, signed with ECDSA P-256/384,
// RSA (PKCS#1 v1.5, SHA-256) or Ed25519.
//
// Why not a library (compared 2026-11-30): @peculiar/x509 2.2 and pkijs 4.0
// are well kept but WebCrypto-based and asynchronous (issuing would turn the
// synchronous rotation planning in cert-rotation.ts and its callers async)
// and bring 10+ packages (asn1-* schemas, tsyringe + a Reflect polyfill) into
// the image bundle; node-forge 1.x does its own crypto in JavaScript, signs
// certificates with RSA only (our default key is ECDSA P-256) and has a record
// of signature-verification advisories (2022). What is security-sensitive is
// checking certificates, and that stays with OpenSSL: every certificate made
// here is parsed back with node:crypto's X509Certificate (checkIssued,
// checkPrivateKey, validity) and served/verified by node:tls. This file only
// encodes: a malformed encoding fails those checks, it cannot pass one.

import {
  type KeyObject,
  X509Certificate,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  randomBytes,
  sign,
} from 'node:crypto';
import { isIPv4, isIPv6 } from 'node:net';
import {
  bitStringBytes,
  derBoolean,
  derNull,
  encodeOid,
  explicit,
  extractSubjectName,
  implicitPrimitive,
  keyIdentifier,
  namedBits,
  octetString,
  sequence,
  set,
  smallInteger,
  time,
  toPem,
  unsignedInteger,
  utf8String,
} from './der.js';

export { encodeOid } from './der.js';

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
