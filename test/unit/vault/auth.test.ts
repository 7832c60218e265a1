import test from 'ava';
import { normaliseAuth, normaliseRoleParams, planAuthMounts, planRoles, splitRoleId, withUserpassUsers, type ActualAuth, type ActualAuthMount } from '../../../operator/vault/auth.js';

const cluster = { kubernetesHost: 'https://10.0.0.1:443', kubernetesCaCert: 'PEM' };

function mount(type: string, extra: Partial<ActualAuthMount> = {}): ActualAuthMount {
  return { type, description: '', tune: { default_lease_ttl: 0, max_lease_ttl: 0 }, roles: new Map(), roleNames: [], ...extra };
}

test('Bank-Vaults role aliases become token_* names; an explicit token_* wins', (t) => {
  t.deepEqual(normaliseRoleParams({ name: 'r', policies: ['p'], ttl: '1h' }), { token_policies: ['p'], token_ttl: '1h' });
  t.deepEqual(normaliseRoleParams({ name: 'r', policies: ['old'], token_policies: ['new'] }), { token_policies: ['new'] });
});

test('the kubernetes method defaults host and CA to the cluster, the spec wins', (t) => {
  const { desired } = normaliseAuth(
    [
      { type: 'kubernetes', path: 'kubernetes' },
      { type: 'kubernetes', path: 'other', config: { kubernetes_host: 'https://elsewhere' } },
      { type: 'approle', path: 'approle' },
    ],
    cluster,
  );
  t.deepEqual(desired[0]!.config, { kubernetes_host: 'https://10.0.0.1:443', kubernetes_ca_cert: 'PEM' });
  t.deepEqual(desired[1]!.config, { kubernetes_host: 'https://elsewhere', kubernetes_ca_cert: 'PEM' });
  t.is(desired[2]!.config, undefined);
});

test('bad entries are problems naming the entry, the others still normalise', (t) => {
  const { desired, problems } = normaliseAuth(
    [
      { type: '', path: 'notype', roles: [{ name: 'r' }] },
      { type: 'token', path: 'token' },
      { type: 'github', path: 'github', roles: [{ name: 'r' }] },
      { type: 'kubernetes', path: 'kubernetes', roles: [{ name: 'ok' }] },
    ],
    {},
  );
  // the github mount itself is still applied, only its roles are refused
  t.deepEqual(desired.map((d) => [d.path, d.roles.length]), [['github', 0], ['kubernetes', 1]]);
  t.true(problems.some((p) => p.id === 'notype' && /no type/.test(p.message)));
  t.true(problems.some((p) => p.id === 'token'));
  t.true(problems.some((p) => p.id === 'github' && /role endpoint/.test(p.message)));
});

test('a missing mount is enabled and configured in one change', (t) => {
  const { desired } = normaliseAuth([{ type: 'kubernetes', path: 'k8s', description: 'd', options: { default_lease_ttl: '1h' } }], cluster);
  const plan = planAuthMounts(desired, new Map(), []);
  t.is(plan.changes.length, 1);
  t.deepEqual(plan.changes[0]!.writes.map((w) => `${w.method} ${w.path}`), ['POST sys/auth/k8s', 'POST auth/k8s/config']);
  t.deepEqual(plan.changes[0]!.writes[0]!.body, { type: 'kubernetes', description: 'd', config: { default_lease_ttl: '1h' } });
});

test('an in-sync mount makes no change; tune and config differences are separate changes', (t) => {
  const { desired } = normaliseAuth([{ type: 'kubernetes', path: 'k8s', options: { default_lease_ttl: '1h' } }], cluster);
  const inSync: ActualAuth = new Map([['k8s', mount('kubernetes', { tune: { default_lease_ttl: 3600 }, config: { kubernetes_host: 'https://10.0.0.1:443', kubernetes_ca_cert: 'PEM\n' } })]]);
  t.deepEqual(planAuthMounts(desired, inSync, ['k8s']).changes, []);
  const drifted: ActualAuth = new Map([['k8s', mount('kubernetes', { tune: { default_lease_ttl: 60 }, config: { kubernetes_host: 'https://old', kubernetes_ca_cert: 'PEM' } })]]);
  const plan = planAuthMounts(desired, drifted, ['k8s']);
  t.deepEqual(plan.changes.map((c) => c.writes[0]!.path), ['sys/auth/k8s/tune', 'auth/k8s/config']);
  t.regex(plan.changes[1]!.summary, /kubernetes_host/);
});

