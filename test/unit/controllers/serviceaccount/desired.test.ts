import test from 'ava';
import { FINALIZER } from '../../../../operator/api/naming.js';
import { ServiceAccountReason } from '../../../../operator/api/serviceaccount.js';
import {
  collectiveApply,
  decideIntent,
  desiredEntries,
  headerOf,
  holdsEntries,
  ownedEntries,
  mentionsAutoConfigure,
  planServiceAccount,
  removalTargets,
  vaultsToRead,
  type ServiceAccountLike,
  type VaultResourceLike,
} from '../../../../operator/controllers/serviceaccount/desired.js';
import { storedEntries, withServiceAccountRoles } from '../../../../operator/controllers/serviceaccount/compact.js';
import { parseServiceAccountSettings } from '../../../../operator/controllers/serviceaccount/settings.js';

const settings = parseServiceAccountSettings({});
const HEADER = headerOf(settings);
const P = 'vault.autopilot.dev/';

function aServiceAccount(opts: {
  name?: string;
  namespace?: string;
  annotations?: Record<string, string>;
  finalizers?: string[];
  deleting?: boolean;
} = {}): ServiceAccountLike {
  return {
    metadata: {
      name: opts.name ?? 'cart',
      namespace: opts.namespace ?? 'shop',
      annotations: opts.annotations ?? { [`${P}auto-configure`]: 'true' },
      finalizers: opts.finalizers ?? [],
      ...(opts.deleting ? { deletionTimestamp: '2026-01-01T00:00:00Z' } : {}),
    },
  };
}

const MANAGER = 'vault-autopilot-serviceaccounts';

/** managedFields.fieldsV1 of a manager that owns these roles (under auth `path`) and policies, as the API server writes it. */
function fieldsV1(path: string, roles: string[], policies: string[]): unknown {
  const item = () => ({ '.': {}, 'f:name': {} });
  return {
    'f:spec': {
      'f:externalConfig': {
        'f:auth': { [`k:${JSON.stringify({ path })}`]: { '.': {}, 'f:path': {}, 'f:type': {}, 'f:roles': Object.fromEntries(roles.map((n) => [`k:${JSON.stringify({ name: n })}`, item()])) } },
        'f:policies': Object.fromEntries(policies.map((n) => [`k:${JSON.stringify({ name: n })}`, { '.': {}, 'f:name': {}, 'f:rules': {} }])),
      },
    },
  };
}

/** A Vault resource as an earlier version left it: `manager` applied `sa`'s rendered entries (next to hand-written ones). */
function aLegacyVaultHolding(sa: ServiceAccountLike, manager = MANAGER): VaultResourceLike {
  const entries = desiredEntries(sa.metadata!.namespace!, sa.metadata!.name!, settings);
  return {
    metadata: {
      uid: 'uid-holding',
      managedFields: [
        { manager: 'kubectl', operation: 'Update', fieldsV1: fieldsV1('kubernetes', ['hand-written'], ['ops']) },
        { manager, operation: 'Apply', fieldsV1: fieldsV1('kubernetes', [entries.role.name], [entries.policy.name]) },
      ],
    },
    spec: {
      selfService: { namespaces: { from: 'All' } },
      externalConfig: {
        auth: [{ path: 'kubernetes', type: 'kubernetes', roles: [{ name: 'hand-written' }, { ...entries.role }] }],
        policies: [{ name: 'ops', rules: 'path "*" {}' }, { ...entries.policy }],
      },
    },
  };
}

/** A Vault resource as the API server returns it after `manager` applied `sa`'s compact entry (next to hand-written entries). */
function aVaultHolding(sa: ServiceAccountLike, manager = MANAGER): VaultResourceLike {
  return {
    metadata: {
      uid: 'uid-holding',
      managedFields: [
        { manager: 'kubectl', operation: 'Update', fieldsV1: fieldsV1('kubernetes', ['hand-written'], ['ops']) },
        { manager, operation: 'Apply', fieldsV1: { 'f:spec': { 'f:serviceAccountRoles': {} } } },
      ],
    },
    spec: {
      selfService: { namespaces: { from: 'All' } },
      externalConfig: {
        auth: [{ path: 'kubernetes', type: 'kubernetes', roles: [{ name: 'hand-written' }] }],
        policies: [{ name: 'ops', rules: 'path "*" {}' }],
      },
      serviceAccountRoles: { ...HEADER, entries: [{ namespace: sa.metadata!.namespace!, name: sa.metadata!.name! }] },
    },
  };
}

