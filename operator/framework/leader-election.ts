// Leader election on a coordination.k8s.io/v1 Lease, so only one replica
// reconciles. Expiry is judged by when THIS process last saw the lease change
// (as client-go does), never by comparing another host's clock with ours.
import type { Clock, TimerHandle } from './clock.js';
import { errorCode, getOrUndefined, resourcePath, type RawKube } from './kube.js';
import { errorMessage, type Logger } from './logger.js';

export interface LeaseRecord {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  acquireTime?: Date;
  renewTime?: Date;
  leaseTransitions?: number;
}

export type LeaseDecision =
  | { action: 'create' | 'acquire' | 'renew'; next: LeaseRecord }
  | { action: 'wait'; holder: string };

export interface LeaseInput {
  /** undefined: there is no Lease object yet. */
  current: LeaseRecord | undefined;
  identity: string;
  now: Date;
  leaseDurationMs: number;
  /** When this process first saw the current holder/renewTime pair. */
  observedAt: Date;
}

/** Pure: what to do with the lease now. */
export function decideLease(input: LeaseInput): LeaseDecision {
  const { current, identity, now, leaseDurationMs } = input;
  const durationSeconds = Math.max(1, Math.ceil(leaseDurationMs / 1000));
  if (!current) {
    return { action: 'create', next: { holderIdentity: identity, leaseDurationSeconds: durationSeconds, acquireTime: now, renewTime: now, leaseTransitions: 0 } };
  }
  if (current.holderIdentity === identity) {
    return { action: 'renew', next: { ...current, leaseDurationSeconds: durationSeconds, renewTime: now } };
  }
  const holder = current.holderIdentity ?? '';
  const theirDurationMs = (current.leaseDurationSeconds ?? durationSeconds) * 1000;
  const expired = holder === '' || now.getTime() - input.observedAt.getTime() >= theirDurationMs;
  if (!expired) return { action: 'wait', holder };
  return {
    action: 'acquire',
    next: {
      holderIdentity: identity,
      leaseDurationSeconds: durationSeconds,
      acquireTime: now,
      renewTime: now,
      leaseTransitions: (current.leaseTransitions ?? 0) + (holder === identity ? 0 : 1),
    },
  };
}

export interface LeaderElectionOptions {
  namespace: string;
  leaseName: string;
  /** Unique per replica; default: hostname + pid. */
  identity?: string;
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
}

/** metav1.MicroTime wants exactly six fractional digits (client-node 1.4 sends three, which the apiserver rejects). */
export function toMicroTime(date: Date): string {
  return date.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

interface LeaseObject {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string; namespace?: string; resourceVersion?: string };
  spec?: { holderIdentity?: string; leaseDurationSeconds?: number; acquireTime?: string; renewTime?: string; leaseTransitions?: number };
}

function recordOf(lease: LeaseObject): LeaseRecord {
  const s = lease.spec ?? {};
  return {
    holderIdentity: s.holderIdentity,
    leaseDurationSeconds: s.leaseDurationSeconds,
    acquireTime: s.acquireTime ? new Date(s.acquireTime) : undefined,
    renewTime: s.renewTime ? new Date(s.renewTime) : undefined,
    leaseTransitions: s.leaseTransitions,
  };
}

function specOf(r: LeaseRecord): NonNullable<LeaseObject['spec']> {
  return {
    holderIdentity: r.holderIdentity,
    leaseDurationSeconds: r.leaseDurationSeconds,
    acquireTime: r.acquireTime ? toMicroTime(r.acquireTime) : undefined,
    renewTime: r.renewTime ? toMicroTime(r.renewTime) : undefined,
    leaseTransitions: r.leaseTransitions,
  };
}

export interface LeaderElectorDeps extends LeaderElectionOptions {
  raw: RawKube;
  clock: Clock;
  logger: Logger;
  identity: string;
  onStartedLeading(): void;
  onStoppedLeading(): void;
}

export class LeaderElector {
  readonly #d: LeaderElectorDeps;
  #leader = false;
  #lastRenewMs = 0;
  #observed: { key: string; at: Date } | undefined;
  #timer: TimerHandle | undefined;
  #stopped = false;
  #running: Promise<void> | undefined;

