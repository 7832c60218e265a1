import test from 'ava';
import { configDigest, maySkip, memoFor } from '../../../../operator/controllers/vault/config-memo.js';

const condition = { type: 'Configured', status: 'True' as const, reason: 'Applied', message: 'externalConfig applied' };

test('maySkip: only the same digest, only within the interval, never without one', (t) => {
  const digest = configDigest([{ auth: [] }, null]);
  const entry = { digest, checkedAt: 1_000, condition };
  t.true(maySkip(entry, digest, 1_000 + 599_999, 600_000));
  t.false(maySkip(entry, digest, 1_000 + 600_000, 600_000), 'the interval passed: read Vault again');
  t.false(maySkip(entry, configDigest([{ auth: [{ path: 'x' }] }, null]), 2_000, 600_000), 'a changed config is applied at once');
  t.false(maySkip(undefined, digest, 2_000, 600_000), 'nothing applied yet');
  t.false(maySkip(entry, digest, 2_000, undefined), 'no interval set: every pass reads');
});

test('configDigest is stable and sensitive to every part; one memo per owner', (t) => {
  t.is(configDigest([{ a: 1 }, ['r']]), configDigest([{ a: 1 }, ['r']]));
  t.not(configDigest([{ a: 1 }, ['r']]), configDigest([{ a: 1 }, ['r', 's']]));
  // the record as written, and as the apiserver returns it (keys sorted): one digest
  t.is(configDigest({ roles: ['k/r'], auth: ['k'], nested: { z: 1, a: [{ y: 2, b: 3 }] } }), configDigest({ auth: ['k'], nested: { a: [{ b: 3, y: 2 }], z: 1 }, roles: ['k/r'] }));
  t.not(configDigest(['a', 'b']), configDigest(['b', 'a']), 'list order counts');
  const owner = {};
  memoFor(owner).set('uid', { digest: 'd', checkedAt: 0, condition });
  t.is(memoFor(owner).get('uid')?.digest, 'd');
  t.is(memoFor({}).size, 0);
});
