import test from 'ava';
import { backoffDelay } from '../../../operator/framework/backoff.js';

const policy = { baseMs: 100, maxMs: 1000 };

for (const [attempt, expected] of [
  [1, 100],
  [2, 200],
  [3, 400],
  [4, 800],
  [5, 1000],
  [6, 1000],
  [500, 1000],
  [0, 100],
] as const) {
  test(`attempt ${attempt} waits ${expected} ms`, (t) => {
    t.is(backoffDelay(attempt, policy), expected);
  });
}

test('jitter spreads upwards but never past the cap', (t) => {
  const jittered = { ...policy, jitter: 0.5 };
  t.is(backoffDelay(1, jittered, () => 0), 100);
  t.is(backoffDelay(1, jittered, () => 1), 150);
  t.is(backoffDelay(4, jittered, () => 1), 1000);
});
