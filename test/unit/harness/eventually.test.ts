import test from 'ava';
import { eventually, WITHIN, withinResyncs } from '../../harness/eventually.js';

test('retries until the function resolves and returns its value', async (t) => {
  let calls = 0;
  const value = await eventually(
    async () => {
      calls++;
      if (calls < 3) throw new Error('not yet');
      return 'done';
    },
    { intervalMs: 5, timeoutMs: 1000 },
  );
  t.is(value, 'done');
  t.is(calls, 3);
});

test('after the timeout it throws with the message and the last error', async (t) => {
  let calls = 0;
  const error = await t.throwsAsync(
    eventually(
      async () => {
        calls++;
        throw new Error(`failure ${calls}`);
      },
      { intervalMs: 10, timeoutMs: 60, message: 'widget ready' },
    ),
  );
  t.regex(error!.message, /^widget ready after \d+ attempts in 60 ms: failure \d+$/);
  // the count and the last error are those of the final call (how many fit in 60 ms depends on the machine's load)
  t.true(error!.message.includes(`after ${calls} attempts`));
  t.true(error!.message.endsWith(`failure ${calls}`));
});

test('no hidden default: a wait without a budget does not compile; a resync-bound budget grows with the period', (t) => {
  // never called: only the compiler checks it (tsc fails if timeoutMs ever becomes optional again)
  const unbounded = (): Promise<number> =>
    // @ts-expect-error timeoutMs is required
    eventually(async () => 1, { intervalMs: 5 });
  t.is(typeof unbounded, 'function');
  t.is(withinResyncs(2, 700).timeoutMs, 3 * 700 + WITHIN.reconcile.timeoutMs);
  t.true(withinResyncs(2, 60_000).timeoutMs > withinResyncs(2, 700).timeoutMs);
});
