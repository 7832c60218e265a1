import test from 'ava';
import { X509Certificate } from 'node:crypto';
import type { CoreV1Api, V1Secret } from '@kubernetes/client-node';
import {
  SelfManagedCertificates,
  splitPemBundle,
  type BundlePublisher,
  type RotationPolicy,
} from '../../../operator/framework/webhook-certs.js';

/** An in-memory Secret store with the apiserver's optimistic concurrency (409 on a stale resourceVersion). */
class FakeSecrets {
  secret: V1Secret | undefined;
  version = 0;
  writes = 0;
  api(): CoreV1Api {
    const fail = (code: number) => Object.assign(new Error(`HTTP ${code}`), { code });
    const clone = <T>(v: T): T => structuredClone(v);
    return {
      readNamespacedSecret: async () => {
        if (!this.secret) throw fail(404);
        return clone(this.secret);
      },
      createNamespacedSecret: async ({ body }: { body: V1Secret }) => {
        if (this.secret) throw fail(409);
        this.writes++;
        this.secret = { ...clone(body), metadata: { ...body.metadata, resourceVersion: String(++this.version) } };
        return clone(this.secret);
      },
      replaceNamespacedSecret: async ({ body }: { body: V1Secret }) => {
        if (!this.secret) throw fail(404);
        if (body.metadata?.resourceVersion !== this.secret.metadata!.resourceVersion) throw fail(409);
        this.writes++;
        this.secret = { ...clone(body), metadata: { ...body.metadata, resourceVersion: String(++this.version) } };
        return clone(this.secret);
      },
    } as unknown as CoreV1Api;
  }
}

class FakePublisher implements BundlePublisher {
  bundle: string | undefined;
  publications = 0;
  async read() {
    return this.bundle;
  }
  async publish(bundle: string) {
    this.publications++;
    this.bundle = bundle;
  }
}

const policy: RotationPolicy = {
  caValidityMs: 10 * 86_400_000,
  servingValidityMs: 3 * 86_400_000,
  renewBeforeFraction: 1 / 3,
  propagationMs: 60_000,
  commonName: 'wh',
  dnsNames: ['wh.ops.svc'],
  ipAddresses: [],
};
const log = { info: () => {}, warn: () => {} };

test('first start creates the Secret and publishes the bundle before serving; a second pass writes nothing', async (t) => {
  const secrets = new FakeSecrets();
  const publisher = new FakePublisher();
  const now = new Date('2026-11-28T00:00:00Z');
  const manager = new SelfManagedCertificates({ core: secrets.api(), namespace: 'ops', secretName: 's', publisher, policy, log, now: () => now });
  const { serving } = await manager.reconcile();
  t.is(secrets.writes, 1);
  t.is(publisher.publications, 1);
  t.is(splitPemBundle(publisher.bundle!).length, 1);
  t.is(Buffer.from(secrets.secret!.data!['tls.crt']!, 'base64').toString(), serving.cert);
  await manager.reconcile();
  t.is(secrets.writes, 1, 'level-triggered: nothing rewritten');
  t.is(publisher.publications, 1);
});

test('two replicas racing on a fresh cluster end up with one CA and the same serving certificate', async (t) => {
  const secrets = new FakeSecrets();
  const publisher = new FakePublisher();
  const now = () => new Date('2026-11-28T00:00:00Z');
  const a = new SelfManagedCertificates({ core: secrets.api(), namespace: 'ops', secretName: 's', publisher, policy, log, now });
  const b = new SelfManagedCertificates({ core: secrets.api(), namespace: 'ops', secretName: 's', publisher, policy, log, now });
  const [ra, rb] = await Promise.all([a.reconcile(), b.reconcile()]);
  t.is(ra.serving.cert, rb.serving.cert);
  t.is(splitPemBundle(publisher.bundle!).length, 1);
});

test('a CA roll-over is driven across passes: publish next CA, wait, switch, wait, drop', async (t) => {
  const secrets = new FakeSecrets();
  const publisher = new FakePublisher();
  let nowMs = Date.parse('2026-11-28T00:00:00Z');
  const manager = new SelfManagedCertificates({ core: secrets.api(), namespace: 'ops', secretName: 's', publisher, policy, log, now: () => new Date(nowMs) });
  const first = await manager.reconcile();
  nowMs += 7 * 86_400_000; // CA has less than a third of its life left
  const during = await manager.reconcile();
  t.is(splitPemBundle(publisher.bundle!).length, 2, 'next CA published next to the current one');
  t.truthy(secrets.secret!.metadata!.annotations!['vault.autopilot.dev/next-ca-published-at']);
  const caBefore = secrets.secret!.data!['ca.crt'];
  nowMs += 30_000; // not yet propagated
  await manager.reconcile();
  t.is(secrets.secret!.data!['ca.crt'], caBefore, 'no switch before the propagation time');
  nowMs += 31_000;
  const switched = await manager.reconcile();
  t.not(secrets.secret!.data!['ca.crt'], caBefore);
  t.not(switched.serving.cert, during.serving.cert);
  t.is(splitPemBundle(publisher.bundle!).length, 2, 'old CA still trusted right after the switch');
  nowMs += 61_000;
  await manager.reconcile();
  t.is(splitPemBundle(publisher.bundle!).length, 1, 'old CA dropped');
  t.not(first.serving.cert, switched.serving.cert);
});

test('a failing publisher does not stop serving, and the next CA is never used before it is published', async (t) => {
  const secrets = new FakeSecrets();
  const publisher = new FakePublisher();
  let nowMs = Date.parse('2026-11-28T00:00:00Z');
  const manager = new SelfManagedCertificates({ core: secrets.api(), namespace: 'ops', secretName: 's', publisher, policy, log, now: () => new Date(nowMs) });
  const first = await manager.reconcile();
  const broken = publisher.publish.bind(publisher);
  publisher.publish = async () => {
    throw new Error('forbidden');
  };
  nowMs += 7 * 86_400_000; // next CA due
  const r1 = await manager.reconcile();
  nowMs += 10 * 60_000; // well past the propagation time, but never published
  const r2 = await manager.reconcile();
  const publishedCa = new X509Certificate(splitPemBundle(publisher.bundle!)[0]!);
  t.is(splitPemBundle(publisher.bundle!).length, 1);
  t.true(new X509Certificate(r1.serving.cert).checkIssued(publishedCa), 'serving (renewed or not) by the published CA');
  t.true(new X509Certificate(r2.serving.cert).checkIssued(publishedCa), 'still signed by the published CA');
  t.true(new X509Certificate(first.serving.cert).checkIssued(publishedCa));
  t.falsy(secrets.secret!.metadata!.annotations?.['vault.autopilot.dev/next-ca-published-at']);
  publisher.publish = broken;
  await manager.reconcile();
  t.is(splitPemBundle(publisher.bundle!).length, 2, 'published once the publisher works again');
});
