import test from 'ava';
import { valueSatisfied } from '../../../operator/vault/config-plan.js';
import { normaliseEngineConfig, planEngineConfig } from '../../../operator/vault/engine-config.js';
import { databaseRevokeLines, mountTypesOf, resolveSecretRefs, secretRefProblems } from '../../../operator/vault/secret-refs.js';
import type { Change } from '../../../operator/vault/config-plan.js';

const ref = (name: string, key: string) => ({ secretKeyRef: { name, key } });

function dbConfig(extra: Record<string, unknown>) {
  return normaliseEngineConfig([
    { type: 'database', configuration: { config: [{ name: 'app', plugin_name: 'postgresql-database-plugin', connection_url: 'postgresql://{{username}}:{{password}}@db:5432/app', ...extra }] } },
  ]).desired;
}

test('credentials by reference pass; inline passwords and URLs with a literal password are refused', (t) => {
  t.deepEqual(secretRefProblems(dbConfig({ username: ref('pg', 'user'), password: ref('pg', 'password') })), []);
  t.deepEqual(secretRefProblems(dbConfig({ username: 'vault', password: ref('pg', 'password') })), [], 'an inline username is fine');
  const inline = secretRefProblems(dbConfig({ password: 'hunter2' }));
  t.is(inline.length, 1);
  t.regex(inline[0]!.message, /password is written inline.*secretKeyRef/);
  t.false(inline[0]!.message.includes('hunter2'), 'the message never repeats the value');
  const url = secretRefProblems(dbConfig({ connection_url: 'postgresql://admin:hunter2@db/app' }));
  t.regex(url[0]!.message, /connection_url carries a password/);
  t.false(url[0]!.message.includes('hunter2'));
  t.regex(secretRefProblems(dbConfig({ password: ref('', 'x') }))[0]!.message, /needs both name and key/);
});

test('references resolve only in the writes, a missing key leaves that change out and names Secret and key', async (t) => {
  const reads: string[] = [];
  const reader = async (name: string, key: string) => {
    reads.push(`${name}/${key}`);
    return name === 'pg' ? `value-of-${key}` : undefined;
  };
  const changes: Change[] = [
    { concern: 'config', action: 'create', id: 'db/config/a', summary: 's', writes: [{ method: 'POST', path: 'db/config/a', body: { username: ref('pg', 'user'), password: ref('pg', 'pw'), plugin_name: 'x' } }, { method: 'POST', path: 'db/rotate-root/a', body: {} }] },
    { concern: 'config', action: 'create', id: 'db/config/b', summary: 's', writes: [{ method: 'POST', path: 'db/config/b', body: { password: ref('gone', 'pw') } }] },
  ];
  const out = await resolveSecretRefs(changes, reader);
  t.deepEqual(out.changes.map((c) => c.id), ['db/config/a']);
  t.deepEqual(out.changes[0]!.writes[0]!.body, { username: 'value-of-user', password: 'value-of-pw', plugin_name: 'x' });
  t.deepEqual(out.changes[0]!.writes[1], { method: 'POST', path: 'db/rotate-root/a', body: {} });
  t.deepEqual(out.problems, [{ concern: 'config', id: 'db/config/b', message: "Secret gone (in the Vault resource's namespace) has no key pw; nothing written" }]);
  t.deepEqual(reads, ['pg/user', 'pg/pw', 'gone/pw']);
  t.deepEqual((changes[0]!.writes[0]!.body as Record<string, unknown>)['password'], ref('pg', 'pw'), 'the plan itself keeps the reference');
});

test('a reference compares as satisfied (the value is not read to compare)', (t) => {
  t.true(valueSatisfied(ref('pg', 'user'), 'vault'));
  t.false(valueSatisfied({ other: 1 }, 'vault'));
});

test('removing a database role revokes its leases first; the operator may do exactly that', (t) => {
  const mountTypes = mountTypesOf([{ type: 'database', path: 'pg' }, { type: 'pki' }]);
  const plan = planEngineConfig([], new Map([['pg/roles/sa.shop.orders', { db_name: 'app' }], ['pki/roles/web', { ttl: 1 }]]), ['pg/roles/sa.shop.orders', 'pki/roles/web'], new Set(['pg', 'pki']), mountTypes);
  t.deepEqual(plan.changes.map((c) => c.writes), [
    [{ method: 'PUT', path: 'sys/leases/revoke-prefix/pg/creds/sa.shop.orders' }, { method: 'DELETE', path: 'pg/roles/sa.shop.orders' }],
    [{ method: 'DELETE', path: 'pki/roles/web' }],
  ]);
  t.regex(plan.changes[0]!.summary, /revoked its credentials/);
  t.deepEqual(databaseRevokeLines([], ['pg/roles/sa.shop.orders', 'pg/config/app', 'pki/roles/web'], mountTypes), [
    'path "sys/leases/revoke-prefix/pg/creds/sa.shop.orders" { capabilities = ["update", "sudo"] }',
  ]);
});
