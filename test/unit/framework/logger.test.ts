import test from 'ava';
import { Writable } from 'node:stream';
import { inspect } from 'node:util';
import {
  addScopedSecret,
  clearMarkedSecrets,
  createLogger,
  dropScopedSecrets,
  errorMessage,
  markedSecretCounts,
  markSecret,
  MAX_GLOBAL_SECRETS,
  MAX_SCOPED_CHARS,
  MAX_SECRETS_PER_SCOPE,
  objectScope,
  redactText,
  REDACTED,
  secret,
  setScopedSecrets,
} from '../../../operator/framework/logger.js';

function capture() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      lines.push(...String(chunk).split('\n').filter(Boolean));
      cb();
    },
  });
  return { stream, lines, parsed: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>) };
}

const flush = () => new Promise((r) => setImmediate(r));

test.after.always(() => clearMarkedSecrets());

test('writes JSON lines with level, message and metadata', async (t) => {
  const c = capture();
  const log = createLogger({ stream: c.stream, level: 'debug' });
  log.info('hello', { kind: 'Vault', count: 2 });
  log.debug('details');
  await flush();
  const [first, second] = c.parsed();
  t.is(first?.level, 'info');
  t.is(first?.message, 'hello');
  t.is(first?.kind, 'Vault');
  t.is(first?.count, 2);
  t.is(typeof first?.timestamp, 'string');
  t.is(second?.level, 'debug');
});

test('level filters lower levels', async (t) => {
  const c = capture();
  const log = createLogger({ stream: c.stream, level: 'warn' });
  log.info('quiet');
  log.warn('loud');
  await flush();
  t.deepEqual(c.parsed().map((l) => l.message), ['loud']);
});

test('a line below the level is dropped before its metadata is read (no format runs), for child loggers too', async (t) => {
  const c = capture();
  const log = createLogger({ stream: c.stream, level: 'info' });
  let reads = 0;
  const meta = {
    get probe() {
      reads++;
      return 1;
    },
  };
  log.debug('dropped', meta);
  log.child({ controller: 'Vault' }).debug('dropped too', meta);
  t.is(reads, 0);
  log.info('kept', meta);
  log.child({ controller: 'Vault' }).warn('kept too', meta);
  await flush();
  t.true(reads > 0);
  t.deepEqual(c.parsed().map((l) => [l.message, l.probe, l.controller]), [['kept', 1, undefined], ['kept too', 1, 'Vault']]);
  log.level = 'debug';
  log.debug('now kept');
  await flush();
  t.is(c.parsed().at(-1)?.message, 'now kept');
});

test('secret() renders as [REDACTED] in JSON, toString, template strings and inspect; reveal() gives the value', (t) => {
  const s = secret('hunter2-token');
  t.is(JSON.stringify({ token: s }), `{"token":"${REDACTED}"}`);
  t.is(String(s), REDACTED);
  t.is(`${s}`, REDACTED);
  t.is(inspect({ s }), `{ s: ${REDACTED} }`);
  t.is(s.reveal(), 'hunter2-token');
});

test('a secret() object logged as metadata, or its revealed value logged anywhere, is redacted', async (t) => {
  const c = capture();
  const log = createLogger({ stream: c.stream });
  const s = secret('s.RootTokenValue');
  log.info('login', { token: s });
  log.info(`oops ${s.reveal()} leaked in message`);
  log.child({ requestId: 'r1' }).warn('nested', { deep: { list: [s.reveal()] } });
  await flush();
  const all = c.lines.join('\n');
  t.false(all.includes('s.RootTokenValue'));
  t.is(c.parsed()[0]?.token, REDACTED);
  t.is(c.parsed()[1]?.message, `oops ${REDACTED} leaked in message`);
  t.true(all.includes('r1'));
});

test('markSecret() redacts values in messages, metadata, error messages and stacks', async (t) => {
  const c = capture();
  const log = createLogger({ stream: c.stream });
  markSecret('unseal-key-AAAA');
  log.error('unseal failed', { err: new Error('bad key unseal-key-AAAA') });
  log.error(new Error('thrown with unseal-key-AAAA'));
  log.info('plain', { keys: ['unseal-key-AAAA', 'other'] });
  await flush();
  const all = c.lines.join('\n');
  t.false(all.includes('unseal-key-AAAA'));
  t.true(all.includes('other'));
  const first = c.parsed()[0] as { err: { message: string; stack: string } };
  t.is(first.err.message, `bad key ${REDACTED}`);
  t.true(first.err.stack.includes(REDACTED));
});

