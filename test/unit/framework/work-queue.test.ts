import test from 'ava';
import { WorkQueue, type ProcessResult } from '../../../operator/framework/work-queue.js';
import { FakeClock, flushMicrotasks } from '../../../operator/framework/clock.js';

/** A processor whose calls stay open until the test releases them. */
function controllable() {
  const calls: string[] = [];
  const open = new Map<string, Array<{ resolve: (r?: ProcessResult) => void; reject: (e: unknown) => void }>>();
  let active = 0;
  let maxActive = 0;
  const perKeyActive = new Map<string, number>();
  let overlap = false;
  const process = (key: string) =>
    new Promise<ProcessResult | void>((resolve, reject) => {
      calls.push(key);
      active++;
      maxActive = Math.max(maxActive, active);
      const n = (perKeyActive.get(key) ?? 0) + 1;
      perKeyActive.set(key, n);
      if (n > 1) overlap = true;
      const done = () => {
        active--;
        perKeyActive.set(key, (perKeyActive.get(key) ?? 1) - 1);
      };
      const list = open.get(key) ?? [];
      list.push({
        resolve: (r) => {
          done();
          resolve(r);
        },
        reject: (e) => {
          done();
          reject(e);
        },
      });
      open.set(key, list);
    });
  const finish = async (key: string, result?: ProcessResult | Error) => {
    const entry = open.get(key)?.shift();
    if (!entry) throw new Error(`no open call for ${key}`);
    if (result instanceof Error) entry.reject(result);
    else entry.resolve(result);
    await flushMicrotasks();
  };
  return { calls, process, finish, stats: () => ({ maxActive, overlap, active }) };
}

function makeQueue(concurrency = 2) {
  const clock = new FakeClock();
  const p = controllable();
  const retries: Array<{ key: string; attempt: number; delayMs: number; message: string }> = [];
  const q = new WorkQueue({
    concurrency,
    clock,
    backoff: { baseMs: 100, maxMs: 400 },
    process: p.process,
    onRetry: (key, err, attempt, delayMs) => retries.push({ key, attempt, delayMs, message: (err as Error).message }),
  });
  return { clock, p, q, retries };
}

test('pending keys are deduplicated', async (t) => {
  const { p, q } = makeQueue(1);
  q.add('a');
  q.add('b');
  q.add('b');
  q.add('b');
  q.start();
  await flushMicrotasks();
  t.deepEqual(p.calls, ['a']);
  t.is(q.depth, 1);
  await p.finish('a');
  await p.finish('b');
  t.deepEqual(p.calls, ['a', 'b']);
});

test('an add during processing re-runs the key once, after it finishes, never overlapping', async (t) => {
  const { p, q } = makeQueue(4);
  q.start();
  q.add('a');
  await flushMicrotasks();
  q.add('a');
  q.add('a');
  await flushMicrotasks();
  t.deepEqual(p.calls, ['a']);
  await p.finish('a');
  t.deepEqual(p.calls, ['a', 'a']);
  await p.finish('a');
  t.deepEqual(p.calls, ['a', 'a']);
  t.false(p.stats().overlap);
});

test('different keys run concurrently up to the bound', async (t) => {
  const { p, q } = makeQueue(3);
  q.start();
  for (const k of ['a', 'b', 'c', 'd', 'e']) q.add(k);
  await flushMicrotasks();
  t.is(p.stats().active, 3);
  t.is(q.depth, 2);
  await p.finish('b');
  t.deepEqual(p.calls, ['a', 'b', 'c', 'd']);
  for (const k of ['a', 'c', 'd']) await p.finish(k);
  await p.finish('e');
  t.is(p.stats().maxActive, 3);
  t.is(q.inFlight, 0);
});

test('a failing key is retried with capped exponential backoff, success resets it', async (t) => {
  const { clock, p, q, retries } = makeQueue();
  q.start();
  q.add('a');
  await flushMicrotasks();
  await p.finish('a', new Error('e1'));
  t.deepEqual(retries.map((r) => r.delayMs), [100]);
  await clock.advance(99);
  t.is(p.calls.length, 1);
  await clock.advance(1);
  t.is(p.calls.length, 2);
  await p.finish('a', new Error('e2'));
  await clock.advance(200);
  await p.finish('a', new Error('e3'));
  await clock.advance(400);
  await p.finish('a', new Error('e4'));
  t.deepEqual(retries.map((r) => r.delayMs), [100, 200, 400, 400]);
  t.deepEqual(retries.map((r) => r.attempt), [1, 2, 3, 4]);
  t.is(retries[3]?.message, 'e4');
  t.is(q.failuresOf('a'), 4);
  await clock.advance(400);
  await p.finish('a');
  t.is(q.failuresOf('a'), 0);
  t.is(clock.pendingTimers, 0);
});