test('a type clash is a problem, never a remount; only managed mounts are disabled', (t) => {
  const { desired } = normaliseAuth([{ type: 'kubernetes', path: 'taken' }], {});
  const actual: ActualAuth = new Map([
    ['taken', mount('userpass')],
    ['old', mount('approle')],
    ['handmade', mount('approle')],
  ]);
  const plan = planAuthMounts(desired, actual, ['old']);
  t.is(plan.problems.length, 1);
  t.is(plan.problems[0]!.id, 'taken');
  t.deepEqual(plan.changes.map((c) => `${c.action} ${c.id}`), ['delete old']);
});

test('roles: create missing, restore changed fields, keep equal ones, delete a single dropped managed role', (t) => {
  const { desired } = normaliseAuth(
    [
      {
        type: 'kubernetes',
        path: 'kubernetes',
        roles: [
          { name: 'new', bound_service_account_names: ['a'], bound_service_account_namespaces: ['ns'], policies: ['p'] },
          { name: 'same', bound_service_account_names: 'a', token_ttl: '5m' },
          { name: 'drifted', token_policies: ['p'] },
        ],
      },
    ],
    {},
  );
  const actual: ActualAuth = new Map([
    [
      'kubernetes',
      mount('kubernetes', {
        roleNames: ['same', 'drifted', 'dropped', 'handmade'],
        roles: new Map([
          ['same', { bound_service_account_names: ['a'], token_ttl: 300, token_max_ttl: 0 }],
          ['drifted', { token_policies: ['other'] }],
        ]),
      }),
    ],
  ]);
  const plan = planRoles(desired, actual, ['kubernetes/same', 'kubernetes/drifted', 'kubernetes/dropped']);
  t.deepEqual(plan.changes.map((c) => `${c.action} ${c.id}`), ['create kubernetes/new', 'update kubernetes/drifted', 'delete kubernetes/dropped']);
  t.deepEqual(plan.changes[0]!.writes[0], {
    method: 'POST',
    path: 'auth/kubernetes/role/new',
    body: { bound_service_account_names: ['a'], bound_service_account_namespaces: ['ns'], token_policies: ['p'] },
  });
  t.regex(plan.changes[1]!.summary, /token_policies/);
});

test('roles of a mount being removed are not deleted one by one', (t) => {
  const actual: ActualAuth = new Map([['old', mount('approle', { roleNames: ['r'] })]]);
  t.deepEqual(planRoles([], actual, ['old/r']).changes, []);
});

test('role ids split at the last slash', (t) => {
  t.deepEqual(splitRoleId('a/b/role'), ['a/b', 'role']);
});

test('a role field Vault does not return is reported as unknown (a typo Vault silently ignored)', (t) => {
  const { desired } = normaliseAuth([{ type: 'approle', path: 'approle', roles: [{ name: 'ci', tokn_ttl: '5m', token_ttl: '5m' }] }], {});
  const actual: ActualAuth = new Map([['approle', mount('approle', { roleNames: ['ci'], roles: new Map([['ci', { token_ttl: 300, token_policies: [] }]]) })]]);
  const plan = planRoles(desired, actual, ['approle/ci']);
  t.deepEqual(plan.changes, []);
  t.is(plan.problems.length, 1);
  t.is(plan.problems[0]!.id, 'approle/ci');
  t.regex(plan.problems[0]!.message, /tokn_ttl/);
});

