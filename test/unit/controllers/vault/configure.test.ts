import test from 'ava';
import { desiredRecord, normaliseExternalConfig, planVaultConfig, type ActualVaultConfig } from '../../../../operator/controllers/vault/configure.js';
import type { Change } from '../../../../operator/vault/config-plan.js';

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

test('ConfigChanged: one Event per change up to the cap, then one counting the rest by action and concern', async (t) => {
  const { changeEventMessages } = await import('../../../../operator/controllers/vault/configure.js');
  const change = (concern: Change['concern'], action: Change['action'], id: string): Change => ({ concern, action, id, writes: [], summary: `${action}d ${concern} ${id}` });
  const few = [change('auth', 'create', 'kubernetes'), change('policy', 'create', 'p')];
  t.deepEqual(changeEventMessages(few, 3), ['created auth kubernetes', 'created policy p']);
  const many = [...few, change('role', 'create', 'a'), change('role', 'create', 'b'), change('policy', 'delete', 'q'), change('role', 'create', 'c')];
  t.deepEqual(changeEventMessages(many, 3), [
    'created auth kubernetes',
    'created policy p',
    'created role a',
    "and 3 more changes: created 2 roles, deleted 1 policy (the operator's log names each)",
  ]);
  t.is(changeEventMessages(Array.from({ length: 2000 }, (_, i) => change('role', 'create', `r${i}`))).length, 21, 'the default cap: 20 named + 1');
});