// these Vaults serve every namespace: admission has its own tests (self-service.test.ts)
const emptyVault: VaultResourceLike = { metadata: { uid: 'uid-empty', managedFields: [{ manager: 'kubectl', operation: 'Update' }] }, spec: { selfService: { namespaces: { from: 'All' } } } };

test('"true" configures a role bound to exactly this ServiceAccount in the default Vault', (t) => {
  const intent = decideIntent(aServiceAccount(), settings);
  if (intent.kind !== 'configure') return t.fail(JSON.stringify(intent));
  t.deepEqual(intent.target, { namespace: 'vault-system', name: 'vault' });
  t.deepEqual(intent.entries.role, {
    name: 'sa.shop.cart',
    bound_service_account_names: ['cart'],
    bound_service_account_namespaces: ['shop'],
    token_policies: ['sa.shop.cart'],
    token_ttl: 300,
    token_max_ttl: 3600,
  });
  t.is(intent.entries.policy.name, 'sa.shop.cart');
  t.true(intent.entries.policy.rules.includes('path "secret/data/shop/cart/*"'));
  t.is(intent.entries.authPath, 'kubernetes');
});

test('the vault annotation picks the target', (t) => {
  const intent = decideIntent(aServiceAccount({ annotations: { [`${P}auto-configure`]: 'true', [`${P}vault`]: 'team-a/vault' } }), settings);
  t.is(intent.kind, 'configure');
  if (intent.kind === 'configure') t.deepEqual(intent.target, { namespace: 'team-a', name: 'vault' });
});

test('other values of auto-configure are refused with a message naming the accepted value', (t) => {
  for (const value of ['True', 'yes', '1', '']) {
    const intent = decideIntent(aServiceAccount({ annotations: { [`${P}auto-configure`]: value } }), settings);
    t.is(intent.kind, 'unconfigure', value);
    if (intent.kind !== 'unconfigure') continue;
    t.is(intent.problem?.reason, ServiceAccountReason.InvalidAnnotation);
    t.regex(intent.problem!.message, /only accepted value is "true"/);
  }
});

test('a malformed vault annotation is refused', (t) => {
  const intent = decideIntent(aServiceAccount({ annotations: { [`${P}auto-configure`]: 'true', [`${P}vault`]: 'just-a-name' } }), settings);
  t.is(intent.kind, 'unconfigure');
  if (intent.kind === 'unconfigure') {
    t.is(intent.problem?.reason, ServiceAccountReason.InvalidTargetVault);
    t.regex(intent.problem!.message, /<namespace>\/<name>.*vault-system\/vault/);
  }
});

test('the default ServiceAccount is refused unless allowed', (t) => {
  const sa = aServiceAccount({ name: 'default' });
  const refused = decideIntent(sa, settings);
  t.is(refused.kind, 'unconfigure');
  if (refused.kind === 'unconfigure') t.is(refused.problem?.reason, ServiceAccountReason.DefaultServiceAccountRefused);
  const allowed = decideIntent(sa, { ...settings, allowDefaultServiceAccount: true });
  t.is(allowed.kind, 'configure');
});

test('no annotation or a deletion means unconfigure, without a problem', (t) => {
  t.deepEqual(decideIntent(aServiceAccount({ annotations: {} }), settings), { kind: 'unconfigure' });
  t.deepEqual(decideIntent(aServiceAccount({ deleting: true }), settings), { kind: 'unconfigure' });
});

