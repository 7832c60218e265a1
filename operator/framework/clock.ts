// Time as a dependency, so queue/backoff/condition logic is testable without waiting.

export type TimerHandle = object;

export interface Clock {
  now(): Date;
  setTimeout(fn: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
}

export const systemClock: Clock = {
  now: () => new Date(),
  setTimeout: (fn, ms) => setTimeout(fn, Math.max(0, ms)),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

interface FakeTimer {
  id: number;
  at: number;
  fn: () => void;
}

/** A clock whose time only moves when a test calls `advance()`. Timers fire in time order. */
export class FakeClock implements Clock {
  #nowMs: number;
  #timers: FakeTimer[] = [];
  #nextId = 1;

  constructor(start: Date | number = Date.parse('2026-01-01T00:00:00Z')) {
    this.#nowMs = typeof start === 'number' ? start : start.getTime();
  }

  now(): Date {
    return new Date(this.#nowMs);
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const timer: FakeTimer = { id: this.#nextId++, at: this.#nowMs + Math.max(0, ms), fn };
    this.#timers.push(timer);
    return { id: timer.id };
  }

  clearTimeout(handle: TimerHandle): void {
    const id = (handle as { id?: number }).id;
    this.#timers = this.#timers.filter((t) => t.id !== id);
  }

  /** Timers not yet fired, for assertions. */
  get pendingTimers(): number {
    return this.#timers.length;
  }

  /** Delay until the next timer fires, or undefined. */
  nextTimerInMs(): number | undefined {
    if (this.#timers.length === 0) return undefined;
    return Math.min(...this.#timers.map((t) => t.at)) - this.#nowMs;
  }

  /**
   * Moves time forward by `ms`, firing due timers in order; between timers it
   * lets pending promise callbacks run so async work started by a timer can
   * schedule the next one.
   */
  async advance(ms: number): Promise<void> {
    const target = this.#nowMs + ms;
    for (;;) {
      await flushMicrotasks();
      const due = this.#timers.filter((t) => t.at <= target).sort((a, b) => a.at - b.at || a.id - b.id)[0];
      if (!due) break;
      this.#timers = this.#timers.filter((t) => t !== due);
      this.#nowMs = Math.max(this.#nowMs, due.at);
      due.fn();
    }
    this.#nowMs = target;
    await flushMicrotasks();
  }
}

/** Lets already-resolved promise chains run to completion (several hops deep). */
export async function flushMicrotasks(rounds = 20): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}
