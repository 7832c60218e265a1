import test from 'ava';
import { desiredRecord, normaliseExternalConfig, planVaultConfig, type ActualVaultConfig } from '../../../../operator/controllers/vault/configure.js';

const empty = (): ActualVaultConfig => ({ audit: new Map(), auth: new Map(), policies: new Map(), secrets: new Map(), engineConfig: new Map(), identity: { groups: new Map(), accessors: new Map() }, startupSecrets: new Set(), plugins: new Map() });

test('changes come in the fixed order audit -> auth -> roles -> policies -> secret engines', (t) => {
  const desired = normaliseExternalConfig(
    {
      secrets: [{ type: 'kv-v2', path: 'apps' }],
      policies: [{ name: 'p', rules: 'path "x" { capabilities = ["read"] }' }],
      auth: [{ type: 'kubernetes', path: 'kubernetes', roles: [{ name: 'r', token_policies: ['p'] }] }],
      audit: [{ type: 'file', options: { file_path: 'stdout' } }],
    },
    {},
  );
  const plan = planVaultConfig(desired, empty(), undefined);
  t.deepEqual(plan.changes.map((c) => c.concern), ['audit', 'auth', 'role', 'policy', 'secret']);
  t.deepEqual(desiredRecord(desired), { audit: ['file'], auth: ['kubernetes'], roles: ['kubernetes/r'], policies: ['p'], secrets: ['apps'] });
});

test('problems of every concern are collected while the rest is planned', (t) => {
  const desired = normaliseExternalConfig({ policies: [{ name: 'root', rules: 'x' }, { name: 'ok', rules: 'y' }], secrets: [{ type: 'kv', path: 'sys' }] }, {});
  const plan = planVaultConfig(desired, empty(), undefined);
  t.deepEqual(plan.problems.map((p) => p.id).sort(), ['root', 'sys']);
  t.deepEqual(plan.changes.map((c) => c.id), ['ok']);
});

test('the operator gets its own Kubernetes-auth role unless the user wrote that path', async (t) => {
  const { withOperatorAuth, OPERATOR_AUTH_PATH } = await import('../../../../operator/controllers/vault/configure.js');
  t.is(withOperatorAuth(undefined, undefined, 'p'), undefined);
  const config = withOperatorAuth({ policies: [] }, { name: 'op', namespace: 'sys' }, 'p')!;
  const entry = config.auth!.find((a) => a.path === OPERATOR_AUTH_PATH)!;
  t.is(entry.type, 'kubernetes');
  t.like(entry.roles![0], { bound_service_account_names: ['op'], bound_service_account_namespaces: ['sys'], token_policies: ['p'] });
  const mine = { auth: [{ type: 'kubernetes', path: OPERATOR_AUTH_PATH }] };
  t.is(withOperatorAuth(mine, { name: 'op', namespace: 'sys' }, 'p'), mine);
});