test('an event during a failing run waits for the backoff instead of retrying at once', async (t) => {
  const { clock, p, q } = makeQueue();
  q.start();
  q.add('a');
  await flushMicrotasks();
  q.add('a');
  await p.finish('a', new Error('boom'));
  t.is(p.calls.length, 1);
  await clock.advance(100);
  t.is(p.calls.length, 2);
});

test('requeueAfter runs the key again later; an earlier add wins', async (t) => {
  const { clock, p, q } = makeQueue();
  q.start();
  q.add('a');
  await flushMicrotasks();
  await p.finish('a', { requeueAfterMs: 1000 });
  await clock.advance(999);
  t.is(p.calls.length, 1);
  await clock.advance(1);
  t.is(p.calls.length, 2);
  await p.finish('a', { requeueAfterMs: 1000 });
  q.add('a');
  await flushMicrotasks();
  t.is(p.calls.length, 3);
  t.is(q.delayedCount, 0, 'the immediate add cancelled the delayed one');
  await p.finish('a');
});

test('addAfter keeps the earliest due time', async (t) => {
  const { clock, p, q } = makeQueue();
  q.start();
  q.addAfter('a', 500);
  q.addAfter('a', 900);
  q.addAfter('a', 300);
  await clock.advance(300);
  t.is(p.calls.length, 1);
  await p.finish('a');
  await clock.advance(1000);
  t.is(p.calls.length, 1);
});

test('forget drops retries of a key', async (t) => {
  const { clock, p, q } = makeQueue();
  q.start();
  q.add('a');
  await flushMicrotasks();
  await p.finish('a', new Error('x'));
  q.forget('a');
  await clock.advance(10_000);
  t.is(p.calls.length, 1);
});

test('drain waits for in-flight work, starts nothing new, cancels retries', async (t) => {
  const { clock, p, q } = makeQueue(1);
  q.start();
  q.add('a');
  q.add('b');
  await flushMicrotasks();
  let drained: boolean | undefined;
  const done = q.drain(5000).then((v) => (drained = v));
  await flushMicrotasks();
  t.is(drained, undefined);
  await p.finish('a');
  await done;
  t.true(drained);
  t.deepEqual(p.calls, ['a']);
  q.add('c');
  await clock.advance(1000);
  t.deepEqual(p.calls, ['a']);
});

test('drain gives up after its timeout', async (t) => {
  const { clock, q } = makeQueue(1);
  q.start();
  q.add('stuck');
  await flushMicrotasks();
  let drained: boolean | undefined;
  const done = q.drain(2000).then((v) => (drained = v));
  await clock.advance(1999);
  t.is(drained, undefined);
  await clock.advance(1);
  await done;
  t.false(drained);
});

test('nothing runs before start()', async (t) => {
  const { p, q } = makeQueue();
  q.add('a');
  await flushMicrotasks();
  t.is(p.calls.length, 0);
  q.start();
  await flushMicrotasks();
  t.is(p.calls.length, 1);
});

test('pendingKeys lists what waits to run, in order', async (t) => {
  const { p, q } = makeQueue(1);
  q.start();
  q.add('Vault/ns/a');
  q.add('KMSVaultSecret/ns/b');
  q.add('Vault/ns/c');
  await flushMicrotasks();
  t.deepEqual(q.pendingKeys(), ['KMSVaultSecret/ns/b', 'Vault/ns/c']);
  await p.finish('Vault/ns/a');
  t.deepEqual(q.pendingKeys(), ['Vault/ns/c']);
});

/** A promise the test settles. */
function deferred<T>() {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => ((resolve = res), (reject = rej)));
  return { promise, resolve, reject };
}

/**
 * Keys whose processing first waits outside its slot on `waits[key]` (when
 * set), records when it got going again, then stays open until `finish(key)`.
 */
function withWaits(concurrency: number) {
  const clock = new FakeClock();
  const p = controllable();
  const waits = new Map<string, Promise<unknown>>();
  const resumed: string[] = [];
  const outcomes: string[] = [];
  const activeAtResume: number[] = [];
  const q = new WorkQueue({
    concurrency,
    clock,
    backoff: { baseMs: 100, maxMs: 400 },
    process: async (key, slot) => {
      const wait = waits.get(key);
      waits.delete(key);
      if (wait) {
        try {
          outcomes.push(`${key}:${String(await slot.waitOutsideSlot(wait))}`);
        } catch (err) {
          outcomes.push(`${key}:threw ${(err as Error).message}`);
        }
        resumed.push(key);
        activeAtResume.push(q.active);
      }
      return p.process(key);
    },
  });
  return { clock, p, q, waits, resumed, outcomes, activeAtResume };
}

test('a key waiting outside its slot lends the slot to the next key and stays in flight', async (t) => {
  const { p, q, waits } = withWaits(1);
  const batch = deferred<string>();
  waits.set('a', batch.promise);
  q.start();
  q.add('a');
  q.add('b');
  await flushMicrotasks();
  t.deepEqual(p.calls, ['b'], 'b ran while a waited');
  t.is(q.inFlight, 2);
  t.is(q.active, 1);
});

