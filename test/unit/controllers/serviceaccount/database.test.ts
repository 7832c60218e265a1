// The database decision of the ServiceAccount lifecycle: which role a
// ServiceAccount is owed on which connection, or why not; and how that role
// travels in the collective apply next to the platform's own roles.
import test from 'ava';
import type { DatabaseConnectionOffer } from '../../../../operator/api/vault.js';
import { allowedRole, desiredDatabase, type DatabaseVaultLike } from '../../../../operator/controllers/serviceaccount/database.js';
import {
  collectiveApply,
  desiredEntries,
  headerOf,
  holdsEntries,
  planServiceAccount,
  type VaultResourceLike,
} from '../../../../operator/controllers/serviceaccount/desired.js';
import { withServiceAccountRoles } from '../../../../operator/controllers/serviceaccount/compact.js';
import { orphanedEntries } from '../../../../operator/controllers/serviceaccount/sweep.js';
import { parseServiceAccountSettings } from '../../../../operator/controllers/serviceaccount/settings.js';

const settings = parseServiceAccountSettings({});
const P = 'vault.autopilot.dev/';
const MANAGER = 'vault-autopilot-serviceaccounts';
const HEADER = headerOf(settings);
const READONLY = ['CREATE ROLE "{{name}}" LOGIN PASSWORD \'{{password}}\';', 'GRANT SELECT ON orders TO "{{name}}";'];

function anOffer(over: Partial<DatabaseConnectionOffer> = {}): DatabaseConnectionOffer {
  return { connection: 'database/app', namespaces: ['shop'], templates: [{ name: 'readonly', creation_statements: READONLY }], default_ttl: '1h', max_ttl: '24h', ...over };
}

function aVault(offers: DatabaseConnectionOffer[] = [anOffer()], engine: { path?: string; connections?: string[]; allowedRoles?: unknown } = {}): DatabaseVaultLike & VaultResourceLike {
  return {
    metadata: { uid: 'u1', managedFields: [] },
    spec: {
      externalConfig: {
        secrets: [
          {
            type: 'database',
            path: engine.path ?? '',
            configuration: { config: (engine.connections ?? ['app']).map((name) => ({ name, plugin_name: 'postgresql-database-plugin', allowed_roles: engine.allowedRoles ?? ['sa.*'] })) },
          },
        ],
      },
      selfService: { namespaces: { from: 'All' }, databaseConnections: offers },
    },
  };
}

const decide = (annotations: Record<string, string>, vault = aVault(), namespace = 'shop') =>
  desiredDatabase(namespace, 'orders', annotations, settings, vault, 'vault-system/vault');

test('an offered connection gives a role sa.<ns>.<name> with the platform\'s template and TTLs', (t) => {
  const d = decide({ [`${P}db-dynamic-creds`]: 'database/app' });
  if (!d || !('entry' in d)) return t.fail(JSON.stringify(d));
  t.deepEqual(d.entry, {
    type: 'database',
    path: '',
    mount: 'database',
    role: { name: 'sa.shop.orders', db_name: 'app', creation_statements: READONLY, default_ttl: 3600, max_ttl: 86400 },
  });
});

test('no annotation: nothing asked', (t) => {
  t.is(decide({ [`${P}auto-configure`]: 'true' }), undefined);
});

test('TTL annotations: shorter is fine, longer than the platform\'s max is refused', (t) => {
  const short = decide({ [`${P}db-dynamic-creds`]: 'database/app', [`${P}db-creds-ttl`]: '5m', [`${P}db-creds-max-ttl`]: '2h' });
  t.like(short && 'entry' in short ? short.entry.role : {}, { default_ttl: 300, max_ttl: 7200 });
  // the platform's default (1h) is capped by a shorter max the tenant asks for
  const capped = decide({ [`${P}db-dynamic-creds`]: 'database/app', [`${P}db-creds-max-ttl`]: '30m' });
  t.like(capped && 'entry' in capped ? capped.entry.role : {}, { default_ttl: 1800, max_ttl: 1800 });
  const long = decide({ [`${P}db-dynamic-creds`]: 'database/app', [`${P}db-creds-ttl`]: '48h' });
  t.regex(long && 'problem' in long ? long.problem.message : '', /db-creds-ttl is 48h; connection "database\/app" allows at most 24h/);
  const bad = decide({ [`${P}db-dynamic-creds`]: 'database/app', [`${P}db-creds-ttl`]: 'soon' });
  t.regex(bad && 'problem' in bad ? bad.problem.message : '', /must be a duration/);
});

