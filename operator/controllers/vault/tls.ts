// TLS for a managed Vault: which names the serving certificate must cover,
// and the pure decision whether the CA or the serving certificate must be
// (re)issued. Issuing itself uses the project's DER X.509 issuer
// (framework/webhook-certs.ts) — node:crypto can sign but cannot issue.
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { isIP } from 'node:net';
import { createCertificateAuthority, createServingCertificate, type IssuedPair } from '../../framework/index.js';
import { durationSeconds } from '../../vault/config-plan.js';
import { clientServiceName, peerServiceName } from './desired-objects.js';

export const DEFAULT_TLS_EXPIRY_THRESHOLD = '168h';

export interface TlsNames {
  dnsNames: string[];
  ipAddresses: string[];
}

/** The client Service, every peer through the headless Service, loopback, and tlsAdditionalHosts. */
export function vaultTlsNames(name: string, namespace: string, additionalHosts: string[] = []): TlsNames {
  const client = clientServiceName(name);
  const peers = peerServiceName(name);
  const dnsNames = [
    client,
    `${client}.${namespace}`,
    `${client}.${namespace}.svc`,
    `${client}.${namespace}.svc.cluster.local`,
    `*.${peers}`,
    `*.${peers}.${namespace}`,
    `*.${peers}.${namespace}.svc`,
    `*.${peers}.${namespace}.svc.cluster.local`,
    'localhost',
  ];
  const ipAddresses = ['127.0.0.1'];
  for (const host of additionalHosts) {
    const target = isIP(host) ? ipAddresses : dnsNames;
    if (!target.includes(host)) target.push(host);
  }
  return { dnsNames, ipAddresses };
}

export function thresholdMs(tlsExpiryThreshold: string | undefined): number {
  return (durationSeconds(tlsExpiryThreshold ?? DEFAULT_TLS_EXPIRY_THRESHOLD) ?? durationSeconds(DEFAULT_TLS_EXPIRY_THRESHOLD)!) * 1000;
}

/** What is stored: the CA (cert + key, in `<name>-ca`) and the serving pair (in `<name>-tls`). */
export interface StoredTls {
  ca?: Partial<IssuedPair>;
  serving?: Partial<IssuedPair> & { caCert?: string };
}

export type TlsDecision =
  | { action: 'keep'; notAfter: Date }
  | { action: 'issue'; newCa: boolean; reason: string };

function parse(pem: string | undefined): X509Certificate | undefined {
  if (!pem) return undefined;
  try {
    return new X509Certificate(pem);
  } catch {
    return undefined;
  }
}

function sanEntries(cert: X509Certificate): { dns: Set<string>; ip: Set<string> } {
  const dns = new Set<string>();
  const ip = new Set<string>();
  for (const part of (cert.subjectAltName ?? '').split(/,\s*/)) {
    if (part.startsWith('DNS:')) dns.add(part.slice(4));
    else if (part.startsWith('IP Address:')) ip.add(part.slice(11));
  }
  return { dns, ip };
}

/** Pure given its inputs: keep, issue a serving certificate, or start over with a new CA. */
export function decideTls(stored: StoredTls, wanted: TlsNames, now: Date, renewBeforeMs: number): TlsDecision {
  const ca = parse(stored.ca?.cert);
  const caUsable =
    ca !== undefined &&
    ca.ca &&
    !!stored.ca?.key &&
    Date.parse(ca.validTo) - now.getTime() > renewBeforeMs &&
    (() => {
      try {
        return ca.checkPrivateKey(createPrivateKey(stored.ca!.key!));
      } catch {
        return false;
      }
    })();
  if (!caUsable) return { action: 'issue', newCa: true, reason: ca ? 'the CA expires soon or its key is missing' : 'no CA yet' };
  const leaf = parse(stored.serving?.cert);
  if (!leaf || !stored.serving?.key) return { action: 'issue', newCa: false, reason: 'no serving certificate yet' };
  if (!leaf.checkIssued(ca!) || !leaf.verify(ca!.publicKey)) return { action: 'issue', newCa: false, reason: 'the serving certificate is not signed by the CA' };
  if (stored.serving.caCert?.trim() !== stored.ca!.cert!.trim()) return { action: 'issue', newCa: false, reason: 'ca.crt differs from the CA' };
  const notAfter = new Date(Date.parse(leaf.validTo));
  if (notAfter.getTime() - now.getTime() <= renewBeforeMs) return { action: 'issue', newCa: false, reason: `the serving certificate expires at ${notAfter.toISOString()}` };
  const have = sanEntries(leaf);
  const missing = [...wanted.dnsNames.filter((d) => !have.dns.has(d)), ...wanted.ipAddresses.filter((i) => !have.ip.has(i))];
  if (missing.length) return { action: 'issue', newCa: false, reason: `the serving certificate does not cover ${missing.join(', ')}` };
  return { action: 'keep', notAfter };
}

export interface IssueOptions {
  now: Date;
  caValidityDays: number;
  certValidityDays: number;
}

const DAY_MS = 86_400_000;

export function issueTls(name: string, names: TlsNames, existingCa: IssuedPair | undefined, opts: IssueOptions): { ca: IssuedPair; serving: IssuedPair } {
  // backdate a little so a slightly slow clock elsewhere accepts the certificate
  const notBefore = new Date(opts.now.getTime() - 5 * 60_000);
  const ca =
    existingCa ??
    createCertificateAuthority({
      commonName: `vault-autopilot ${name} CA`,
      notBefore,
      notAfter: new Date(opts.now.getTime() + opts.caValidityDays * DAY_MS),
    });
  const serving = createServingCertificate({
    ca,
    commonName: names.dnsNames[0] ?? name,
    dnsNames: names.dnsNames,
    ipAddresses: names.ipAddresses,
    notBefore,
    notAfter: new Date(opts.now.getTime() + opts.certValidityDays * DAY_MS),
  });
  return { ca, serving };
}