test('a key whose wait settled gets the next free slot, ahead of keys not yet started, with the outcome', async (t) => {
  const { p, q, waits, resumed, outcomes, activeAtResume } = withWaits(1);
  const batch = deferred<string>();
  waits.set('a', batch.promise);
  q.start();
  for (const k of ['a', 'b', 'c']) q.add(k);
  await flushMicrotasks();
  batch.resolve('applied');
  await flushMicrotasks();
  t.deepEqual(resumed, [], 'the slot is b’s until it finishes');
  await p.finish('b');
  t.deepEqual(resumed, ['a']);
  t.deepEqual(outcomes, ['a:applied']);
  t.deepEqual(p.calls, ['b', 'a'], 'c still waits');
  t.deepEqual(activeAtResume, [1]);
  await p.finish('a');
  t.deepEqual(p.calls, ['b', 'a', 'c']);
  await p.finish('c');
  t.is(q.inFlight, 0);
  t.is(q.active, 0);
  t.is(p.stats().maxActive, 1, 'never more than the bound hold a slot');
});

test('a rejected wait is rethrown once the key has its slot back', async (t) => {
  const { p, q, waits, outcomes } = withWaits(1);
  const batch = deferred<string>();
  waits.set('a', batch.promise);
  q.start();
  q.add('a');
  q.add('b');
  await flushMicrotasks();
  batch.reject(new Error('apply failed'));
  await flushMicrotasks();
  t.deepEqual(outcomes, []);
  await p.finish('b');
  t.deepEqual(outcomes, ['a:threw apply failed']);
  await p.finish('a');
  t.is(q.inFlight, 0);
});

test('a key waiting outside its slot never runs twice at once; an add meanwhile re-runs it after', async (t) => {
  const { p, q, waits } = withWaits(2);
  const batch = deferred<void>();
  waits.set('a', batch.promise);
  q.start();
  q.add('a');
  await flushMicrotasks();
  q.add('a');
  await flushMicrotasks();
  t.deepEqual(p.calls, [], 'a is still in flight: the add only marks it');
  batch.resolve();
  await flushMicrotasks();
  t.deepEqual(p.calls, ['a']);
  await p.finish('a');
  t.deepEqual(p.calls, ['a', 'a'], 're-run for the add during the wait');
  await p.finish('a');
  t.false(p.stats().overlap);
});

test('many keys wait outside their slots at once: all in flight, the bound holds for those running', async (t) => {
  const { p, q, waits, resumed } = withWaits(2);
  const batch = deferred<void>();
  const keys = ['a', 'b', 'c', 'd', 'e'];
  for (const k of keys) waits.set(k, batch.promise);
  q.start();
  for (const k of keys) q.add(k);
  await flushMicrotasks();
  t.is(q.inFlight, 5, 'every key joined the wait');
  t.is(q.active, 0);
  batch.resolve();
  await flushMicrotasks();
  t.deepEqual(resumed, ['a', 'b'], 'two slots: two resume, in the order they waited');
  t.is(q.active, 2);
  for (const k of keys) await p.finish(k);
  t.deepEqual(resumed, keys);
  t.is(p.stats().maxActive, 2);
  t.is(q.inFlight, 0);
});

test('drain waits for a key waiting outside its slot and lets it finish, starting nothing new', async (t) => {
  const { p, q, waits, resumed } = withWaits(1);
  const batch = deferred<void>();
  waits.set('a', batch.promise);
  q.start();
  q.add('a');
  await flushMicrotasks();
  q.add('b');
  await flushMicrotasks();
  t.deepEqual(p.calls, ['b']);
  let drained: boolean | undefined;
  const done = q.drain(5000).then((v) => (drained = v));
  q.add('c');
  await p.finish('b');
  batch.resolve();
  await flushMicrotasks();
  t.deepEqual(resumed, ['a'], 'resumed although the queue is draining');
  t.is(drained, undefined);
  await p.finish('a');
  await done;
  t.true(drained);
  t.deepEqual(p.calls, ['b', 'a']);
});

test('parallel waits of one key take one slot back', async (t) => {
  const clock = new FakeClock();
  const one = deferred<number>();
  const two = deferred<number>();
  let results: number[] = [];
  let activeAfter = -1;
  const q = new WorkQueue({
    concurrency: 1,
    clock,
    backoff: { baseMs: 100, maxMs: 400 },
    process: async (_key, slot) => {
      results = await Promise.all([slot.waitOutsideSlot(one.promise), slot.waitOutsideSlot(two.promise)]);
      activeAfter = q.active;
    },
  });
  q.start();
  q.add('a');
  await flushMicrotasks();
  t.is(q.active, 0);
  two.resolve(2);
  await flushMicrotasks();
  t.is(q.active, 1, 'the first to settle took the slot back');
  one.resolve(1);
  await flushMicrotasks();
  t.deepEqual(results, [1, 2]);
  t.is(activeAfter, 1);
  t.is(q.active, 0);
  t.is(q.inFlight, 0);
});