test('refusals say why: not offered, not to this namespace, not declared, unknown template, malformed', (t) => {
  const msg = (d: ReturnType<typeof decide>) => (d && 'problem' in d ? d.problem.message : 'NOT REFUSED');
  t.regex(msg(decide({ [`${P}db-dynamic-creds`]: 'database/other' })), /offers no database connection "database\/other" \(offered to this namespace: database\/app\)/);
  t.regex(msg(decide({ [`${P}db-dynamic-creds`]: 'database/app' }, aVault(), 'billing')), /not offered to namespace billing/);
  t.regex(msg(decide({ [`${P}db-dynamic-creds`]: 'database/app' }, aVault([anOffer()], { connections: ['legacy'] }))), /offered but not declared/);
  t.regex(msg(decide({ [`${P}db-dynamic-creds`]: 'database/app', [`${P}db-creds-template`]: 'DROP TABLE x' })), /offers the templates readonly/);
  t.regex(msg(decide({ [`${P}db-dynamic-creds`]: 'app' })), /must be <mount>\/<connection>/);
  const two = aVault([anOffer({ templates: [{ name: 'ro', creation_statements: ['a'] }, { name: 'rw', creation_statements: ['b'] }] })]);
  t.regex(msg(decide({ [`${P}db-dynamic-creds`]: 'database/app' }, two)), /several templates \(ro, rw\); name one/);
  t.regex(msg(decide({ [`${P}db-dynamic-creds`]: 'database/app' }, aVault([anOffer()], { allowedRoles: ['app-rw'] }))), /does not allow the role sa\.shop\.orders .*"sa\.\*"/);
  const d = decide({ [`${P}db-dynamic-creds`]: 'database/app' }, aVault([anOffer({ namespaces: ['*'] })]), 'anyone');
  t.true(Boolean(d && 'entry' in d), '"*" offers the connection to every namespace');
});

test('plan: the role goes under the engine\'s own list key, the policy gains read on its creds', (t) => {
  const sa = { metadata: { name: 'orders', namespace: 'shop', annotations: { [`${P}db-dynamic-creds`]: 'pg/app' } } };
  const vault = aVault([anOffer({ connection: 'pg/app' })], { path: 'pg' });
  const plan = planServiceAccount(sa, settings, new Map([['vault-system/vault', vault]]), 'x', MANAGER);
  t.is(plan.databaseRefused, undefined);
  const entries = plan.apply!.change.entries!;
  t.true(entries.policy.rules.endsWith('path "pg/creds/sa.shop.orders" {\n  capabilities = ["read"]\n}\n'));
  const apply = collectiveApply({ namespace: 'vault-system', name: 'vault' }, vault, MANAGER, [plan.apply!.change], HEADER);
  // the Vault lifecycle renders it into the platform's engine entry, next to its config
  const rendered = withServiceAccountRoles(vault.spec?.externalConfig as never, apply.config.spec?.serviceAccountRoles);
  t.deepEqual(rendered?.secrets?.map((s) => [s.type, s.path, (s.configuration as Record<string, unknown>)['roles']]), [
    ['database', 'pg', [{ name: 'sa.shop.orders', db_name: 'app', creation_statements: READONLY, default_ttl: 3600, max_ttl: 86400 }]],
  ]);
  t.is(rendered?.policies?.find((p) => p.name === 'sa.shop.orders')?.rules, entries.policy.rules);
  t.true(apply.changed);
});

test('plan: refused database credentials keep the ServiceAccount\'s role and policy, without the creds line', (t) => {
  const sa = { metadata: { name: 'orders', namespace: 'billing', annotations: { [`${P}db-dynamic-creds`]: 'database/app' } } };
  const plan = planServiceAccount(sa, settings, new Map([['vault-system/vault', aVault()]]), 'x', MANAGER);
  t.regex(plan.databaseRefused?.message ?? '', /not offered to namespace billing/);
  t.is(plan.databaseRefused?.reason, 'DatabaseCredsRefused');
  const entries = plan.apply!.change.entries!;
  t.is(entries.database, undefined);
  t.false(entries.policy.rules.includes('/creds/'));
});

/** The resource after the manager applied `apply` (the compact field, owned by it). */
function applied(vault: VaultResourceLike, config: ReturnType<typeof collectiveApply>['config']): VaultResourceLike {
  const { serviceAccountRoles: _old, ...rest } = vault.spec ?? {};
  return {
    ...vault,
    metadata: { ...vault.metadata, managedFields: [{ manager: MANAGER, operation: 'Apply', fieldsV1: { 'f:spec': { 'f:serviceAccountRoles': {} } } }] },
    spec: { ...rest, ...(config.spec ? { serviceAccountRoles: config.spec.serviceAccountRoles } : {}) },
  };
}