test('values that JSON escapes (quotes, newlines) are redacted too', async (t) => {
  const c = capture();
  const log = createLogger({ stream: c.stream });
  const pem = '-----BEGIN KEY-----\nabc"def\n-----END KEY-----';
  markSecret(pem);
  log.info('key', { pem });
  log.info(`inline ${pem}`);
  await flush();
  t.false(c.lines.join('\n').includes('abc\\"def'));
  t.is(c.parsed()[0]?.pem, REDACTED);
});

test('longer secrets containing shorter ones are replaced whole', (t) => {
  markSecret('abcdefgh');
  markSecret('xxabcdefghyy');
  t.is(redactText('1 xxabcdefghyy 2 abcdefgh'), `1 ${REDACTED} 2 ${REDACTED}`);
});

test('unmarked text is unchanged and empty values are ignored', (t) => {
  markSecret('');
  t.is(redactText('nothing to hide'), 'nothing to hide');
});

test('errorMessage() handles errors, strings and objects', (t) => {
  t.is(errorMessage(new Error('boom')), 'boom');
  t.is(errorMessage('text'), 'text');
  t.is(errorMessage({ code: 1 }), '{"code":1}');
});

// Serial (ava runs these before the concurrent tests) and cleared afterwards.
test.serial('a marked value made of JSON syntax never yields a broken line, a leak or a withheld line', async (t) => {
  t.teardown(clearMarkedSecrets);
  const c = capture();
  const log = createLogger({ stream: c.stream });
  markSecret('","level":"x"}');
  log.info('a', { x: 'p","level":"x"}q', ['k","level":"x"}']: 1 });
  await flush();
  const line = c.lines[0] ?? '';
  const parsed = JSON.parse(line) as Record<string, unknown>;
  t.false(line.includes('p","level'));
  t.is(parsed.level, 'info');
  t.is(parsed.message, 'a');
  t.is(parsed.x, `p${REDACTED}q`);
  t.is(parsed[`k${REDACTED}`], 1, 'keys are redacted too');
  clearMarkedSecrets();
});

test.serial('values shorter than 8 characters are never patterns', async (t) => {
  t.teardown(clearMarkedSecrets);
  const c = capture();
  const log = createLogger({ stream: c.stream });
  for (const v of ['"', 'vault', 'info', '{', '1234567']) markSecret(v);
  setScopedSecrets(objectScope('KMSVaultSecret', 'a', 'x'), ['"', 'level']);
  log.child({ controller: 'KMSVaultSecret', namespace: 'a', name: 'x' }).info('vault "info" level 1234567');
  await flush();
  t.is((JSON.parse(c.lines[0]!) as { message: string }).message, 'vault "info" level 1234567');
  t.deepEqual(markedSecretCounts(), { global: 0, scopes: 0, scopedChars: 0 });
  clearMarkedSecrets();
});

test.serial("scoped secrets: only the object's lines and Events, replaced on each set, dropped with the object", async (t) => {
  const c = capture();
  const log = createLogger({ stream: c.stream });
  const scope = objectScope('KMSVaultSecret', 'team-a', 'db');
  setScopedSecrets(scope, ['first-password']);
  const mine = log.child({ controller: 'KMSVaultSecret', namespace: 'team-a', name: 'db' });
  const other = log.child({ controller: 'KMSVaultSecret', namespace: 'team-b', name: 'db' });
  mine.info('x first-password');
  other.info('y first-password');
  setScopedSecrets(scope, ['second-password']);
  mine.info('z first-password second-password');
  dropScopedSecrets(scope);
  mine.info('w second-password');
  await flush();
  t.deepEqual(c.parsed().map((l) => l.message), [
    `x ${REDACTED}`,
    'y first-password',
    `z first-password ${REDACTED}`,
    'w second-password',
  ]);
  addScopedSecret(scope, 'added-one-value');
  t.is(redactText('added-one-value', scope), REDACTED);
  t.is(redactText('added-one-value'), 'added-one-value', 'no scope: only global values');
  clearMarkedSecrets();
});