test("Bank-Vaults' userpass users are the method's users/<name> entries", (t) => {
  const spec = withUserpassUsers({ type: 'userpass', path: 'people', users: [{ username: 'alice', password: 'p', token_policies: ['x'] }] });
  t.deepEqual(spec.roles, [{ name: 'alice', password: 'p', token_policies: ['x'] }]);
  t.is(spec.users, undefined);
  t.is(withUserpassUsers({ type: 'ldap', users: { bob: {} } }).users !== undefined, true, 'other types untouched');
});

test('Bank-Vaults extras become tracked entries of their collection: ldap/okta groups+users, github map, aws crossaccountrole', (t) => {
  const { desired, problems } = normaliseAuth(
    [
      { type: 'ldap', config: { url: 'ldap://x' }, groups: { admins: { policies: ['a'] } }, users: { bob: { groups: 'admins', policies: ['b'] } } },
      { type: 'github', map: { teams: { dev: ['p1', 'p2'] }, users: { alice: 'p3' } } },
      { type: 'aws', crossaccountrole: [{ sts_account: '123456789012', sts_role: 'arn:aws:iam::123456789012:role/vault' }], roles: [{ name: 'ec2' }] },
    ],
    {},
  );
  t.deepEqual(problems, []);
  const entries = (path: string) => desired.find((d) => d.path === path)!.roles.map((r) => [r.collection ?? '', r.name, r.params]);
  t.deepEqual(entries('ldap'), [['groups', 'admins', { policies: ['a'] }], ['users', 'bob', { groups: 'admins', policies: ['b'] }]]);
  t.deepEqual(entries('github'), [['map/teams', 'dev', { value: 'p1,p2' }], ['map/users', 'alice', { value: 'p3' }]]);
  t.deepEqual(entries('aws'), [['', 'ec2', {}], ['config/sts', '123456789012', { sts_role: 'arn:aws:iam::123456789012:role/vault' }]]);

  // planned as writes to their collection; ids keep the collection
  const plan = planRoles(desired, new Map(desired.map((d) => [d.path, { type: d.type, description: '', tune: {}, roles: new Map(), roleNames: [] }])), []);
  t.deepEqual(plan.changes.map((c) => [c.id, c.writes[0]!.path]), [
    ['ldap/groups/admins', 'auth/ldap/groups/admins'],
    ['ldap/users/bob', 'auth/ldap/users/bob'],
    ['github/map/teams/dev', 'auth/github/map/teams/dev'],
    ['github/map/users/alice', 'auth/github/map/users/alice'],
    ['aws/ec2', 'auth/aws/role/ec2'],
    ['aws/config/sts/123456789012', 'auth/aws/config/sts/123456789012'],
  ]);
});

test('a removed extra entry is deleted from its collection (the id is split by the mount type)', (t) => {
  const mounts: ActualAuth = new Map([
    ['ldap', { type: 'ldap', description: '', tune: {}, roles: new Map(), roleNames: ['groups/admins', 'groups/old'] }],
    ['team/github', { type: 'github', description: '', tune: {}, roles: new Map(), roleNames: ['map/teams/gone'] }],
  ]);
  t.deepEqual(splitRoleId('ldap/groups/old', mounts), ['ldap', 'groups/old']);
  t.deepEqual(splitRoleId('team/github/map/teams/gone', mounts), ['team/github', 'map/teams/gone']);
  const { desired } = normaliseAuth([{ type: 'ldap', groups: { admins: {} } }, { type: 'github', path: 'team/github' }], {});
  mounts.get('ldap')!.roles.set('groups/admins', {});
  const plan = planRoles(desired, mounts, ['ldap/groups/admins', 'ldap/groups/old', 'team/github/map/teams/gone']);
  t.deepEqual(plan.changes.map((c) => [c.action, c.writes[0]!.method, c.writes[0]!.path]), [
    ['delete', 'DELETE', 'auth/ldap/groups/old'],
    ['delete', 'DELETE', 'auth/team/github/map/teams/gone'],
  ]);
});