test('another annotation prefix is honoured', (t) => {
  const custom = { ...settings, annotationPrefix: 'vault.example.com/' };
  t.is(decideIntent(aServiceAccount(), custom).kind, 'unconfigure');
  t.is(decideIntent(aServiceAccount({ annotations: { 'vault.example.com/auto-configure': 'true' } }), custom).kind, 'configure');
  t.false(mentionsAutoConfigure(aServiceAccount(), custom));
  t.true(mentionsAutoConfigure(aServiceAccount(), settings));
  t.true(mentionsAutoConfigure(aServiceAccount({ annotations: { [`${P}applied-vault`]: 'a/b' } }), settings));
  t.false(mentionsAutoConfigure(aServiceAccount({ annotations: { other: 'x' } }), settings));
});

test('ownedEntries reads the role and policy names a manager owns from managedFields (what an earlier version wrote)', (t) => {
  const owned = ownedEntries(aLegacyVaultHolding(aServiceAccount()), MANAGER);
  t.deepEqual([...owned.roles.entries()].map(([p, n]) => [p, [...n]]), [['kubernetes', ['sa.shop.cart']]]);
  t.deepEqual([...owned.policies], ['sa.shop.cart']);
  const hand = ownedEntries(aLegacyVaultHolding(aServiceAccount()), 'kubectl');
  t.is(hand.roles.size + hand.policies.size, 0, 'an Update manager does not count');
  t.deepEqual([...ownedEntries(emptyVault, MANAGER).policies], []);
});

test('collectiveApply: adds a ServiceAccount next to the ones already kept, never lists hand-written entries', (t) => {
  const vault = aVaultHolding(aServiceAccount());
  const entries = desiredEntries('shop', 'orders', settings);
  const result = collectiveApply({ namespace: 'vault-system', name: 'vault' }, vault, MANAGER, [
    { serviceAccount: 'shop/orders', roleName: entries.role.name, policyName: entries.policy.name, entries },
  ], HEADER);
  t.true(result.changed);
  t.deepEqual(result.conflicts, []);
  t.deepEqual(result.config.metadata, { name: 'vault', namespace: 'vault-system', uid: 'uid-holding' });
  // compact: the shared header once, then namespace and name; nothing of externalConfig is listed
  t.deepEqual(result.config.spec, { serviceAccountRoles: { ...HEADER, entries: [{ namespace: 'shop', name: 'cart' }, { namespace: 'shop', name: 'orders' }] } });
  // the Vault lifecycle renders exactly the role and policy the ServiceAccount is owed, next to the hand-written ones
  const rendered = withServiceAccountRoles(vault.spec!.externalConfig as never, result.config.spec!.serviceAccountRoles)!;
  t.deepEqual(rendered.auth!.map((a) => [a.path, a.type]), [['kubernetes', 'kubernetes']]);
  t.deepEqual(rendered.auth![0]!.roles!.map((r) => r.name), ['hand-written', 'sa.shop.cart', 'sa.shop.orders']);
  t.deepEqual(rendered.auth![0]!.roles![2], entries.role as never);
  t.deepEqual(rendered.policies!.map((p) => p.name), ['ops', 'sa.shop.cart', 'sa.shop.orders']);
  t.deepEqual(rendered.policies![2], entries.policy);
});

test('collectiveApply: says which changes found the resource as asked already (their entry there, or gone)', (t) => {
  const vault = aVaultHolding(aServiceAccount());
  const cart = desiredEntries('shop', 'cart', settings);
  const orders = desiredEntries('shop', 'orders', settings);
  const result = collectiveApply({ namespace: 'vault-system', name: 'vault' }, vault, MANAGER, [
    { serviceAccount: 'shop/cart', roleName: cart.role.name, policyName: cart.policy.name, entries: cart },
    { serviceAccount: 'shop/orders', roleName: orders.role.name, policyName: orders.policy.name, entries: orders },
    { serviceAccount: 'shop/gone', roleName: 'sa.shop.gone', policyName: 'sa.shop.gone', entries: null },
  ], HEADER);
  t.deepEqual([...result.unchanged].sort(), ['shop/cart', 'shop/gone']);
  const removal = collectiveApply({ namespace: 'vault-system', name: 'vault' }, vault, MANAGER, [{ serviceAccount: 'shop/cart', roleName: cart.role.name, policyName: cart.policy.name, entries: null }], HEADER);
  t.deepEqual([...removal.unchanged], []);
  t.true(removal.changed);
});