  constructor(deps: LeaderElectorDeps) {
    this.#d = deps;
  }

  get isLeader(): boolean {
    return this.#leader;
  }
  get identity(): string {
    return this.#d.identity;
  }

  start(): void {
    this.#schedule(0);
  }

  /** Stops campaigning; a leader gives the lease up so another replica takes over at once. */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) this.#d.clock.clearTimeout(this.#timer);
    await this.#running;
    if (this.#leader) {
      this.#leader = false;
      try {
        const lease = await this.#read();
        if (lease?.spec?.holderIdentity === this.#d.identity) {
          await this.#write('PUT', {
            ...lease,
            spec: { ...lease.spec, ...specOf({ ...recordOf(lease), holderIdentity: '', leaseDurationSeconds: 1, renewTime: this.#d.clock.now() }) },
          });
          this.#d.logger.info('leader lease released', { lease: this.#d.leaseName });
        }
      } catch (err) {
        this.#d.logger.warn('could not release the leader lease', { error: errorMessage(err) });
      }
    }
  }

  #schedule(ms: number): void {
    if (this.#stopped) return;
    this.#timer = this.#d.clock.setTimeout(() => {
      this.#running = this.#tick().finally(() => this.#schedule(this.#d.retryPeriodMs ?? 2000));
    }, ms);
  }

  #path(name?: string): string {
    return resourcePath('coordination.k8s.io', 'v1', 'leases', this.#d.namespace, name);
  }

  async #read(): Promise<LeaseObject | undefined> {
    return getOrUndefined(this.#d.raw.request<LeaseObject>({ method: 'GET', path: this.#path(this.#d.leaseName), timeoutMs: 10_000 }));
  }

  async #write(method: 'POST' | 'PUT', lease: LeaseObject): Promise<void> {
    await this.#d.raw.request({
      method,
      path: method === 'POST' ? this.#path() : this.#path(this.#d.leaseName),
      body: { ...lease, apiVersion: 'coordination.k8s.io/v1', kind: 'Lease' },
      timeoutMs: 10_000,
    });
  }

  async #tick(): Promise<void> {
    const now = this.#d.clock.now();
    try {
      const lease = await this.#read();
      const current = lease ? recordOf(lease) : undefined;
      const key = `${current?.holderIdentity ?? ''}|${current?.renewTime?.getTime() ?? ''}`;
      if (!this.#observed || this.#observed.key !== key) this.#observed = { key, at: now };
      const decision = decideLease({
        current,
        identity: this.#d.identity,
        now,
        leaseDurationMs: this.#d.leaseDurationMs ?? 15_000,
        observedAt: this.#observed.at,
      });
      if (decision.action === 'wait') {
        if (this.#leader) this.#lose(`lease taken by ${decision.holder}`);
        return;
      }
      if (decision.action === 'create' || !lease) {
        await this.#write('POST', { metadata: { name: this.#d.leaseName, namespace: this.#d.namespace }, spec: specOf(decision.next) });
      } else {
        // metadata.resourceVersion travels along: a concurrent writer makes this a 409, not a second leader.
        await this.#write('PUT', { ...lease, spec: { ...lease.spec, ...specOf(decision.next) } });
      }
      this.#lastRenewMs = now.getTime();
      if (!this.#leader && !this.#stopped) {
        this.#leader = true;
        this.#d.logger.info('became leader', { lease: this.#d.leaseName, identity: this.#d.identity });
        this.#d.onStartedLeading();
      }
    } catch (err) {
      const code = errorCode(err);
      if (code !== 409) this.#d.logger.warn('leader election request failed', { error: errorMessage(err) });
      if (this.#leader && now.getTime() - this.#lastRenewMs > (this.#d.renewDeadlineMs ?? 10_000)) {
        this.#lose('could not renew the lease within the renew deadline');
      }
    }
  }

  #lose(why: string): void {
    this.#leader = false;
    this.#d.logger.error('lost leadership', { lease: this.#d.leaseName, why });
    this.#d.onStoppedLeading();
  }
}
