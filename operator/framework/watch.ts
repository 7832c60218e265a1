// A list+watch that survives anything short of being stopped:
//  - initial LIST (paged), then WATCH from the list's resourceVersion with bookmarks;
//  - after a disconnect it resumes from the last resourceVersion it saw;
//  - 410 Gone (history compacted) -> relist, emitting DELETED for objects
//    that vanished during the gap and MODIFIED only for objects that changed;
//  - errors back off exponentially (capped) and never end the process.
// It keeps the latest copy of every object (the cache workers read from).
import type { KubernetesObject } from '@kubernetes/client-node';
import { backoffDelay, type BackoffPolicy } from './backoff.js';
import type { Clock, TimerHandle } from './clock.js';
import { errorCode, KubeApiError, resourcePath, type RawKube } from './kube.js';
import type { Logger } from './logger.js';

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface ResourceRef {
  group: string;
  version: string;
  plural: string;
  namespace?: string;
}

export interface ResilientWatchOptions extends ResourceRef {
  /** Only objects with these labels (a Kubernetes label selector, e.g. `app=x,tier=y`). */
  labelSelector?: string;
  raw: RawKube;
  clock: Clock;
  logger: Logger;
  backoff?: BackoffPolicy;
  /** Server-side timeout of one watch request; a new one starts after it (default 1-2 min, randomised). */
  watchTimeoutSeconds?: number;
  pageSize?: number;
  /** `previous` is the cached copy before this event, if any. */
  onEvent(type: WatchEventType, obj: KubernetesObject, previous: KubernetesObject | undefined): void;
  /** Called on every (re)connect problem; for metrics. */
  onError?(err: unknown): void;
}

export const DEFAULT_WATCH_BACKOFF: BackoffPolicy = { baseMs: 250, maxMs: 5000, jitter: 0.2 };

interface ListBody {
  kind?: string;
  metadata?: { resourceVersion?: string; continue?: string };
  items?: KubernetesObject[];
}

interface WatchLine {
  type: WatchEventType | 'BOOKMARK' | 'ERROR';
  object: KubernetesObject & { code?: number; message?: string; reason?: string };
}

export function objectKey(obj: KubernetesObject): string {
  return `${obj.metadata?.namespace ?? ''}/${obj.metadata?.name ?? ''}`;
}

/**
 * What a relist means for a cache: pure, so the gap handling is unit-testable.
 * Unchanged objects (same resourceVersion) produce no event.
 */
export function diffRelist(cache: ReadonlyMap<string, KubernetesObject>, listed: readonly KubernetesObject[]): Array<{ type: WatchEventType; obj: KubernetesObject }> {
  const out: Array<{ type: WatchEventType; obj: KubernetesObject }> = [];
  const seen = new Set<string>();
  for (const obj of listed) {
    const key = objectKey(obj);
    seen.add(key);
    const old = cache.get(key);
    if (!old) out.push({ type: 'ADDED', obj });
    else if (old.metadata?.resourceVersion !== obj.metadata?.resourceVersion) out.push({ type: 'MODIFIED', obj });
  }
  for (const [key, obj] of cache) if (!seen.has(key)) out.push({ type: 'DELETED', obj });
  return out;
}

export class ResilientWatch {
  readonly #o: ResilientWatchOptions;
  readonly #cache = new Map<string, KubernetesObject>();
  readonly #apiVersion: string;
  #kind: string | undefined;
  #resourceVersion: string | undefined;
  #synced = false;
  #stopped = false;
  #failures = 0;
  #abortCurrent: AbortController | undefined;
  #sleepTimer: { handle: TimerHandle; wake: () => void } | undefined;
  #loop: Promise<void> | undefined;
  #syncWaiters: Array<() => void> = [];

  constructor(opts: ResilientWatchOptions) {
    this.#o = opts;
    this.#apiVersion = opts.group ? `${opts.group}/${opts.version}` : opts.version;
  }