test('upgrade: rendered entries an earlier version wrote become compact entries in one apply, rendering the very same role and policy', (t) => {
  const legacy = aLegacyVaultHolding(aServiceAccount());
  const entries = desiredEntries('shop', 'cart', settings);
  t.false(holdsEntries(legacy, entries, MANAGER), 'not in sync until migrated');
  const result = collectiveApply({ namespace: 'vault-system', name: 'vault' }, legacy, MANAGER, [], HEADER);
  t.true(result.changed, 'the migration is an apply even with no change asked for');
  t.deepEqual(result.config.spec, { serviceAccountRoles: { ...HEADER, entries: [{ namespace: 'shop', name: 'cart' }] } });
  const rendered = withServiceAccountRoles({ auth: [{ path: 'kubernetes', type: 'kubernetes', roles: [{ name: 'hand-written' }] }], policies: [{ name: 'ops', rules: 'path "*" {}' }] }, result.config.spec!.serviceAccountRoles)!;
  t.deepEqual(rendered.auth![0]!.roles!.find((r) => r.name === 'sa.shop.cart'), legacy.spec!.externalConfig!.auth![0]!.roles![1] as never, 'the same role: nothing is removed from Vault');
  t.deepEqual(rendered.policies!.find((p) => p.name === 'sa.shop.cart'), legacy.spec!.externalConfig!.policies![1] as never);
  // a ServiceAccount applied meanwhile joins the migrated ones; an existing entry of the manager is not a conflict
  const also = collectiveApply({ namespace: 'vault-system', name: 'vault' }, legacy, MANAGER, [{ serviceAccount: 'shop/cart', roleName: 'sa.shop.cart', policyName: 'sa.shop.cart', entries }], HEADER);
  t.deepEqual(also.conflicts, []);
  t.deepEqual(also.config.spec!.serviceAccountRoles.entries, [{ namespace: 'shop', name: 'cart' }]);
});

test('rendering: externalConfig wins over a compact entry of the same name; a missing mount is added as kubernetes; another type is left alone', (t) => {
  const spec = { ...HEADER, entries: [{ namespace: 'shop', name: 'cart' }, { namespace: 'shop', name: 'taken' }] };
  const rendered = withServiceAccountRoles({ policies: [{ name: 'sa.shop.taken', rules: 'hand' }] }, spec)!;
  t.deepEqual(rendered.auth!.map((a) => [a.path, a.type, a.roles!.map((r) => r.name)]), [['kubernetes', 'kubernetes', ['sa.shop.cart']]]);
  t.deepEqual(rendered.policies!.map((p) => [p.name, p.rules === 'hand']), [['sa.shop.taken', true], ['sa.shop.cart', false]]);
  const other = withServiceAccountRoles({ auth: [{ path: 'kubernetes', type: 'userpass' }] }, spec)!;
  t.deepEqual(other.auth, [{ path: 'kubernetes', type: 'userpass', roles: [] }]);
  t.is(other.policies!.length, 0, 'no policy without its role');
  t.is(withServiceAccountRoles(undefined, undefined), undefined);
});

test('collectiveApply: removing the last ServiceAccount applies an object with no entries; nothing to do is unchanged', (t) => {
  const vault = aVaultHolding(aServiceAccount());
  const removed = collectiveApply({ namespace: 'vault-system', name: 'vault' }, vault, MANAGER, [
    { serviceAccount: 'shop/cart', roleName: 'sa.shop.cart', policyName: 'sa.shop.cart', entries: null },
  ], HEADER);
  t.true(removed.changed);
  t.is(removed.config.spec, undefined);
  const same = desiredEntries('shop', 'cart', settings);
  const unchanged = collectiveApply({ namespace: 'vault-system', name: 'vault' }, vault, MANAGER, [
    { serviceAccount: 'shop/cart', roleName: same.role.name, policyName: same.policy.name, entries: same },
  ], HEADER);
  t.false(unchanged.changed);
  const absent = collectiveApply({ namespace: 'v', name: 'v' }, emptyVault, MANAGER, [
    { serviceAccount: 'a/b', roleName: 'sa.a.b', policyName: 'sa.a.b', entries: null },
  ], HEADER);
  t.false(absent.changed);
});

