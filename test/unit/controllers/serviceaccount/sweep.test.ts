import test from 'ava';
import type { ServiceAccountLike, VaultResourceLike } from '../../../../operator/controllers/serviceaccount/desired.js';
import { parseServiceAccountSettings } from '../../../../operator/controllers/serviceaccount/settings.js';
import { orphanedEntries, parseEntryName, removalEventMessages } from '../../../../operator/controllers/serviceaccount/sweep.js';

const settings = parseServiceAccountSettings({});
const MANAGER = 'vault-autopilot-serviceaccounts';
const P = 'vault.autopilot.dev/';

/** A Vault whose managedFields say `manager` owns these roles and policies (as the API server writes them). */
function aVaultOwning(names: string[], manager = MANAGER): VaultResourceLike {
  const keyed = (n: string) => [`k:${JSON.stringify({ name: n })}`, { '.': {}, 'f:name': {} }];
  return {
    metadata: {
      managedFields: [
        {
          manager,
          operation: 'Apply',
          fieldsV1: {
            'f:spec': {
              'f:externalConfig': {
                'f:auth': { [`k:${JSON.stringify({ path: 'kubernetes' })}`]: { 'f:roles': Object.fromEntries(names.map(keyed)) } },
                'f:policies': Object.fromEntries(names.map(keyed)),
              },
            },
          },
        },
      ],
    },
  };
}

function anSa(namespace: string, name: string, annotations: Record<string, string> = { [`${P}auto-configure`]: 'true' }, deleting = false): ServiceAccountLike {
  return { metadata: { namespace, name, annotations, ...(deleting ? { deletionTimestamp: '2026-01-01T00:00:00Z' } : {}) } };
}

test('parseEntryName: sa.<namespace>.<name>, names may have dots, nothing else is ours', (t) => {
  t.deepEqual(parseEntryName('sa.shop.orders'), { namespace: 'shop', name: 'orders' });
  t.deepEqual(parseEntryName('sa.shop.orders.v2'), { namespace: 'shop', name: 'orders.v2' });
  t.is(parseEntryName('hand-written'), undefined);
  t.is(parseEntryName('sa.Shop.x'), undefined);
});

test('orphanedEntries: gone, un-annotated, deleting or refused ServiceAccounts lose their entries; wanted ones stay', (t) => {
  const vault = aVaultOwning(['sa.shop.kept', 'sa.shop.gone', 'sa.shop.unannotated', 'sa.shop.deleting', 'sa.shop.moved', 'sa.shop.refused']);
  const sas = new Map<string, ServiceAccountLike>([
    ['shop/kept', anSa('shop', 'kept')],
    ['shop/unannotated', anSa('shop', 'unannotated', {})],
    ['shop/deleting', anSa('shop', 'deleting', undefined, true)],
    ['shop/moved', anSa('shop', 'moved', { [`${P}auto-configure`]: 'true', [`${P}vault`]: 'team/vault' })],
    ['shop/refused', anSa('shop', 'refused', { [`${P}auto-configure`]: 'yes' })],
  ]);
  const out = orphanedEntries(vault, MANAGER, settings, (ns, n) => sas.get(`${ns}/${n}`), () => true);
  // a ServiceAccount that moved to another Vault is moved by its own reconcile (from its applied-vault record)
  t.deepEqual(out.map((c) => c.roleName), ['sa.shop.deleting', 'sa.shop.gone', 'sa.shop.refused', 'sa.shop.unannotated']);
  for (const c of out) {
    t.is(c.entries, null);
    t.is(c.policyName, c.roleName);
  }
  t.is(out.find((c) => c.roleName === 'sa.shop.gone')!.serviceAccount, 'shop/gone');
});

test('orphanedEntries: only what our manager owns, only namespaces this operator watches', (t) => {
  const lookup = () => undefined;
  t.deepEqual(orphanedEntries(aVaultOwning(['sa.shop.x'], 'kubectl'), MANAGER, settings, lookup, () => true), [], 'a hand-written look-alike is not ours');
  t.deepEqual(orphanedEntries(aVaultOwning(['sa.shop.x', 'sa.other.y']), MANAGER, settings, lookup, (ns) => ns === 'other').map((c) => c.roleName), ['sa.other.y']);
});

test('Removed Events of a sweep: one per removal up to the cap, then one counting the rest', (t) => {
  t.deepEqual(removalEventMessages(['removed a', 'removed b'], 2), ['removed a', 'removed b']);
  t.deepEqual(removalEventMessages(['removed a', 'removed b', 'removed c', 'removed d'], 2), [
    'removed a',
    'removed b',
    "and the roles and policies of 2 more ServiceAccounts, which no longer ask for them here (the operator's log names each)",
  ]);
  t.is(removalEventMessages(Array.from({ length: 1000 }, (_, i) => `removed ${i}`)).length, 21, 'the default cap: 20 named + 1');
});
