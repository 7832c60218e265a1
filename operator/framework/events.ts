// Kubernetes Events (core/v1) for what a person should notice. Repeats of the
// same type+reason+message for the same object within a window bump `count`
// on the existing Event instead of creating a new one. Messages pass through
// the logger's redaction so a marked secret cannot reach an Event.
import type { KubernetesObject } from '@kubernetes/client-node';
import type { Clock } from './clock.js';
import { toKubeTime } from './conditions.js';
import { errorCode, PATCH, resourcePath, type RawKube } from './kube.js';
import { errorMessage, objectScope, redactText, type Logger } from './logger.js';

export type EventType = 'Normal' | 'Warning';

/**
 * Pure: the Event messages for a pass that made many changes: one naming
 * each item up to `max`, then one from `rest` for the others. A burst (1,000
 * ServiceAccounts) was an Event per change, posted one after the other while
 * the next pass waited; the log still names each.
 */
export function cappedMessages<T>(items: readonly T[], max: number, name: (item: T) => string, rest: (others: readonly T[]) => string): string[] {
  const named = items.slice(0, max).map(name);
  return items.length > max ? [...named, rest(items.slice(max))] : named;
}

export interface EventRecorderOptions {
  raw: RawKube;
  component: string;
  clock: Clock;
  logger: Logger;
  /** Repeats within this window are aggregated into one Event (default 10 min). */
  aggregateWindowMs?: number;
}

interface Recorded {
  name: string;
  namespace: string;
  count: number;
  lastSeenMs: number;
}

const MAX_MESSAGE = 1024;
const MAX_REMEMBERED = 4096;

export class EventRecorder {
  readonly #o: EventRecorderOptions;
  readonly #recent = new Map<string, Recorded>();
  #sequence = 0;

  constructor(opts: EventRecorderOptions) {
    this.#o = opts;
  }

  /** Records an Event about `obj`. Never throws: failing to record must not fail a reconcile. */
  async record(obj: KubernetesObject, type: EventType, reason: string, message: string): Promise<void> {
    try {
      await this.#record(obj, type, reason, message);
    } catch (err) {
      this.#o.logger.warn('could not record event', { reason, error: errorMessage(err) });
    }
  }

  async #record(obj: KubernetesObject, type: EventType, reason: string, rawMessage: string): Promise<void> {
    const meta = obj.metadata ?? {};
    const namespace = meta.namespace || 'default';
    // an object's own scoped secrets too (see setScopedSecrets): the scope a ctx.log line about it has
    const message = truncate(redactText(rawMessage, objectScope(obj.kind ?? '', meta.namespace, meta.name)), MAX_MESSAGE);
    const nowMs = this.#o.clock.now().getTime();
    const now = toKubeTime(new Date(nowMs));
    const window = this.#o.aggregateWindowMs ?? 10 * 60_000;
    const key = [meta.uid ?? `${namespace}/${meta.name}`, type, reason, message].join('\u0000');
    const seen = this.#recent.get(key);
    if (seen && nowMs - seen.lastSeenMs < window) {
      try {
        await this.#o.raw.request({
          method: 'PATCH',
          path: resourcePath('', 'v1', 'events', seen.namespace, seen.name),
          body: { count: seen.count + 1, lastTimestamp: now },
          contentType: PATCH.merge,
          timeoutMs: 15_000,
        });
        seen.count += 1;
        seen.lastSeenMs = nowMs;
        return;
      } catch (err) {
        if (errorCode(err) !== 404) throw err;
        this.#recent.delete(key); // the Event expired (TTL): create a fresh one
      }
    }
    const name = `${meta.name ?? 'object'}.${nowMs.toString(16)}${(this.#sequence++ % 4096).toString(16).padStart(3, '0')}`;
    await this.#o.raw.request({
      method: 'POST',
      path: resourcePath('', 'v1', 'events', namespace),
      body: {
        apiVersion: 'v1',
        kind: 'Event',
        metadata: { name, namespace },
        involvedObject: {
          apiVersion: obj.apiVersion,
          kind: obj.kind,
          name: meta.name,
          namespace: meta.namespace,
          uid: meta.uid,
          resourceVersion: meta.resourceVersion,
        },
        reason,
        message,
        type,
        count: 1,
        firstTimestamp: now,
        lastTimestamp: now,
        source: { component: this.#o.component },
        reportingComponent: this.#o.component,
        reportingInstance: this.#o.component,
      },
      timeoutMs: 15_000,
    });
    this.#remember(key, { name, namespace, count: 1, lastSeenMs: nowMs }, nowMs, window);
  }

  #remember(key: string, rec: Recorded, nowMs: number, window: number): void {
    this.#recent.set(key, rec);
    if (this.#recent.size <= MAX_REMEMBERED) return;
    for (const [k, v] of this.#recent) if (nowMs - v.lastSeenMs >= window) this.#recent.delete(k);
    // Still too many: forget the oldest entries (Map keeps insertion order).
    for (const k of this.#recent.keys()) {
      if (this.#recent.size <= MAX_REMEMBERED) break;
      this.#recent.delete(k);
    }
  }
}

function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 3)}...`;
}
