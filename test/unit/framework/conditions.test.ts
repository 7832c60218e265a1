import test from 'ava';
import { setCondition, setConditions, getCondition, isConditionTrue, removeCondition, toKubeTime, type Condition } from '../../../operator/framework/conditions.js';

const t0 = new Date('2026-03-01T10:00:00.123Z');
const t1 = new Date('2026-03-01T11:30:00.999Z');

const ready = (status: Condition['status'], reason = 'Synced', message = 'ok') => ({ type: 'Ready', status, reason, message });

test('toKubeTime drops milliseconds', (t) => {
  t.is(toKubeTime(t0), '2026-03-01T10:00:00Z');
});

test('a new condition is appended with the current time', (t) => {
  const list = setCondition(undefined, { ...ready('True'), observedGeneration: 3 }, t0);
  t.deepEqual(list, [{ type: 'Ready', status: 'True', reason: 'Synced', message: 'ok', lastTransitionTime: '2026-03-01T10:00:00Z', observedGeneration: 3 }]);
});

const cases: Array<{ name: string; from: Condition['status']; to: Condition['status']; moves: boolean }> = [
  { name: 'same status keeps lastTransitionTime', from: 'True', to: 'True', moves: false },
  { name: 'False -> True moves it', from: 'False', to: 'True', moves: true },
  { name: 'True -> Unknown moves it', from: 'True', to: 'Unknown', moves: true },
  { name: 'False -> False keeps it', from: 'False', to: 'False', moves: false },
];
for (const c of cases) {
  test(c.name, (t) => {
    const first = setCondition([], ready(c.from), t0);
    const second = setCondition(first, ready(c.to, 'Other', 'changed'), t1);
    t.is(second[0]?.lastTransitionTime, toKubeTime(c.moves ? t1 : t0));
    t.is(second[0]?.reason, 'Other');
    t.is(second[0]?.message, 'changed');
    t.is(second[0]?.status, c.to);
  });
}

test('observedGeneration is updated, and kept when the update does not name one', (t) => {
  const a = setCondition([], { ...ready('True'), observedGeneration: 1 }, t0);
  const b = setCondition(a, { ...ready('True'), observedGeneration: 2 }, t1);
  t.is(b[0]?.observedGeneration, 2);
  const c = setCondition(b, ready('True'), t1);
  t.is(c[0]?.observedGeneration, 2);
});

test('order is stable and input is not mutated', (t) => {
  const list = setConditions([], [ready('True'), { type: 'Initialized', status: 'True', reason: 'Done', message: '' }, { type: 'Unsealed', status: 'False', reason: 'Sealed', message: 'x' }], t0);
  const frozen = JSON.stringify(list);
  const next = setCondition(list, { type: 'Initialized', status: 'False', reason: 'Lost', message: 'y' }, t1);
  t.deepEqual(next.map((c) => c.type), ['Ready', 'Initialized', 'Unsealed']);
  t.is(JSON.stringify(list), frozen);
  t.not(next, list);
});

test('getCondition / isConditionTrue / removeCondition', (t) => {
  const list = setConditions(undefined, [ready('True'), { type: 'Unsealed', status: 'False', reason: 'Sealed', message: '' }], t0);
  t.is(getCondition(list, 'Unsealed')?.reason, 'Sealed');
  t.is(getCondition(list, 'Missing'), undefined);
  t.true(isConditionTrue(list, 'Ready'));
  t.false(isConditionTrue(list, 'Unsealed'));
  t.false(isConditionTrue(undefined, 'Ready'));
  t.deepEqual(removeCondition(list, 'Ready').map((c) => c.type), ['Unsealed']);
});
