// A keyed work queue with the guarantees a controller needs:
//  - a key waiting to run is queued once, however many events arrive;
//  - one key is never processed twice at once: an add() during processing
//    marks it dirty and it runs again right after;
//  - up to `concurrency` different keys run in parallel;
//  - a failed key is retried after a capped exponential backoff; success resets it;
//  - a key may ask to run again after some time (requeueAfter);
//  - drain() stops starting new work and waits (bounded) for work in flight;
//  - a key waiting on something slow outside the process (a batched write other
//    keys join) lends its slot meanwhile (waitOutsideSlot) and gets one back
//    ahead of keys not yet started.
import { backoffDelay, type BackoffPolicy } from './backoff.js';
import { type Clock, type TimerHandle } from './clock.js';

export interface ProcessResult {
  requeueAfterMs?: number;
}

/** Handed to each processing of a key. */
export interface KeySlot {
  /**
   * Waits for `work` without holding a concurrency slot: the slot goes to the
   * next key meanwhile; once `work` settles, this key waits for a free slot
   * (ahead of keys not yet started) and then gets `work`'s outcome. The key
   * stays in flight throughout: it never runs twice at once, and an add()
   * meanwhile still re-runs it afterwards. For a wait that other keys feed
   * (a batch that grows while they wait): holding the slot would cap the
   * batch at `concurrency`.
   */
  waitOutsideSlot<T>(work: Promise<T>): Promise<T>;
}

export interface WorkQueueOptions {
  concurrency: number;
  backoff: BackoffPolicy;
  clock: Clock;
  process(key: string, slot: KeySlot): Promise<ProcessResult | void>;
  /** Called when a key failed and is scheduled for retry. */
  onRetry?(key: string, error: unknown, attempt: number, delayMs: number): void;
  /** Called after each processing of a key, ok or not. */
  onProcessed?(key: string, durationMs: number, error: unknown | undefined): void;
  random?: () => number;
}

interface Delayed {
  at: number;
  timer: TimerHandle;
}

/** One processing of a key, and whether it holds a concurrency slot right now. */
interface Run {
  holding: boolean;
  done: boolean;
  /** waitOutsideSlot() calls whose work settled, waiting for a slot (several when used in parallel) */
  resumers: Array<() => void>;
}

export class WorkQueue {
  readonly #opts: WorkQueueOptions;
  readonly #ready: string[] = [];
  readonly #readySet = new Set<string>();
  readonly #processing = new Set<string>();
  readonly #dirty = new Set<string>();
  readonly #delayed = new Map<string, Delayed>();
  readonly #failures = new Map<string, number>();
  /** runs whose waitOutsideSlot() work settled, waiting for a slot: served before #ready */
  readonly #resuming: Run[] = [];
  /** runs holding a slot (at most `concurrency`); #processing also counts those waiting outside one */
  #active = 0;
  #running = false;
  #stopped = false;
  #idleWaiters: Array<() => void> = [];

  constructor(opts: WorkQueueOptions) {
    if (opts.concurrency < 1) throw new Error('concurrency must be at least 1');
    this.#opts = opts;
  }

