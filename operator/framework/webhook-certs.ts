// Self-managed webhook certificates: the rotation state kept in a Secret,
// the caBundle published, the serving certificate handed to the webhook
// server. Issuing is x509.ts; deciding what to do is cert-rotation.ts.
import type { CoreV1Api, V1Secret } from '@kubernetes/client-node';
import { planRotation, trustBundle, type RotationPolicy, type WebhookCertState } from './cert-rotation.js';
import { errorCode, getOrUndefined } from './kube.js';
import { splitPemBundle, type IssuedPair } from './x509.js';

export * from './x509.js';
export * from './cert-rotation.js';

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

  // Its own timer, not the framework's queue (AutopilotOperator.every): every
  // replica serves the webhook and must rotate and reload its certificate,
  // while the queue runs only on the leader.
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
  return getOrUndefined(core.readNamespacedSecret({ name, namespace }));
}