test('collectiveApply: a hand-written entry of the same name is a conflict for that ServiceAccount only', (t) => {
  const vault: VaultResourceLike = {
    metadata: { managedFields: [{ manager: 'kubectl', operation: 'Update', fieldsV1: fieldsV1('kubernetes', ['sa.shop.taken'], []) }] },
    spec: { externalConfig: { auth: [{ path: 'kubernetes', type: 'kubernetes', roles: [{ name: 'sa.shop.taken', token_ttl: 1 }] }] } },
  };
  const taken = desiredEntries('shop', 'taken', settings);
  const free = desiredEntries('shop', 'free', settings);
  const result = collectiveApply({ namespace: 'v', name: 'v' }, vault, MANAGER, [
    { serviceAccount: 'shop/taken', roleName: taken.role.name, policyName: taken.policy.name, entries: taken },
    { serviceAccount: 'shop/free', roleName: free.role.name, policyName: free.policy.name, entries: free },
  ], HEADER);
  t.deepEqual(result.conflicts, [{ serviceAccount: 'shop/taken', fields: ['.spec.externalConfig.auth[path="kubernetes"].roles[name="sa.shop.taken"]'] }]);
  t.deepEqual(result.config.spec!.serviceAccountRoles.entries.map((e) => e.name), ['free']);
});

test('holdsEntries needs the compact entry to render every field of the role and the policy, nothing left to migrate', (t) => {
  const sa = aServiceAccount();
  const entries = desiredEntries('shop', 'cart', settings);
  const manager = MANAGER;
  t.true(holdsEntries(aVaultHolding(sa), entries, manager));
  t.false(holdsEntries(aLegacyVaultHolding(sa), entries, manager), 'rendered entries of an earlier version: migrate first');
  const shadowed = aVaultHolding(sa);
  shadowed.spec!.externalConfig!.policies!.push({ name: 'sa.shop.cart', rules: 'hand' });
  t.false(holdsEntries(shadowed, entries, manager), 'a hand-written policy of that name shadows ours');
  t.false(holdsEntries(emptyVault, entries, manager));
  const changedTtl = desiredEntries('shop', 'cart', { ...settings, tokenTtlSeconds: 60 });
  t.false(holdsEntries(aVaultHolding(sa), changedTtl, manager));
  const changedRules = desiredEntries('shop', 'cart', { ...settings, policyTemplate: 'path "x" {}' });
  t.false(holdsEntries(aVaultHolding(sa), changedRules, manager));
  const otherPath = desiredEntries('shop', 'cart', { ...settings, kubernetesAuthPath: 'k8s' });
  t.false(holdsEntries(aVaultHolding(sa), otherPath, manager));
});

test('a configured ServiceAccount in sync plans nothing', (t) => {
  const sa = aServiceAccount({
    annotations: { [`${P}auto-configure`]: 'true', [`${P}applied-vault`]: 'vault-system/vault' },
  });
  t.deepEqual(vaultsToRead(sa, decideIntent(sa, settings), settings, FINALIZER), [{ namespace: 'vault-system', name: 'vault' }]);
  const plan = planServiceAccount(sa, settings, new Map([['vault-system/vault', aVaultHolding(sa)]]), FINALIZER, MANAGER);
  t.is(plan.finalizer, undefined);
  t.deepEqual(plan.removals, []);
  t.is(plan.apply, undefined);
  t.is(plan.targetMissing, undefined);
  t.is(plan.appliedVault, undefined);
});

