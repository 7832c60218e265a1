import test from 'ava';
import { secret } from '../../../../operator/framework/logger.js';
import { persistDelayMs, persistWithRetry, type PendingInit } from '../../../../operator/controllers/vault/pending-keys.js';

/** Time moves only when the code under test waits. */
function steppingClock() {
  let now = 0;
  return {
    waited: [] as number[],
    now: () => new Date(now),
    setTimeout(fn: () => void, ms: number) {
      this.waited.push(ms);
      now += ms;
      queueMicrotask(fn);
      return {};
    },
  };
}

const pending = (): PendingInit => ({ keys: { keys: [secret('k0')], rootToken: secret('r') }, address: 'a', startedAt: 't', attempts: 0 });

test('pauses grow from 250 ms to at most 4 s', (t) => {
  t.deepEqual([1, 2, 3, 4, 5, 6, 9].map(persistDelayMs), [250, 500, 1000, 2000, 4000, 4000, 4000]);
});

test('a write that fails a few times is retried until it succeeds', async (t) => {
  const p = pending();
  let calls = 0;
  const ok = await persistWithRetry(p, async () => {
    if (++calls < 4) throw new Error('apiserver down');
  }, steppingClock(), 30_000);
  t.true(ok);
  t.is(p.attempts, 4);
  t.is(p.lastError, undefined);
});

test('past the budget it reports, keeping the keys and the last error; the next call goes on counting', async (t) => {
  const p = pending();
  const clock = steppingClock();
  t.false(await persistWithRetry(p, async () => Promise.reject(new Error('KMS unreachable')), clock, 10_000));
  t.true(clock.waited.reduce((a, b) => a + b, 0) <= 10_000);
  t.is(p.lastError, 'KMS unreachable');
  t.is(p.keys.keys[0]!.reveal(), 'k0');
  const before = p.attempts;
  t.true(await persistWithRetry(p, async () => {}, clock, 10_000));
  t.is(p.attempts, before + 1);
});