  /** Keys waiting to run now (not counting delayed or in-flight ones). */
  get depth(): number {
    return this.#ready.length;
  }
  /** Keys being processed, including those waiting outside their slot. */
  get inFlight(): number {
    return this.#processing.size;
  }
  /** Keys being processed that hold a slot right now (≤ concurrency). */
  get active(): number {
    return this.#active;
  }
  get delayedCount(): number {
    return this.#delayed.size;
  }
  /** Keys waiting to run now, in order (for per-kind depth metrics). */
  pendingKeys(): readonly string[] {
    return [...this.#ready];
  }
  failuresOf(key: string): number {
    return this.#failures.get(key) ?? 0;
  }

  start(): void {
    if (this.#stopped) throw new Error('work queue was drained and cannot restart');
    this.#running = true;
    this.#pump();
  }

  /** Run `key` as soon as possible. */
  add(key: string): void {
    if (this.#stopped) return;
    this.#cancelDelayed(key);
    if (this.#processing.has(key)) {
      this.#dirty.add(key);
      return;
    }
    if (this.#readySet.has(key)) return;
    this.#readySet.add(key);
    this.#ready.push(key);
    this.#pump();
  }

  /** Run `key` after `delayMs`, unless it is already due earlier. */
  addAfter(key: string, delayMs: number): void {
    if (this.#stopped) return;
    if (delayMs <= 0) return this.add(key);
    if (this.#readySet.has(key)) return;
    const at = this.#opts.clock.now().getTime() + delayMs;
    const existing = this.#delayed.get(key);
    if (existing && existing.at <= at) return;
    this.#cancelDelayed(key);
    const timer = this.#opts.clock.setTimeout(() => {
      this.#delayed.delete(key);
      this.add(key);
    }, delayMs);
    this.#delayed.set(key, { at, timer });
  }

  /** Drop everything known about `key` (e.g. the object is gone). In-flight work still finishes. */
  forget(key: string): void {
    this.#cancelDelayed(key);
    this.#failures.delete(key);
    this.#dirty.delete(key);
    if (this.#readySet.delete(key)) {
      const i = this.#ready.indexOf(key);
      if (i >= 0) this.#ready.splice(i, 1);
    }
  }

  /**
   * Stop starting work, cancel scheduled retries, and wait for work in flight.
   * Resolves true when everything finished, false when `timeoutMs` ran out first.
   */
  async drain(timeoutMs: number): Promise<boolean> {
    this.#stopped = true;
    this.#running = false;
    for (const key of [...this.#delayed.keys()]) this.#cancelDelayed(key);
    if (this.#processing.size === 0) return true;
    return new Promise<boolean>((resolve) => {
      let settled = false;
      const timer = this.#opts.clock.setTimeout(() => {
        if (settled) return;
        settled = true;
        resolve(false);
      }, timeoutMs);
      this.#idleWaiters.push(() => {
        if (settled) return;
        settled = true;
        this.#opts.clock.clearTimeout(timer);
        resolve(true);
      });
    });
  }

  #cancelDelayed(key: string): void {
    const d = this.#delayed.get(key);
    if (!d) return;
    this.#opts.clock.clearTimeout(d.timer);
    this.#delayed.delete(key);
  }

  #pump(): void {
    while (this.#active < this.#opts.concurrency) {
      // work in flight first, also while draining: it has to finish
      const resumed = this.#resuming.shift();
      if (resumed) {
        this.#grant(resumed);
        continue;
      }
      if (!this.#running || this.#ready.length === 0) return;
      const key = this.#ready.shift() as string;
      this.#readySet.delete(key);
      this.#processing.add(key);
      void this.#run(key);
    }
  }

  #grant(run: Run): void {
    const resumers = run.resumers;
    run.resumers = [];
    // a run that returned without awaiting its wait no longer counts against the bound
    if (!run.done) {
      run.holding = true;
      this.#active++;
    }
    for (const resume of resumers) resume();
  }

  async #waitOutsideSlot<T>(run: Run, work: Promise<T>): Promise<T> {
    if (run.holding && !run.done) {
      run.holding = false;
      this.#active--;
      this.#pump();
    }
    try {
      return await work;
    } finally {
      if (!run.holding && !run.done) {
        await new Promise<void>((resume) => {
          if (run.resumers.length === 0) this.#resuming.push(run);
          run.resumers.push(resume);
          this.#pump();
        });
      }
    }
  }

  async #run(key: string): Promise<void> {
    const started = this.#opts.clock.now().getTime();
    const run: Run = { holding: true, done: false, resumers: [] };
    this.#active++;
    let result: ProcessResult | void = undefined;
    let error: unknown = undefined;
    let failed = false;
    try {
      result = await this.#opts.process(key, { waitOutsideSlot: (work) => this.#waitOutsideSlot(run, work) });
    } catch (err) {
      failed = true;
      error = err;
    }
    run.done = true;
    if (run.holding) this.#active--;
    run.holding = false;
    const duration = this.#opts.clock.now().getTime() - started;
    this.#processing.delete(key);
    const dirty = this.#dirty.delete(key);
    try {
      this.#opts.onProcessed?.(key, duration, failed ? error : undefined);
    } catch {
      // a metrics hook must not break the queue
    }
    if (failed) {
      const attempt = (this.#failures.get(key) ?? 0) + 1;
      this.#failures.set(key, attempt);
      const delay = backoffDelay(attempt, this.#opts.backoff, this.#opts.random);
      // A new event during a failing run is folded into the retry: the retry
      // reads the latest object anyway, and this keeps a hot failing key backed off.
      this.addAfter(key, delay);
      try {
        this.#opts.onRetry?.(key, error, attempt, delay);
      } catch {
        // logging hook must not break the queue
      }
    } else {
      this.#failures.delete(key);
      if (dirty) this.add(key);
      else if (result && typeof result.requeueAfterMs === 'number' && result.requeueAfterMs > 0) {
        this.addAfter(key, result.requeueAfterMs);
      }
    }
    if (this.#processing.size === 0 && this.#idleWaiters.length > 0) {
      const waiters = this.#idleWaiters;
      this.#idleWaiters = [];
      for (const w of waiters) w();
    }
    this.#pump();
  }
}