test('a new ServiceAccount: apply, record the target, no finalizer (its namespace must never wait for the operator)', (t) => {
  const sa = aServiceAccount();
  const plan = planServiceAccount(sa, settings, new Map([['vault-system/vault', emptyVault]]), FINALIZER, MANAGER);
  t.is(plan.finalizer, undefined);
  t.deepEqual(plan.apply?.target, { namespace: 'vault-system', name: 'vault' });
  t.deepEqual(plan.apply?.change.entries?.policy.name, 'sa.shop.cart');
  t.is(plan.apply?.change.serviceAccount, 'shop/cart');
  t.is(plan.appliedVault, 'vault-system/vault');
});

test('a missing or terminating target Vault is reported, nothing applied', (t) => {
  const sa = aServiceAccount();
  for (const vault of [null, { ...emptyVault, metadata: { deletionTimestamp: '2026-01-01T00:00:00Z' } }]) {
    const plan = planServiceAccount(sa, settings, new Map([['vault-system/vault', vault]]), FINALIZER, MANAGER);
    t.deepEqual(plan.targetMissing, { namespace: 'vault-system', name: 'vault' });
    t.is(plan.apply, undefined);
    t.is(plan.appliedVault, undefined);
  }
});

test('a changed target removes the entries from the old Vault and applies them to the new one', (t) => {
  const sa = aServiceAccount({
    finalizers: [FINALIZER],
    annotations: { [`${P}auto-configure`]: 'true', [`${P}vault`]: 'team/vault', [`${P}applied-vault`]: 'vault-system/vault' },
  });
  const intent = decideIntent(sa, settings);
  t.deepEqual(vaultsToRead(sa, intent, settings, FINALIZER), [
    { namespace: 'vault-system', name: 'vault' },
    { namespace: 'team', name: 'vault' },
  ]);
  const plan = planServiceAccount(
    sa,
    settings,
    new Map([
      ['vault-system/vault', aVaultHolding(sa)],
      ['team/vault', emptyVault],
    ]),
    FINALIZER,
    MANAGER,
  );
  t.deepEqual(plan.removals.map((r) => r.target), [{ namespace: 'vault-system', name: 'vault' }]);
  t.is(plan.removals[0]!.change.entries, null);
  t.deepEqual(plan.apply?.target, { namespace: 'team', name: 'vault' });
  t.is(plan.appliedVault, 'team/vault');
});

test('retargeted on a copy from before the record of the last apply: the Vault the caller last applied to is emptied all the same', (t) => {
  // the watch cache can lag the previous pass's record write: the copy names the new target but records nothing yet
  const sa = aServiceAccount({ annotations: { [`${P}auto-configure`]: 'true', [`${P}vault`]: 'team/vault' } });
  const intent = decideIntent(sa, settings);
  const old = { namespace: 'vault-system', name: 'vault' };
  t.deepEqual(vaultsToRead(sa, intent, settings, FINALIZER), [{ namespace: 'team', name: 'vault' }], 'on its own the copy says nothing of the old Vault');
  t.deepEqual(vaultsToRead(sa, intent, settings, FINALIZER, old), [old, { namespace: 'team', name: 'vault' }]);
  const vaults = new Map([
    ['vault-system/vault', aVaultHolding(sa)],
    ['team/vault', emptyVault],
  ]);
  const plan = planServiceAccount(sa, settings, vaults, FINALIZER, MANAGER, {}, old);
  t.deepEqual(plan.removals.map((r) => r.target), [old]);
  t.deepEqual(plan.apply?.target, { namespace: 'team', name: 'vault' });
  t.is(plan.appliedVault, 'team/vault');
  // in steady state the last apply is the target: nothing more to read or remove
  t.deepEqual(vaultsToRead(sa, intent, settings, FINALIZER, { namespace: 'team', name: 'vault' }), [{ namespace: 'team', name: 'vault' }]);
});

