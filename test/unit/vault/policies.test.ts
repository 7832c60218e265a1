import test from 'ava';
import nock from 'nock';
import { VaultClient } from '../../../operator/vault/client.js';
import { normalisePolicies, normaliseRules, planPolicies, policiesToRead, readListedPolicies } from '../../../operator/vault/policies.js';

const read = 'path "secret/*" { capabilities = ["read"] }';

test('rules compare without trailing spaces and CRLF', (t) => {
  t.is(normaliseRules('a  \r\nb\n\n'), 'a\nb');
});

test('a missing policy is created, an equal one left alone, a different one updated', (t) => {
  const { desired } = normalisePolicies([
    { name: 'new', rules: read },
    { name: 'same', rules: `${read}\n` },
    { name: 'changed', rules: read },
  ]);
  const actual = new Map([
    ['same', read],
    ['changed', 'path "x" { capabilities = ["deny"] }'],
  ]);
  const plan = planPolicies(desired, actual, []);
  t.deepEqual(
    plan.changes.map((c) => [c.action, c.id]),
    [
      ['create', 'new'],
      ['update', 'changed'],
    ],
  );
  t.deepEqual(plan.changes[0]!.writes, [{ method: 'PUT', path: 'sys/policies/acl/new', body: { policy: read } }]);
});

test('only managed policies that the spec dropped are deleted, never root/default or unmanaged ones', (t) => {
  const actual = new Map([
    ['old', read],
    ['handmade', read],
    ['default', read],
  ]);
  const plan = planPolicies([], actual, ['old', 'default', 'gone-already']);
  t.deepEqual(plan.changes.map((c) => [c.action, c.id]), [['delete', 'old']]);
});

test('root, empty rules and duplicates are problems naming the entry', (t) => {
  const { desired, problems } = normalisePolicies([
    { name: 'root', rules: read },
    { name: 'empty', rules: '  ' },
    { name: 'twice', rules: read },
    { name: 'twice', rules: read },
  ]);
  t.deepEqual(desired.map((d) => d.name), ['twice']);
  t.deepEqual(problems.map((p) => p.id).sort(), ['empty', 'root', 'twice']);
});

test('the policies read are the desired plus the managed ones', (t) => {
  t.deepEqual(policiesToRead([{ name: 'a', rules: read }], ['a', 'b']), ['a', 'b']);
});

test.serial('readListedPolicies: one LIST; absent names unread, removals only listed, settled ones trusted, the rest read; no LIST right: each name read', async (t) => {
  const ADDRESS = 'http://vault.test:8200';
  const client = new VaultClient({ address: ADDRESS, auth: { method: 'token', token: 't' } });
  nock(ADDRESS).get('/v1/sys/policies/acl').query({ list: 'true' }).reply(200, { data: { keys: ['default', 'known', 'unknown', 'gone'] } });
  nock(ADDRESS).get('/v1/sys/policies/acl/unknown').reply(200, { data: { policy: 'hand edited' } });
  const desired = new Map([['known', read], ['unknown', read], ['new', read]]);
  const actual = await readListedPolicies(client, ['known', 'unknown', 'new', 'gone'], desired, (name) => name === 'known');
  t.deepEqual([...actual].sort(), [['gone', ''], ['known', read], ['unknown', 'hand edited']]);
  t.true(nock.isDone(), 'one LIST and one GET');
  nock(ADDRESS).get('/v1/sys/policies/acl').query({ list: 'true' }).reply(403, { errors: ['permission denied'] });
  nock(ADDRESS).get('/v1/sys/policies/acl/known').reply(200, { data: { policy: read } });
  nock(ADDRESS).get('/v1/sys/policies/acl/new').reply(404, { errors: [] });
  t.deepEqual([...(await readListedPolicies(client, ['known', 'new'], desired, () => true))], [['known', read]]);
  t.true(nock.isDone());
  nock.cleanAll();
});