  get id(): string {
    return `${this.#o.plural}.${this.#apiVersion}${this.#o.namespace ? ` in ${this.#o.namespace}` : ''}`;
  }
  /** True once the initial LIST has completed (stays true across reconnects). */
  get synced(): boolean {
    return this.#synced;
  }
  get resourceVersion(): string | undefined {
    return this.#resourceVersion;
  }
  get(namespace: string | undefined, name: string): KubernetesObject | undefined {
    return this.#cache.get(`${namespace ?? ''}/${name}`);
  }
  list(): KubernetesObject[] {
    return [...this.#cache.values()];
  }

  start(): void {
    if (this.#loop) return;
    this.#loop = this.#run();
  }

  waitForSync(): Promise<void> {
    if (this.#synced) return Promise.resolve();
    return new Promise((resolve) => this.#syncWaiters.push(resolve));
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#abortCurrent?.abort();
    if (this.#sleepTimer) {
      this.#o.clock.clearTimeout(this.#sleepTimer.handle);
      this.#sleepTimer.wake();
    }
    await this.#loop;
  }

  async #run(): Promise<void> {
    const log = this.#o.logger;
    while (!this.#stopped) {
      try {
        if (this.#resourceVersion === undefined) await this.#relist();
        if (this.#stopped) break;
        const productive = await this.#watchOnce();
        // A clean end after a while (server timeout): reconnect at once. A watch
        // that closes at once without data (a server shutting down) counts as a failure.
        if (!productive && !this.#stopped) throw new Error('watch closed immediately');
      } catch (err) {
        if (this.#stopped) break;
        this.#o.onError?.(err);
        if (errorCode(err) === 410) {
          log.info('watch history expired (410 Gone), relisting', { watch: this.id });
          this.#resourceVersion = undefined;
          continue;
        }
        this.#failures++;
        const delay = backoffDelay(this.#failures, this.#o.backoff ?? DEFAULT_WATCH_BACKOFF);
        log.warn('watch failed, retrying', { watch: this.id, attempt: this.#failures, retryInMs: delay, error: errMessage(err) });
        await this.#sleep(delay);
      }
    }
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => {
        this.#sleepTimer = undefined;
        resolve();
      };
      this.#sleepTimer = { handle: this.#o.clock.setTimeout(wake, ms), wake };
    });
  }

  #path(): string {
    return resourcePath(this.#o.group, this.#o.version, this.#o.plural, this.#o.namespace);
  }

  #withTypeMeta(obj: KubernetesObject): KubernetesObject {
    // LIST items of built-in kinds carry no apiVersion/kind; handlers expect them.
    if (!obj.apiVersion) obj.apiVersion = this.#apiVersion;
    if (!obj.kind && this.#kind) obj.kind = this.#kind;
    return obj;
  }

  async #relist(): Promise<void> {
    const items: KubernetesObject[] = [];
    let continueToken: string | undefined;
    let resourceVersion: string | undefined;
    do {
      const abort = new AbortController();
      this.#abortCurrent = abort;
      const page = await this.#o.raw.request<ListBody>({
        method: 'GET',
        path: this.#path(),
        query: { limit: this.#o.pageSize ?? 500, continue: continueToken, labelSelector: this.#o.labelSelector },
        timeoutMs: 60_000,
        signal: abort.signal,
      });
      this.#abortCurrent = undefined;
      if (page.kind && page.kind.endsWith('List')) this.#kind = page.kind.slice(0, -'List'.length);
      items.push(...(page.items ?? []));
      continueToken = page.metadata?.continue || undefined;
      resourceVersion = page.metadata?.resourceVersion;
    } while (continueToken && !this.#stopped);
    if (this.#stopped) return;
    const changes = diffRelist(this.#cache, items.map((i) => this.#withTypeMeta(i))).map((c) => ({ ...c, previous: this.#cache.get(objectKey(c.obj)) }));
    for (const { type, obj } of changes) {
      if (type === 'DELETED') this.#cache.delete(objectKey(obj));
      else this.#cache.set(objectKey(obj), obj);
    }
    this.#resourceVersion = resourceVersion;
    this.#failures = 0;
    if (!this.#synced) {
      this.#synced = true;
      this.#o.logger.info('watch synced', { watch: this.id, objects: this.#cache.size });
      for (const w of this.#syncWaiters.splice(0)) w();
    }
    for (const { type, obj, previous } of changes) this.#emit(type, obj, previous);
  }

  #emit(type: WatchEventType, obj: KubernetesObject, previous: KubernetesObject | undefined): void {
    try {
      this.#o.onEvent(type, obj, previous);
    } catch (err) {
      this.#o.logger.error('watch event handler threw', { watch: this.id, error: errMessage(err) });
    }
  }

  /** Returns false when the watch closed within a second without any line. */
  async #watchOnce(): Promise<boolean> {
    const openedAt = this.#o.clock.now().getTime();
    let lines = 0;
    // Short server-side timeouts (1-2 min) bound how long a silently dead connection
    // can go unnoticed (watchdog = timeout + 30 s); resuming costs no relist.
    const timeoutSeconds = this.#o.watchTimeoutSeconds ?? 60 + Math.floor(Math.random() * 60);
    const abort = new AbortController();
    this.#abortCurrent = abort;
    // A connection that goes silent past the server timeout (or never answers) is dead: drop it.
    const watchdogMs = (timeoutSeconds + 30) * 1000;
    let watchdog = this.#o.clock.setTimeout(() => abort.abort(), watchdogMs);
    let stream;
    try {
      stream = await this.#o.raw.stream({
        path: this.#path(),
        query: { watch: 'true', resourceVersion: this.#resourceVersion, allowWatchBookmarks: 'true', timeoutSeconds, labelSelector: this.#o.labelSelector },
        signal: abort.signal,
      });
    } catch (err) {
      this.#o.clock.clearTimeout(watchdog);
      this.#abortCurrent = undefined;
      throw err;
    }
    if (this.#stopped) {
      this.#o.clock.clearTimeout(watchdog);
      stream.abort();
      return true;
    }
    abort.signal.addEventListener('abort', () => stream.abort(), { once: true });
    const res = stream.response;
    let buffer = '';
    let failure: unknown;
    try {
      await new Promise<void>((resolve, reject) => {
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          this.#o.clock.clearTimeout(watchdog);
          watchdog = this.#o.clock.setTimeout(() => abort.abort(), watchdogMs);
          buffer += chunk;
          let nl: number;
          while ((nl = buffer.indexOf('\n')) >= 0) {
            const line = buffer.slice(0, nl).trim();
            buffer = buffer.slice(nl + 1);
            if (!line) continue;
            lines++;
            try {
              this.#handleLine(JSON.parse(line) as WatchLine);
            } catch (err) {
              failure = err;
              stream.abort();
              reject(err);
              return;
            }
          }
        });
        res.on('end', () => resolve());
        res.on('close', () => resolve());
        res.on('error', (err) => reject(err));
        res.on('aborted', () => resolve());
      });
    } finally {
      this.#o.clock.clearTimeout(watchdog);
      this.#abortCurrent = undefined;
    }
    if (failure) throw failure;
    return lines > 0 || this.#o.clock.now().getTime() - openedAt >= 1000;
  }

  #handleLine(line: WatchLine): void {
    if (line.type === 'ERROR') {
      const status = line.object;
      throw new KubeApiError(status.code ?? 500, status, 'WATCH', this.#path());
    }
    const rv = line.object?.metadata?.resourceVersion;
    if (line.type === 'BOOKMARK') {
      if (rv) this.#resourceVersion = rv;
      return;
    }
    const obj = this.#withTypeMeta(line.object);
    const key = objectKey(obj);
    const previous = this.#cache.get(key);
    if (line.type === 'DELETED') this.#cache.delete(key);
    else this.#cache.set(key, obj);
    if (rv) this.#resourceVersion = rv;
    // Data is flowing again: the next failure starts its backoff from the bottom.
    this.#failures = 0;
    this.#emit(line.type, obj, previous);
  }
}

function errMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