test('in sync plans nothing; un-annotated removes the database role with the rest; the sweep finds it', (t) => {
  const annotations = { [`${P}db-dynamic-creds`]: 'database/app' };
  const sa = { metadata: { name: 'orders', namespace: 'shop', annotations } };
  const vault = aVault();
  const first = planServiceAccount(sa, settings, new Map([['vault-system/vault', vault]]), 'x', MANAGER);
  const after = applied(vault, collectiveApply({ namespace: 'vault-system', name: 'vault' }, vault, MANAGER, [first.apply!.change], HEADER).config);
  t.deepEqual(after.spec?.serviceAccountRoles?.entries.map((e) => e.database?.role.name), ['sa.shop.orders']);
  t.true(holdsEntries(after, first.apply!.change.entries!, MANAGER));
  t.is(planServiceAccount(sa, settings, new Map([['vault-system/vault', after]]), 'x', MANAGER).apply, undefined, 'in sync: nothing to apply');
  // a changed TTL is not in sync
  const longer = { metadata: { ...sa.metadata, annotations: { ...annotations, [`${P}db-creds-ttl`]: '2h' } } };
  t.truthy(planServiceAccount(longer, settings, new Map([['vault-system/vault', after]]), 'x', MANAGER).apply);
  // un-annotated: the removal takes the database role out too
  const removal = collectiveApply({ namespace: 'vault-system', name: 'vault' }, after, MANAGER, [{ serviceAccount: 'shop/orders', roleName: 'sa.shop.orders', policyName: 'sa.shop.orders', entries: null }], HEADER);
  t.is(removal.config.spec, undefined);
  t.true(removal.changed);
  // asking for the Kubernetes role only drops the database role
  const plain = { metadata: { name: 'orders', namespace: 'shop', annotations: { [`${P}auto-configure`]: 'true' } } };
  t.false(holdsEntries(after, desiredEntries('shop', 'orders', settings), MANAGER));
  const onlyAuth = planServiceAccount(plain, settings, new Map([['vault-system/vault', after]]), 'x', MANAGER);
  const dropped = collectiveApply({ namespace: 'vault-system', name: 'vault' }, after, MANAGER, [onlyAuth.apply!.change], HEADER);
  t.deepEqual(dropped.config.spec?.serviceAccountRoles.entries, [{ namespace: 'shop', name: 'orders' }]);
  // deleted ServiceAccount: the sweep removes its entries, database role included
  const orphans = orphanedEntries(after, MANAGER, settings, () => undefined, () => true);
  t.deepEqual(orphans.map((o) => o.roleName), ['sa.shop.orders']);
});

test('a platform role of the same name is a conflict, never taken over', (t) => {
  const vault = aVault();
  vault.spec!.externalConfig!.secrets![0]!.configuration!['roles'] = [{ name: 'sa.shop.orders', db_name: 'app', creation_statements: ['x'] }];
  const sa = { metadata: { name: 'orders', namespace: 'shop', annotations: { [`${P}db-dynamic-creds`]: 'database/app' } } };
  const plan = planServiceAccount(sa, settings, new Map([['vault-system/vault', vault]]), 'x', MANAGER);
  const apply = collectiveApply({ namespace: 'vault-system', name: 'vault' }, vault, MANAGER, [plan.apply!.change], HEADER);
  t.deepEqual(apply.conflicts, [{ serviceAccount: 'shop/orders', fields: ['.spec.externalConfig.secrets[type="database",path=""].configuration.roles[name="sa.shop.orders"]'] }]);
});

test('allowedRole: names, * globs, comma strings; nothing allowed by default', (t) => {
  t.true(allowedRole(['sa.*'], 'sa.shop.orders'));
  t.true(allowedRole('app-rw, sa.shop.*', 'sa.shop.orders'));
  t.true(allowedRole(['*'], 'anything'));
  t.true(allowedRole(['sa.shop.orders'], 'sa.shop.orders'));
  t.false(allowedRole(['sa.shop.orders'], 'sa.shopXorders'), 'a dot is a dot, not any character');
  t.false(allowedRole(['sa.billing.*'], 'sa.shop.orders'));
  t.false(allowedRole(undefined, 'sa.shop.orders'));
  t.false(allowedRole([], 'sa.shop.orders'));
});
