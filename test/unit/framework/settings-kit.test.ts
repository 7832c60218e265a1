import test from 'ava';
import { parseDuration, SettingsError, SettingsReader } from '../../../operator/framework/index.js';

test('parseDuration: one grammar, Vault/Go forms, milliseconds', (t) => {
  t.is(parseDuration('300'), 300_000);
  t.is(parseDuration('1.5'), 1500);
  t.is(parseDuration('500ms'), 500);
  t.is(parseDuration('30s'), 30_000);
  t.is(parseDuration('1h30m'), 5_400_000);
  t.is(parseDuration('7d'), 604_800_000);
  t.is(parseDuration(' 2m '), 120_000);
  for (const bad of ['', '5 m', '-1', '1x', 'soon', '1h-5m', 'm5']) t.is(parseDuration(bad), undefined, bad);
});

test('SettingsReader: unset or blank -> fallback; valid values parsed', (t) => {
  const r = new SettingsReader({ N: '42', B: 'true', D: '5m', O: 'on', BLANK: '  ' });
  t.is(r.int('N', 1, { min: 0, max: 100 }), 42);
  t.is(r.int('BLANK', 7), 7);
  t.true(r.bool('B', false));
  t.false(r.bool('UNSET', false));
  t.is(r.duration('D', 1000), 300_000);
  t.is(r.oneOf('O', 'auto', ['auto', 'on', 'off'] as const), 'on');
  t.is(r.str('UNSET', 'x'), 'x');
  t.notThrows(() => r.done());
});

test('SettingsReader: every problem is listed in one SettingsError, each naming its variable and what is accepted', (t) => {
  const r = new SettingsReader({ N: '4.2', M: '500', B: 'yes', D: 'soon', S: '100ms', O: 'maybe' });
  t.is(r.int('N', 1), 1, 'fallback on a bad value');
  r.int('M', 1, { min: 0, max: 100 });
  r.bool('B', false);
  r.duration('D', 1000);
  r.duration('S', 1000, { min: 1000 });
  r.oneOf('O', 'Fail', ['Fail', 'Ignore'] as const);
  r.problem('A must be below B');
  const err = t.throws(() => r.done(), { instanceOf: SettingsError });
  t.is(err!.problems.length, 7);
  t.regex(err!.message, /N must be an integer, got "4.2"/);
  t.regex(err!.message, /M must be an integer from 0 to 100, got "500"/);
  t.regex(err!.message, /B="yes": expected "true" or "false"/);
  t.regex(err!.message, /D="soon": expected a duration/);
  t.regex(err!.message, /S="100ms": expected a duration .*at least 1000 ms/);
  t.regex(err!.message, /O="maybe": expected one of Fail, Ignore/);
  t.regex(err!.message, /A must be below B/);
});

test('SettingsReader.parsed and .list: the caller\'s own form, its problem message; lists drop blanks', (t) => {
  const r = new SettingsReader({ REF: 'ns/name', BAD: 'nope', L: ' a, b ,,c ', W: 'x y,z' });
  const ref = (raw: string) => (/^\w+\/\w+$/.test(raw) ? raw : undefined);
  t.is(r.parsed('REF', 'd/d', ref, (raw) => `REF: ${raw}`), 'ns/name');
  t.is(r.parsed('BAD', 'd/d', ref, (raw) => `BAD is not a ref: ${raw}`), 'd/d');
  t.is(r.parsed('UNSET', 'd/d', ref, () => 'never'), 'd/d');
  t.deepEqual(r.list('L'), ['a', 'b', 'c']);
  t.deepEqual(r.list('W', /[\s,]+/), ['x', 'y', 'z']);
  t.deepEqual(r.list('UNSET'), []);
  const err = t.throws(() => r.done('test settings'), { instanceOf: SettingsError });
  t.is(err!.message, 'invalid test settings: BAD is not a ref: nope');
});
