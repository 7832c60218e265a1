// DER (X.690) for the X.509 subset x509.ts issues: writing the few types a
// certificate uses, and reading back the two things we take from existing
// DER (a certificate's subject Name, a public key's bits for key identifiers).
import { createHash, type KeyObject } from 'node:crypto';

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

export const sequence = (...items: Buffer[]): Buffer => tlv(TAG.sequence, Buffer.concat(items));
export const set = (...items: Buffer[]): Buffer => tlv(TAG.set, Buffer.concat(items));
export const octetString = (content: Buffer): Buffer => tlv(TAG.octetString, content);
export const derNull = (): Buffer => Buffer.from([TAG.null, 0]);
export const derBoolean = (value: boolean): Buffer => Buffer.from([TAG.boolean, 1, value ? 0xff : 0]);
export const utf8String = (value: string): Buffer => tlv(TAG.utf8String, Buffer.from(value, 'utf8'));
/** [n] EXPLICIT wrapper (constructed, context-specific). */
export const explicit = (n: number, content: Buffer): Buffer => tlv(0xa0 | n, content);
/** [n] IMPLICIT primitive (context-specific). */
export const implicitPrimitive = (n: number, content: Buffer): Buffer => tlv(0x80 | n, content);

/** An unsigned big-endian integer, as the minimal two's-complement DER INTEGER. */
export function unsignedInteger(bytes: Buffer): Buffer {
  let start = 0;
  while (start < bytes.length - 1 && bytes[start] === 0) start++;
  let body = bytes.subarray(start);
  if (body.length === 0) body = Buffer.from([0]);
  if (body[0]! & 0x80) body = Buffer.concat([Buffer.from([0]), body]);
  return tlv(TAG.integer, body);
}

export function smallInteger(value: number): Buffer {
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
export function bitStringBytes(content: Buffer): Buffer {
  return tlv(TAG.bitString, Buffer.concat([Buffer.from([0]), content]));
}

/** A named-bit BIT STRING (keyUsage): bit 0 is the most significant bit; trailing zero bits are dropped (DER). */
export function namedBits(bits: number[]): Buffer {
  const highest = Math.max(...bits);
  const bytes = Buffer.alloc(Math.floor(highest / 8) + 1);
  for (const bit of bits) bytes[Math.floor(bit / 8)]! |= 0x80 >> bit % 8;
  const unused = 7 - (highest % 8);
  return tlv(TAG.bitString, Buffer.concat([Buffer.from([unused]), bytes]));
}

export function time(date: Date): Buffer {
  const iso = date.toISOString(); // 2026-11-28T06:11:25.123Z
  const digits = iso.slice(0, 19).replace(/[-T:]/g, ''); // 20261128061125
  // RFC 5280 4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050.
  const year = date.getUTCFullYear();
  if (year < 1950 || year > 9999) throw new Error(`certificate date out of range: ${iso}`);
  return year < 2050
    ? tlv(TAG.utcTime, Buffer.from(`${digits.slice(2)}Z`, 'ascii'))
    : tlv(TAG.generalizedTime, Buffer.from(`${digits}Z`, 'ascii'));
}

/** SHA-1 of the subjectPublicKey BIT STRING contents (RFC 5280 4.2.1.2 method 1). */
export function keyIdentifier(publicKey: KeyObject): Buffer {
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

export function toPem(der: Buffer, label: string): string {
  const lines = der.toString('base64').match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

/**
 * The raw DER of a certificate's subject Name, copied byte for byte so the
 * issued certificate's issuer matches it exactly (chain building compares bytes).
 */
export function extractSubjectName(certDer: Buffer): Buffer {
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
