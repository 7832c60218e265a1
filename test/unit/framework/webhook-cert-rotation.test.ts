import test from 'ava';
import { X509Certificate } from 'node:crypto';
import {
  planRotation,
  secretFromState,
  splitPemBundle,
  stateFromSecret,
  trustBundle,
  type RotationPolicy,
  type WebhookCertState,
} from '../../../operator/framework/webhook-certs.js';

const HOUR = 3_600_000;
const basePolicy: RotationPolicy = {
  caValidityMs: 30 * 24 * HOUR,
  servingValidityMs: 7 * 24 * HOUR,
  renewBeforeFraction: 1 / 3,
  propagationMs: 10 * 60_000,
  commonName: 'vault-autopilot-webhook',
  dnsNames: ['vault-autopilot-webhook.ops.svc'],
  ipAddresses: ['127.0.0.1'],
};
const policy = basePolicy;
const start = new Date('2026-11-28T00:00:00Z');

test('first plan creates a CA and a serving certificate it signed', (t) => {
  const plan = planRotation({}, start, policy, undefined);
  t.deepEqual(plan.steps, ['created']);
  const ca = new X509Certificate(plan.state.ca!.cert);
  const leaf = new X509Certificate(plan.state.serving!.cert);
  t.true(leaf.checkIssued(ca));
  t.is(leaf.checkHost('vault-autopilot-webhook.ops.svc'), 'vault-autopilot-webhook.ops.svc');
  t.is(trustBundle(plan.state), plan.state.ca!.cert);
  t.true(plan.nextCheckAt > start);
});

test('an up-to-date state plans nothing (no needless rewrite)', (t) => {
  const first = planRotation({}, start, policy, undefined).state;
  const again = planRotation(first, new Date(start.getTime() + HOUR), policy, trustBundle(first));
  t.deepEqual(again.steps, []);
  t.is(again.state.serving!.cert, first.serving!.cert);
});

test('the Secret encoding round-trips the whole state', (t) => {
  let state = planRotation({}, start, policy, undefined).state;
  state = { ...state, previousCa: state.ca!.cert, caSwitchedAt: start, nextCa: state.ca!, nextCaPublishedAt: start };
  const { data, annotations } = secretFromState(state);
  const back = stateFromSecret(data, annotations);
  t.deepEqual(back, state);
});

test('serving certificate with changed DNS names is reissued', (t) => {
  const first = planRotation({}, start, policy, undefined).state;
  const plan = planRotation(first, start, { ...policy, dnsNames: ['other.svc'] }, trustBundle(first));
  t.deepEqual(plan.steps, ['renewed-serving-certificate']);
  t.is(new X509Certificate(plan.state.serving!.cert).checkHost('other.svc'), 'other.svc');
});

// Simulates an operator that checks every `tick`, persists the plan and then
// publishes the bundle, for more than two CA lifetimes, and checks the safety
// property that makes rotation invisible to the apiserver.
test('simulated CA and serving rotations: the served certificate is always trusted by a bundle published long enough ago', (t) => {
  // Short lifetimes keep the number of simulated checks (and X.509 parses) small.
  const policy: RotationPolicy = { ...basePolicy, caValidityMs: 10 * 24 * HOUR, servingValidityMs: 3 * 24 * HOUR, propagationMs: 2 * HOUR };
  const tick = HOUR;
  let state: WebhookCertState = {};
  let published: string | undefined;
  const firstPublishedAt = new Map<string, number>(); // CA cert -> when it entered the bundle
  const lastServedAt = new Map<string, number>(); // CA cert -> last time a cert it signed was served
  const steps = new Set<string>();
  let servingChanges = 0;
  let lastServing = '';
  for (let now = start.getTime(); now < start.getTime() + 25 * 24 * HOUR; now += tick) {
    // Trust as the apiserver sees it: bundles published at least propagationMs ago.
    const plan = planRotation(state, new Date(now), policy, published);
    plan.steps.forEach((s) => steps.add(s));
    state = plan.state;
    const bundle = trustBundle(state);
    if (bundle !== published) {
      for (const c of splitPemBundle(bundle)) if (!firstPublishedAt.has(c)) firstPublishedAt.set(c, now);
      // CAs leaving the bundle must not have been served within propagationMs.
      for (const c of splitPemBundle(published ?? '')) {
        if (!bundle.includes(c)) t.true(now - (lastServedAt.get(c) ?? 0) >= policy.propagationMs, 'a CA was dropped while replicas might still serve its certificate');
      }
      published = bundle;
    }
    const issuer = splitPemBundle(bundle).find((c) => new X509Certificate(state.serving!.cert).checkIssued(new X509Certificate(c)));
    t.truthy(issuer, 'the serving certificate is signed by a CA in the bundle');
    const sinceTrusted = now - firstPublishedAt.get(issuer!)!;
    const isInitialCa = firstPublishedAt.get(issuer!) === start.getTime();
    if (!isInitialCa && sinceTrusted < policy.propagationMs) t.fail(`served a certificate whose CA was published only ${sinceTrusted} ms ago`);
    lastServedAt.set(issuer!, now);
    const leaf = new X509Certificate(state.serving!.cert);
    t.true(Date.parse(leaf.validTo) > now && Date.parse(leaf.validFrom) <= now, 'serving certificate valid now');
    if (state.serving!.cert !== lastServing) {
      servingChanges++;
      lastServing = state.serving!.cert;
    }
  }
  t.deepEqual([...steps].sort(), ['created', 'dropped-previous-ca', 'next-ca-created', 'next-ca-published', 'renewed-serving-certificate', 'switched-to-next-ca'].sort());
  t.true(servingChanges > 5, `serving certificate renewed ${servingChanges} times`);
});