test('annotation removed: remove the entries, the record and the finalizer', (t) => {
  const sa = aServiceAccount({ finalizers: [FINALIZER], annotations: { [`${P}applied-vault`]: 'vault-system/vault' } });
  const plan = planServiceAccount(sa, settings, new Map([['vault-system/vault', aVaultHolding(sa)]]), FINALIZER, MANAGER);
  t.deepEqual(plan.removals.map((r) => r.target), [{ namespace: 'vault-system', name: 'vault' }]);
  t.is(plan.apply, undefined);
  t.is(plan.finalizer, 'remove');
  t.is(plan.appliedVault, null);
});

test('deletion removes entries from the recorded and the annotated target, and only where our manager is', (t) => {
  const sa = aServiceAccount({
    deleting: true,
    finalizers: [FINALIZER],
    annotations: { [`${P}auto-configure`]: 'true', [`${P}vault`]: 'team/vault', [`${P}applied-vault`]: 'vault-system/vault' },
  });
  const intent = decideIntent(sa, settings);
  t.deepEqual(removalTargets(sa, intent, settings, FINALIZER).length, 2);
  const plan = planServiceAccount(
    sa,
    settings,
    new Map([
      ['vault-system/vault', emptyVault],
      ['team/vault', aVaultHolding(sa)],
    ]),
    FINALIZER,
    MANAGER,
  );
  t.deepEqual(plan.removals.map((r) => r.target), [{ namespace: 'team', name: 'vault' }]);
  t.is(plan.finalizer, 'remove');
  t.is(plan.appliedVault, undefined, 'no annotation write on a ServiceAccount being deleted');
});

test('a refused ServiceAccount that never had entries reads no Vault and plans nothing', (t) => {
  const sa = aServiceAccount({ name: 'default' });
  t.deepEqual(vaultsToRead(sa, decideIntent(sa, settings), settings, FINALIZER), []);
  const plan = planServiceAccount(sa, settings, new Map(), FINALIZER, MANAGER);
  t.is(plan.intent.kind, 'unconfigure');
  t.deepEqual(plan.removals, []);
  t.is(plan.finalizer, undefined);
  t.is(plan.appliedVault, undefined);
});

test('deleted target Vault during removal: nothing to remove, finalizer still released', (t) => {
  const sa = aServiceAccount({ deleting: true, finalizers: [FINALIZER], annotations: { [`${P}applied-vault`]: 'vault-system/vault' } });
  const plan = planServiceAccount(sa, settings, new Map([['vault-system/vault', null]]), FINALIZER, MANAGER);
  t.deepEqual(plan.removals, []);
  t.is(plan.finalizer, 'remove');
});

test('the finalizer an earlier version added is released, whatever the ServiceAccount asks for', (t) => {
  const configured = aServiceAccount({ finalizers: [FINALIZER], annotations: { [`${P}auto-configure`]: 'true', [`${P}applied-vault`]: 'vault-system/vault' } });
  t.is(planServiceAccount(configured, settings, new Map([['vault-system/vault', aVaultHolding(configured)]]), FINALIZER, MANAGER).finalizer, 'remove');
  const fresh = aServiceAccount({ finalizers: [FINALIZER] });
  t.is(planServiceAccount(fresh, settings, new Map([['vault-system/vault', emptyVault]]), FINALIZER, MANAGER).finalizer, 'remove');
});

test('a refused ServiceAccount that still carries the annotation loses its entries, record and (old) finalizer', (t) => {
  const sa = aServiceAccount({
    finalizers: [FINALIZER],
    annotations: { [`${P}auto-configure`]: 'yes', [`${P}applied-vault`]: 'vault-system/vault' },
  });
  const plan = planServiceAccount(sa, settings, new Map([['vault-system/vault', aVaultHolding(sa)]]), FINALIZER, MANAGER);
  t.is(plan.intent.kind, 'unconfigure');
  t.is(plan.removals.length, 1);
  t.is(plan.finalizer, 'remove');
  t.is(plan.appliedVault, null);
});

