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
