import test from 'ava';
import { PathPolicy } from '../../../../operator/controllers/kmsvaultsecret/settings.js';
import { OPERATOR_POLICY_NAME } from '../../../../operator/vault/init.js';
import { withOperatorAuth, OPERATOR_AUTH_PATH } from '../../../../operator/controllers/vault/configure.js';
import {
  declaredKvMounts,
  hasKmsIdentity,
  KMS_AUTH_ROLE,
  KMS_POLICY_NAME,
  KMS_ROLE_ID,
  kmsPolicyRules,
  withKmsIdentity,
} from '../../../../operator/controllers/vault/kms-identity.js';
import type { ExternalConfig } from '../../../../operator/api/vault.js';

const OPERATOR = { name: 'vault-autopilot', namespace: 'vault-autopilot' };

test('declaredKvMounts: kv v1/v2, kv-v2 and generic; other engines are not KV', (t) => {
  t.deepEqual(
    declaredKvMounts([
      { type: 'kv', path: 'secret', options: { version: '2' } },
      { type: 'kv', path: '/apps/' },
      { type: 'kv-v2', path: 'team' },
      { type: 'generic', path: 'old' },
      { type: 'transit', path: 'transit' },
      { type: 'kv', options: { version: 2 } },
    ]),
    [
      { path: 'apps', version: 'v1' },
      { path: 'kv', version: 'v2' },
      { path: 'old', version: 'v1' },
      { path: 'secret', version: 'v2' },
      { path: 'team', version: 'v2' },
    ],
  );
  t.deepEqual(declaredKvMounts(undefined), []);
});

test('kmsPolicyRules: namespace policy keeps the top level of every mount out of reach; only what the controller does', (t) => {
  const rules = kmsPolicyRules([{ path: 'secret', version: 'v2' }, { path: 'apps', version: 'v1' }], PathPolicy.Namespace);
  t.true(rules.includes('path "secret/data/+/*" { capabilities = ["create", "read", "update"] }'));
  t.true(rules.includes('path "secret/metadata/+/*" { capabilities = ["read", "delete"] }'));
  t.true(rules.includes('path "apps/+/*" { capabilities = ["create", "read", "update", "delete"] }'));
  t.false(rules.includes('sys/'), 'nothing outside the KV mounts');
  t.false(rules.includes('list'), 'no listing other namespaces');
  const any = kmsPolicyRules([{ path: 'secret', version: 'v2' }], PathPolicy.Any);
  t.true(any.includes('path "secret/data/*"'));
  t.regex(kmsPolicyRules([], PathPolicy.Namespace), /no KV mount/);
});

test('withKmsIdentity: a policy and a role on the operator auth mount, bound to the operator ServiceAccount', (t) => {
  const user: ExternalConfig = { secrets: [{ type: 'kv', path: 'secret', options: { version: '2' } }], policies: [{ name: 'p', rules: 'path "x" {}' }] };
  const config = withKmsIdentity(withOperatorAuth(user, OPERATOR, OPERATOR_POLICY_NAME), OPERATOR, user, PathPolicy.Namespace)!;
  t.deepEqual(config.policies!.map((p) => p.name), ['p', KMS_POLICY_NAME]);
  t.true(config.policies![1]!.rules.includes('secret/data/+/*'));
  const mount = config.auth!.find((a) => a.path === OPERATOR_AUTH_PATH)!;
  t.deepEqual(mount.roles!.map((r) => r.name), ['operator', KMS_AUTH_ROLE]);
  const role = mount.roles![1]!;
  t.deepEqual(role['bound_service_account_names'], [OPERATOR.name]);
  t.deepEqual(role['bound_service_account_namespaces'], [OPERATOR.namespace]);
  t.deepEqual(role['token_policies'], [KMS_POLICY_NAME]);
  t.deepEqual(user.policies!.map((p) => p.name), ['p'], 'the spec is not mutated');
});

test('withKmsIdentity: nothing without the operator ServiceAccount, or when the user wrote the operator auth path', (t) => {
  const user: ExternalConfig = { secrets: [{ type: 'kv', path: 'secret' }] };
  t.is(withKmsIdentity(user, undefined, user, PathPolicy.Namespace), user);
  const handWritten: ExternalConfig = { auth: [{ type: 'kubernetes', path: OPERATOR_AUTH_PATH }] };
  const merged = withOperatorAuth(handWritten, OPERATOR, OPERATOR_POLICY_NAME);
  t.is(withKmsIdentity(merged, OPERATOR, handWritten, PathPolicy.Namespace), merged);
});

test('hasKmsIdentity reads the managed record', (t) => {
  t.true(hasKmsIdentity({ roles: [`${OPERATOR_AUTH_PATH}/operator`, KMS_ROLE_ID], policies: [KMS_POLICY_NAME] }));
  t.false(hasKmsIdentity({ roles: [KMS_ROLE_ID] }));
  t.false(hasKmsIdentity(undefined));
});