test('collectiveApply: a changed auth path moves the role to the new path in the same apply', (t) => {
  const vault = aVaultHolding(aServiceAccount());
  const moved = desiredEntries('shop', 'cart', { ...settings, kubernetesAuthPath: 'k8s-prod' });
  t.false(holdsEntries(vault, moved, MANAGER));
  const result = collectiveApply({ namespace: 'vault-system', name: 'vault' }, vault, MANAGER, [
    { serviceAccount: 'shop/cart', roleName: moved.role.name, policyName: moved.policy.name, entries: moved },
  ], headerOf({ ...settings, kubernetesAuthPath: 'k8s-prod' }));
  t.true(result.changed);
  const rendered = withServiceAccountRoles(undefined, result.config.spec!.serviceAccountRoles)!;
  t.deepEqual(rendered.auth!.map((a) => [a.path, a.roles!.map((r) => r.name)]), [['k8s-prod', ['sa.shop.cart']]]);
});

test('a pathless kubernetes entry (Bank-Vaults shape) is the `kubernetes` mount: the apply joins it under its own list key', (t) => {
  const entries = desiredEntries('shop', 'cart', settings);
  const migrated: VaultResourceLike = {
    metadata: { uid: 'uid-migrated', managedFields: [{ manager: 'kubectl', operation: 'Update' }] },
    spec: { externalConfig: { auth: [{ path: '', type: 'kubernetes', roles: [{ name: 'hand-written' }] }] } },
  };
  const first = collectiveApply({ namespace: 'vault-system', name: 'vault' }, migrated, MANAGER, [
    { serviceAccount: 'shop/cart', roleName: entries.role.name, policyName: entries.policy.name, entries },
  ], HEADER);
  t.deepEqual(first.conflicts, []);
  const joined = withServiceAccountRoles(migrated.spec!.externalConfig as never, first.config.spec!.serviceAccountRoles)!;
  t.deepEqual(joined.auth!.map((a) => [a.path, a.type, a.roles!.map((r) => r.name)]), [['', 'kubernetes', ['hand-written', 'sa.shop.cart']]]);
  // an earlier version's apply: the manager owns the role under the key {path: "", type: kubernetes}
  const applied: VaultResourceLike = {
    metadata: {
      uid: 'uid-migrated',
      managedFields: [
        {
          manager: MANAGER,
          operation: 'Apply',
          fieldsV1: {
            'f:spec': {
              'f:externalConfig': {
                'f:auth': { [`k:${JSON.stringify({ path: '', type: 'kubernetes' })}`]: { 'f:roles': { [`k:${JSON.stringify({ name: entries.role.name })}`]: {} } } },
                'f:policies': { [`k:${JSON.stringify({ name: entries.policy.name })}`]: {} },
              },
            },
          },
        },
      ],
    },
    spec: {
      externalConfig: {
        auth: [{ path: '', type: 'kubernetes', roles: [{ name: 'hand-written' }, { ...entries.role }] }],
        policies: [{ ...entries.policy }],
      },
    },
  };
  t.deepEqual([...ownedEntries(applied, MANAGER).roles.keys()], ['kubernetes']);
  t.false(holdsEntries(applied, entries, MANAGER), 'to migrate');
  const removed = collectiveApply({ namespace: 'vault-system', name: 'vault' }, applied, MANAGER, [
    { serviceAccount: 'shop/cart', roleName: entries.role.name, policyName: entries.policy.name, entries: null },
  ], HEADER);
  t.true(removed.changed);
  t.is(removed.config.spec, undefined);
});

test('storedEntries: role name -> entry, computed once per stored list (every pass reads the same watched copy)', (t) => {
  const spec = { ...HEADER, entries: [{ namespace: 'shop', name: 'cart' }, { namespace: 'shop', name: 'orders' }] };
  const first = storedEntries(spec);
  t.deepEqual([...first.keys()], ['sa.shop.cart', 'sa.shop.orders']);
  t.is(storedEntries({ ...spec }), first, 'same entries list: the same map');
  const next = { ...HEADER, entries: [...spec.entries, { namespace: 'shop', name: 'pay' }] };
  t.deepEqual([...storedEntries(next).keys()], ['sa.shop.cart', 'sa.shop.orders', 'sa.shop.pay'], 'a new copy of the resource: computed again');
  t.is(storedEntries(undefined).size, 0);
});