test.serial('bounded: global values and scoped characters have ceilings; the oldest go first', (t) => {
  t.teardown(clearMarkedSecrets);
  for (let i = 0; i < MAX_GLOBAL_SECRETS + 10; i++) markSecret(`global-secret-${i}`);
  t.is(markedSecretCounts().global, MAX_GLOBAL_SECRETS);
  t.is(redactText('global-secret-0'), 'global-secret-0', 'the oldest was forgotten');
  t.is(redactText(`global-secret-${MAX_GLOBAL_SECRETS + 9}`), REDACTED);
  const big = 'x'.repeat(1024 * 1024);
  for (let i = 0; i < 20; i++) setScopedSecrets(`KMSVaultSecret/ns/o${i}`, [`${i}-${big}`]);
  const counts = markedSecretCounts();
  t.true(counts.scopedChars <= MAX_SCOPED_CHARS, `${counts.scopedChars} chars`);
  t.is(counts.scopes, 15, '16 MiB hold 15 of 20 one-MiB objects');
  t.is(redactText(`0-${big}`, 'KMSVaultSecret/ns/o0'), `0-${big}`, 'the least recently set object was evicted');
  t.is(redactText(`19-${big}`, 'KMSVaultSecret/ns/o19'), REDACTED);
  setScopedSecrets('KMSVaultSecret/ns/many', Array.from({ length: MAX_SECRETS_PER_SCOPE + 5 }, (_, i) => `value-${i}-end`));
  t.is(redactText(`value-${MAX_SECRETS_PER_SCOPE + 4}-end`, 'KMSVaultSecret/ns/many'), `value-${MAX_SECRETS_PER_SCOPE + 4}-end`, 'beyond the per-object ceiling');
  t.is(redactText('value-0-end', 'KMSVaultSecret/ns/many'), REDACTED);
  clearMarkedSecrets();
});

test.serial('markSecret / secret with a scope: the object\'s lines only; a tenant value like "namespace" leaves every other line intact and valid JSON', async (t) => {
  t.teardown(clearMarkedSecrets);
  const c = capture();
  const log = createLogger({ stream: c.stream });
  const scope = objectScope('Vault', 'team-a', 'v');
  for (const v of ['namespace', 'controller', 'timestamp', '"message":', 'vault-autopilot']) markSecret(v, scope);
  const token = secret('"},{"level":"x', scope);
  t.is(markedSecretCounts().global, 0, 'nothing global');
  log.child({ controller: 'Vault', namespace: 'team-b', name: 'v' }).info('vault-autopilot reconciled', { token });
  log.info('vault-autopilot started', { detail: 'namespace controller timestamp' });
  log.child({ controller: 'Vault', namespace: 'team-a', name: 'v' }).info('vault-autopilot reconciled', { detail: '"},{"level":"x' });
  await flush();
  const lines = c.lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  t.is(lines[0]!.namespace, 'team-b');
  t.is(lines[0]!.controller, 'Vault');
  t.is(lines[0]!.message, 'vault-autopilot reconciled');
  t.is(lines[0]!.token, REDACTED, 'a Secret prints as [REDACTED] wherever it goes');
  t.truthy(lines[0]!.timestamp);
  t.is(lines[1]!.detail, 'namespace controller timestamp');
  // the tenant's own lines: redacted (keys too), still one JSON object each
  t.is(lines[2]!.message, `${REDACTED} reconciled`);
  t.is(lines[2]!.detail, REDACTED);
  t.is(lines[2]!.namespace, 'team-a', "the line's own field names stay: it still says which object it is about");
  t.truthy(lines[2]!.timestamp);
  t.false(c.lines[2]!.includes('"},{"level":"x'));
});

test.serial("addScopedSecret is bounded per object: past the ceiling the object's oldest value goes, its newest is always redacted", (t) => {
  t.teardown(clearMarkedSecrets);
  const scope = objectScope('Vault', 'ns', 'v');
  for (let i = 0; i < MAX_SECRETS_PER_SCOPE + 3; i++) addScopedSecret(scope, `rotated-token-${i}`);
  t.is(redactText(`rotated-token-${MAX_SECRETS_PER_SCOPE + 2}`, scope), REDACTED);
  t.is(redactText('rotated-token-0', scope), 'rotated-token-0');
  t.is(redactText('rotated-token-3', scope), REDACTED);
  const before = markedSecretCounts().scopedChars;
  addScopedSecret(scope, 'rotated-token-5');
  t.is(markedSecretCounts().scopedChars, before, 'an existing value is not counted twice');
  addScopedSecret(scope, 'short');
  t.is(markedSecretCounts().scopedChars, before, 'too short to be a secret: ignored');
});
