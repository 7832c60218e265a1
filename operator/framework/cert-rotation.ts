// Rotation planning for the self-managed webhook certificates (pure: state +
// time + policy -> plan). SelfManagedCertificates (webhook-certs.ts) keeps the
// state in a Secret and carries the plan out.
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { createCertificateAuthority, createServingCertificate, type IssuedPair } from './x509.js';

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

