// secrets[].configuration: paths, switches, plan and the operator's policy.
import test from 'ava';
import { deletable, normaliseEngineConfig, operatorPolicyFor, planEngineConfig, planOperatorPolicy, type ActualEngineConfig } from '../../../operator/vault/engine-config.js';
import { OPERATOR_POLICY } from '../../../operator/vault/init.js';

const db = {
  type: 'database',
  configuration: {
    config: [{ name: 'app', plugin_name: 'postgresql-database-plugin', connection_url: 'postgresql://x', password: 'p', rotate: true }],
    roles: [{ name: 'rw', db_name: 'app', default_ttl: '1h' }],
  },
};
const pki = { type: 'pki', path: 'ca/', configuration: { 'root/generate': [{ name: 'internal', common_name: 'x.test' }], 'config/urls': [{ issuing_certificates: 'https://x' }] } };

test('paths: <mount>/<key>/<name>, or <mount>/<key> without a name; switches never reach Vault', (t) => {
  const { desired, problems } = normaliseEngineConfig([db, pki]);
  t.deepEqual(problems, []);
  t.deepEqual(desired.map((d) => d.id), ['database/config/app', 'database/roles/rw', 'ca/root/generate/internal', 'ca/config/urls']);
  const config = desired[0]!;
  t.deepEqual(config.body, { plugin_name: 'postgresql-database-plugin', connection_url: 'postgresql://x', password: 'p' });
  t.true(config.once, 'rotated: written once');
  t.is(config.rotatePath, 'database/rotate-root/app');
  t.false(desired[1]!.once);
  t.true(desired[2]!.once, 'generating a CA is an action');
  t.is(desired[2]!.existsPath, 'ca/cert/ca');
});

test('problems: a non-list entry, an unsupported rotate, a path listed twice', (t) => {
  const { desired, problems } = normaliseEngineConfig([
    { type: 'pki', configuration: { roles: 'nope', issue: [{ name: 'a', rotate: true }] } },
    { type: 'kv', path: 'k', configuration: { config: [{ max_versions: 3 }, { max_versions: 4 }] } },
  ]);
  t.deepEqual(desired, []);
  t.deepEqual(problems.map((p) => p.id), ['pki/roles', 'pki/issue/a', 'k/config']);
});

test('plan: only what differs is written; once-entries only when absent; removals only of stored objects of kept mounts', (t) => {
  const { desired } = normaliseEngineConfig([db, pki]);
  const actual: ActualEngineConfig = new Map<string, Record<string, unknown> | 'absent' | 'unreadable'>([
    ['database/config/app', { plugin_name: 'postgresql-database-plugin', connection_details: {} }],
    ['database/roles/rw', { db_name: 'app', default_ttl: 3600 }],
    ['ca/root/generate/internal', 'absent'], // read from ca/cert/ca
    ['ca/config/urls', { issuing_certificates: ['https://x'] }],
    ['database/roles/old', { db_name: 'app' }],
    ['ca/roles/gone', { allow_any_name: true }],
  ]);
  const plan = planEngineConfig(desired, actual, ['database/roles/old', 'ca/roles/gone', 'ca/root/generate/internal'], new Set(['database']));
  t.deepEqual(
    plan.changes.map((c) => [c.action, c.id]),
    [
      ['create', 'ca/root/generate/internal'],
      ['delete', 'database/roles/old'],
    ],
  );
  // the CA exists: nothing to do for it; a changed role is updated
  actual.set('ca/root/generate/internal', { certificate: '-----BEGIN CERTIFICATE-----' });
  actual.set('database/roles/rw', { db_name: 'app', default_ttl: 60 });
  t.deepEqual(planEngineConfig(desired, actual, [], new Set(['database', 'ca'])).changes.map((c) => [c.action, c.id]), [['update', 'database/roles/rw']]);
  t.false(deletable('ca/root/generate/internal'));
  t.true(deletable('database/config/app'));
  t.false(deletable('ca/config'));
});

test("the operator's policy gains exactly the configured paths, and loses them again", (t) => {
  const { desired } = normaliseEngineConfig([db]);
  const policy = operatorPolicyFor(desired, [])!;
  t.regex(policy, /path "database\/config\/app" \{ capabilities = \["create", "read", "update", "delete"\] \}/);
  t.regex(policy, /path "database\/rotate-root\/app" \{ capabilities = \["update"\] \}/);
  t.notRegex(policy, /path "database\/\*"/, 'never a wildcard over the mount');
  t.is(planOperatorPolicy(policy, policy).length, 0);
  t.is(planOperatorPolicy(policy, OPERATOR_POLICY).length, 1);
  t.is(operatorPolicyFor([], []), undefined);
  // nothing configured any more: back to the base policy
  t.deepEqual(planOperatorPolicy(undefined, policy)[0]!.writes[0]!.body, { policy: OPERATOR_POLICY.trim() });
  t.is(planOperatorPolicy(undefined, OPERATOR_POLICY).length, 0);
});
