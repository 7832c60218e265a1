import test from 'ava';
import { decideLease, type LeaseRecord } from '../../../operator/framework/leader-election.js';

const now = new Date('2026-05-01T12:00:30Z');
const ago = (s: number) => new Date(now.getTime() - s * 1000);
const held = (holder: string, extra: Partial<LeaseRecord> = {}): LeaseRecord => ({ holderIdentity: holder, leaseDurationSeconds: 15, renewTime: ago(1), acquireTime: ago(100), leaseTransitions: 3, ...extra });

test('no lease: create it, holding it ourselves', (t) => {
  const d = decideLease({ current: undefined, identity: 'me', now, leaseDurationMs: 15_000, observedAt: now });
  t.deepEqual(d, { action: 'create', next: { holderIdentity: 'me', leaseDurationSeconds: 15, acquireTime: now, renewTime: now, leaseTransitions: 0 } });
});

test('we hold it: renew, keeping acquireTime and transitions', (t) => {
  const d = decideLease({ current: held('me'), identity: 'me', now, leaseDurationMs: 15_000, observedAt: ago(1) });
  t.is(d.action, 'renew');
  if (d.action !== 'renew') return;
  t.deepEqual(d.next.renewTime, now);
  t.deepEqual(d.next.acquireTime, ago(100));
  t.is(d.next.leaseTransitions, 3);
});

const others: Array<[string, LeaseRecord, number, 'wait' | 'acquire']> = [
  ['another holder, seen changing 5 s ago', held('other'), 5, 'wait'],
  ['another holder, unchanged for 14 s', held('other'), 14, 'wait'],
  ['another holder, unchanged for 15 s: expired', held('other'), 15, 'acquire'],
  ['released lease (empty holder)', held('', { leaseDurationSeconds: 1 }), 0, 'acquire'],
  ['their duration counts, not ours', held('other', { leaseDurationSeconds: 60 }), 30, 'wait'],
];
for (const [name, current, observedSecondsAgo, action] of others) {
  test(`${name} -> ${action}`, (t) => {
    const d = decideLease({ current, identity: 'me', now, leaseDurationMs: 15_000, observedAt: ago(observedSecondsAgo) });
    t.is(d.action, action);
    if (d.action === 'acquire') {
      t.is(d.next.holderIdentity, 'me');
      t.is(d.next.leaseTransitions, 4);
      t.deepEqual(d.next.acquireTime, now);
    }
    if (d.action === 'wait') t.is(d.holder, 'other');
  });
}

test("expiry ignores the holder's own renewTime (clock skew): only our observation counts", (t) => {
  // renewTime claims an hour ago, but we saw it change just now.
  const d = decideLease({ current: held('other', { renewTime: ago(3600) }), identity: 'me', now, leaseDurationMs: 15_000, observedAt: now });
  t.is(d.action, 'wait');
});

test('toMicroTime writes six fractional digits', async (t) => {
  const { toMicroTime } = await import('../../../operator/framework/leader-election.js');
  t.is(toMicroTime(new Date('2026-05-01T12:00:30.123Z')), '2026-05-01T12:00:30.123000Z');
});
