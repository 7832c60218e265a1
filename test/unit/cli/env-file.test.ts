import test from 'ava';
import { checkUniqueKeys, parseAssignments, parseEnvFile } from '../../../operator/cli/env-file.js';

test('parseEnvFile: comments, export, quotes, escapes, inline comments', (t) => {
  const text = [
    '# a comment',
    '',
    'PLAIN=abc',
    'export EXPORTED = spaced ',
    "SINGLE='keep # and \\n literally'",
    'DOUBLE="line1\\nline2 \\"q\\""',
    'INLINE=value # comment',
    'HASH=a#b',
    'EMPTY=',
    'EQUALS=a=b=c',
  ].join('\n');
  t.deepEqual(parseEnvFile(text), [
    { key: 'PLAIN', value: 'abc' },
    { key: 'EXPORTED', value: 'spaced' },
    { key: 'SINGLE', value: 'keep # and \\n literally' },
    { key: 'DOUBLE', value: 'line1\nline2 "q"' },
    { key: 'INLINE', value: 'value' },
    { key: 'HASH', value: 'a#b' },
    { key: 'EMPTY', value: '' },
    { key: 'EQUALS', value: 'a=b=c' },
  ]);
});

test('parse errors name the line, never the content', (t) => {
  const err = t.throws(() => parseEnvFile('OK=1\nthis-is-my-password\n'));
  t.regex(err!.message, /line 2/);
  t.notRegex(err!.message, /password/);
  const quote = t.throws(() => parseEnvFile('K="unterminated-secret'));
  t.notRegex(quote!.message, /unterminated-secret/);
  const arg = t.throws(() => parseAssignments(['A=1', 'hunter2']));
  t.regex(arg!.message, /argument 2/);
  t.notRegex(arg!.message, /hunter2/);
});

test('keys must be valid and unique', (t) => {
  t.throws(() => parseAssignments(['bad key=1']), { message: /argument 1: key must match/ });
  t.throws(() => checkUniqueKeys([{ key: 'A', value: '1' }, { key: 'A', value: '2' }]), { message: /key A is given more than once/ });
});
