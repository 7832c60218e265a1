import test from 'ava';
import { configDigest, entryDigests, fullReadDue, ledgerKey, ledgersFor, nextLedger, unsettledKeys } from '../../../../operator/controllers/vault/config-memo.js';
import { normaliseExternalConfig } from '../../../../operator/controllers/vault/configure.js';
import type { Change } from '../../../../operator/vault/config-plan.js';

const config = (ttl: string) =>
  normaliseExternalConfig(
    {
      auth: [{ type: 'kubernetes', path: 'k8s', roles: [{ name: 'a', bound_service_account_names: ['a'], bound_service_account_namespaces: ['n'], token_ttl: ttl }, { name: 'b', bound_service_account_names: ['b'], bound_service_account_namespaces: ['n'] }] }],
      policies: [{ name: 'p', rules: 'path "x" { capabilities = ["read"] }' }],
    },
    {},
  );

test('fullReadDue: without a ledger or an interval, and once the interval passed', (t) => {
  const ledger = { entries: new Map<string, string>(), fullReadAt: 1_000 };
  t.false(fullReadDue(ledger, 1_000 + 599_999, 600_000));
  t.true(fullReadDue(ledger, 1_000 + 600_000, 600_000), 'the interval passed: read Vault again');
  t.true(fullReadDue(undefined, 2_000, 600_000), 'nothing known yet');
  t.true(fullReadDue(ledger, 2_000, undefined), 'no interval set: every pass reads');
});

test('entryDigests: one per role and policy; a changed role changes its digest only', (t) => {
  const before = entryDigests(config('1h'));
  const after = entryDigests(config('2h'));
  t.deepEqual([...before.keys()].sort(), [ledgerKey('policy', 'p'), ledgerKey('role', 'k8s/a'), ledgerKey('role', 'k8s/b')].sort());
  t.not(before.get(ledgerKey('role', 'k8s/a')), after.get(ledgerKey('role', 'k8s/a')));
  t.is(before.get(ledgerKey('role', 'k8s/b')), after.get(ledgerKey('role', 'k8s/b')));
  t.is(before.get(ledgerKey('policy', 'p')), after.get(ledgerKey('policy', 'p')));
});

test('nextLedger keeps what the pass settled; problems, failures and the roles of a troubled mount are read again', (t) => {
  const desired = config('1h');
  const digests = entryDigests(desired);
  const failed: Change = { concern: 'policy', action: 'update', id: 'p', writes: [], summary: '' };
  const unsettled = unsettledKeys(desired, { changes: [], problems: [{ concern: 'role', id: 'k8s/a', message: 'unknown key' }] }, { applied: [], failed: [{ change: failed, error: 'denied' }] });
  t.deepEqual([...unsettled].sort(), [ledgerKey('policy', 'p'), ledgerKey('role', 'k8s/a')].sort());
  const ledger = nextLedger(digests, unsettled, 5);
  t.deepEqual([...ledger.entries.keys()], [ledgerKey('role', 'k8s/b')]);
  t.is(ledger.fullReadAt, 5);
  const mount = unsettledKeys(desired, { changes: [], problems: [{ concern: 'auth', id: 'k8s', message: 'another type' }] }, { applied: [], failed: [] });
  t.deepEqual([...mount].sort(), [ledgerKey('role', 'k8s/a'), ledgerKey('role', 'k8s/b')].sort());
});

test('configDigest is stable and sensitive to every part; one set of ledgers per owner', (t) => {
  t.is(configDigest([{ a: 1 }, ['r']]), configDigest([{ a: 1 }, ['r']]));
  t.not(configDigest([{ a: 1 }, ['r']]), configDigest([{ a: 1 }, ['r', 's']]));
  // the record as written, and as the apiserver returns it (keys sorted): one digest
  t.is(configDigest({ roles: ['k/r'], auth: ['k'], nested: { z: 1, a: [{ y: 2, b: 3 }] } }), configDigest({ auth: ['k'], nested: { a: [{ b: 3, y: 2 }], z: 1 }, roles: ['k/r'] }));
  t.not(configDigest(['a', 'b']), configDigest(['b', 'a']), 'list order counts');
  const owner = {};
  ledgersFor(owner).set('uid', { entries: new Map([['k', 'd']]), fullReadAt: 0 });
  t.is(ledgersFor(owner).get('uid')?.entries.get('k'), 'd');
  t.is(ledgersFor({}).size, 0);
});
