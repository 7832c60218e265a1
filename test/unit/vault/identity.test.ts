// Identity groups and group aliases: normalise and plan.
import test from 'ava';
import { identityPolicyLines, normaliseGroupAliases, normaliseGroups, planGroupAliases, planGroups, type ActualIdentity } from '../../../operator/vault/identity.js';

test('groups: type defaults to internal, metadata becomes strings, bad entries are problems', (t) => {
  const { desired, problems } = normaliseGroups([
    { name: 'admin', type: 'external', policies: ['p'], metadata: { privileged: true as unknown as string } },
    { name: 'dev' },
    { name: 'odd', type: 'other' },
    { name: 'twice' },
    { name: 'twice' },
  ]);
  t.deepEqual(desired, [
    { name: 'admin', type: 'external', policies: ['p'], metadata: { privileged: 'true' } },
    { name: 'dev', type: 'internal', policies: [], metadata: {} },
  ]);
  t.deepEqual(problems.map((p) => p.id).sort(), ['odd', 'twice']);
});

test('plan groups: create, update what differs, keep what matches, delete what the operator made and the spec dropped', (t) => {
  const { desired } = normaliseGroups([{ name: 'a', policies: ['x', 'y'] }, { name: 'b', policies: ['z'] }, { name: 'c', type: 'external' }]);
  const actual: ActualIdentity = {
    groups: new Map([
      ['a', { id: '1', type: 'internal', policies: ['y', 'x'], metadata: {} }],
      ['b', { id: '2', type: 'internal', policies: ['old'], metadata: {} }],
      ['gone', { id: '3', type: 'internal', policies: [], metadata: {} }],
      ['handmade', { id: '4', type: 'internal', policies: [], metadata: {} }],
    ]),
    accessors: new Map(),
  };
  const plan = planGroups(desired, actual, ['a', 'b', 'gone']);
  t.deepEqual(plan.changes.map((c) => [c.action, c.id]), [['update', 'b'], ['create', 'c'], ['delete', 'gone']]);
  // a type change is refused, never a delete + create
  const flipped = planGroups(normaliseGroups([{ name: 'a', type: 'external' }]).desired, actual, []);
  t.deepEqual(flipped.changes, []);
  t.regex(flipped.problems[0]!.message, /type cannot change/);
});

test('plan aliases: need an external group and a mount; one per group; removed ones are deleted by id', (t) => {
  const { desired } = normaliseGroupAliases([
    { name: 'admins', mountpath: 'ldap/', group: 'admin' },
    { name: 'x', mountpath: 'nowhere', group: 'admin2' },
    { name: 'y', mountpath: 'ldap', group: 'internal' },
  ]);
  t.deepEqual(desired.map((d) => d.id), ['ldap/admins', 'nowhere/x', 'ldap/y']);
  const actual: ActualIdentity = {
    groups: new Map([
      ['admin', { id: 'g1', type: 'external', policies: [], metadata: {} }],
      ['admin2', { id: 'g2', type: 'external', policies: [], metadata: {} }],
      ['internal', { id: 'g3', type: 'internal', policies: [], metadata: {} }],
      ['old', { id: 'g4', type: 'external', policies: [], metadata: {}, alias: { id: 'a4', name: 'legacy', mount_accessor: 'acc-ldap' } }],
    ]),
    accessors: new Map([['ldap', 'acc-ldap']]),
  };
  const plan = planGroupAliases(desired, actual, ['ldap/legacy']);
  t.deepEqual(plan.changes.map((c) => [c.action, c.id, c.writes[0]!.path]), [
    ['create', 'ldap/admins', 'identity/group-alias'],
    ['delete', 'ldap/legacy', 'identity/group-alias/id/a4'],
  ]);
  t.deepEqual(plan.changes[0]!.writes[0]!.body, { name: 'admins', mount_accessor: 'acc-ldap', canonical_id: 'g1' });
  t.deepEqual(plan.problems.map((p) => p.id), ['nowhere/x', 'ldap/y']);
  // in place: nothing to do
  actual.groups.get('admin')!.alias = { id: 'a1', name: 'admins', mount_accessor: 'acc-ldap' };
  t.deepEqual(planGroupAliases([desired[0]!], actual, ['ldap/admins']).changes, []);
});

test("the operator's policy names each group, and alias paths only when aliases are in play", (t) => {
  t.deepEqual(identityPolicyLines(['admin'], false), ['path "identity/group/name/admin" { capabilities = ["create", "read", "update", "delete"] }']);
  t.is(identityPolicyLines([], true).length, 2);
});
