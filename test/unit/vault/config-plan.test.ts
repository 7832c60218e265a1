import test from 'ava';
import { differingKeys, durationSeconds, paramsSatisfied, trimPath, valueSatisfied } from '../../../operator/vault/config-plan.js';

test('durations parse like Go durations into seconds', (t) => {
  t.is(durationSeconds('1h30m'), 5400);
  t.is(durationSeconds('90s'), 90);
  t.is(durationSeconds('300'), 300);
  t.is(durationSeconds('768h'), 768 * 3600);
  t.is(durationSeconds('soon'), undefined);
  t.is(durationSeconds('5x'), undefined);
});

test('a duration in the spec equals the seconds Vault reads back', (t) => {
  t.true(valueSatisfied('5m', 300));
  t.false(valueSatisfied('5m', 301));
  t.true(valueSatisfied(300, 300));
});

test('lists compare as sets and accept comma strings', (t) => {
  t.true(valueSatisfied(['b', 'a'], ['a', 'b']));
  t.true(valueSatisfied('a, b', ['b', 'a']));
  t.false(valueSatisfied(['a'], ['a', 'b']));
  t.true(valueSatisfied([], null));
});

test('scalars compare by text, booleans and numbers included', (t) => {
  t.true(valueSatisfied('true', true));
  t.true(valueSatisfied('2', 2));
  t.false(valueSatisfied('x', 'y'));
  t.true(valueSatisfied('pem\n', 'pem'));
  t.false(valueSatisfied('x', null));
});

test('only keys the spec sets are compared; keys Vault never returns count as equal', (t) => {
  t.true(paramsSatisfied({ a: 1 }, { a: 1, defaulted: 'x' }));
  t.true(paramsSatisfied({ token_reviewer_jwt: 'secret' }, { kubernetes_host: 'h' }));
  t.false(paramsSatisfied({ a: 1 }, undefined));
  t.deepEqual(differingKeys({ a: 1, b: '1h', c: 'same' }, { a: 2, b: 3600, c: 'same' }), ['a']);
});

test('nested objects compare as subsets', (t) => {
  t.true(valueSatisfied({ version: '2' }, { version: '2', other: 1 }));
  t.false(valueSatisfied({ version: '2' }, { version: '1' }));
  t.false(valueSatisfied({ version: '2' }, 'x'));
});

test('mount paths lose their slashes', (t) => {
  t.is(trimPath('/kubernetes/'), 'kubernetes');
  t.is(trimPath('a/b'), 'a/b');
});
