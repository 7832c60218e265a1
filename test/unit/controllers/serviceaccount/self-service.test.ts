import test from 'ava';
import type { SelfServiceSpec } from '../../../../operator/api/vault.js';
import { admission } from '../../../../operator/controllers/serviceaccount/desired.js';
import {
  admitsNamespace,
  capRefusal,
  countNamespaceRoles,
  fitUnderCap,
  matchesSelector,
  namespaceRefusal,
  needsNamespaceLabels,
  sizeRefusal,
} from '../../../../operator/controllers/serviceaccount/self-service.js';

const aVault = (selfService?: SelfServiceSpec) => ({ metadata: { namespace: 'vault-system', name: 'vault' }, spec: { selfService } });

test('label selectors: matchLabels and every expression operator', (t) => {
  const labels = { team: 'a', 'kubernetes.io/metadata.name': 'shop' };
  t.true(matchesSelector({ matchLabels: { team: 'a' } }, labels));
  t.false(matchesSelector({ matchLabels: { team: 'b' } }, labels));
  t.true(matchesSelector({ matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'In', values: ['shop', 'x'] }] }, labels));
  t.false(matchesSelector({ matchExpressions: [{ key: 'team', operator: 'NotIn', values: ['a'] }] }, labels));
  t.true(matchesSelector({ matchExpressions: [{ key: 'team', operator: 'Exists' }, { key: 'tier', operator: 'DoesNotExist' }] }, labels));
  t.false(matchesSelector({ matchExpressions: [{ key: 'tier', operator: 'Exists' }] }, labels));
  t.true(matchesSelector({}, labels), 'an empty selector matches everything (as in Kubernetes)');
  t.false(matchesSelector(undefined, labels));
});

test('admission: Same by default, All, Selector; the own namespace always', (t) => {
  t.true(admitsNamespace(aVault(), 'vault-system'));
  t.false(admitsNamespace(aVault(), 'shop'), 'default: own namespace only');
  t.true(admitsNamespace(aVault({ namespaces: { from: 'All' } }), 'shop'));
  const selecting = aVault({ namespaces: { from: 'Selector', selector: { matchLabels: { 'self-service': 'vault' } } } });
  t.true(admitsNamespace(selecting, 'shop', { 'self-service': 'vault' }));
  t.false(admitsNamespace(selecting, 'shop', {}));
  t.true(needsNamespaceLabels(selecting));
  t.false(needsNamespaceLabels(aVault()));
  const refusal = namespaceRefusal(aVault(), 'team-a', {}, 'The role and policy sa.team-a.app');
  t.is(refusal?.reason, 'SelfServiceRefused');
  t.regex(refusal?.message ?? '', /Vault vault-system\/vault does not serve namespace team-a: it admits only its own namespace .*sa\.team-a\.app was not configured/);
  t.regex(namespaceRefusal(selecting, 'team-a', {}, 'x')?.message ?? '', /selector does not match this namespace/);
});

test('cap: per namespace, counting only that namespace, never evicting the configured', (t) => {
  t.is(countNamespaceRoles(['sa.a.x', 'sa.a.y', 'sa.ab.z', 'sa.b.x', 'hand'], 'a', 'sa.a.y'), 1);
  t.is(capRefusal(aVault(), 'a', 249), undefined, 'default cap 250');
  t.regex(capRefusal(aVault(), 'a', 250)?.message ?? '', /namespace a already has 250 ServiceAccounts configured in Vault vault-system\/vault, its cap \(spec\.selfService\.maxServiceAccountsPerNamespace: 250\); nothing was written/);
  t.truthy(capRefusal(aVault({ maxServiceAccountsPerNamespace: 2 }), 'a', 2));
  const manager = 'vault-autopilot-serviceaccounts';
  const roles = (names: string[]) => Object.fromEntries(names.map((n) => [`k:{"name":"${n}"}`, {}]));
  const vault = {
    metadata: {
      namespace: 'team-a',
      name: 'vault',
      managedFields: [{ manager, operation: 'Apply', fieldsV1: { 'f:spec': { 'f:externalConfig': { 'f:auth': { 'k:{"path":"kubernetes","type":"kubernetes"}': { 'f:roles': roles(['sa.team-a.one', 'sa.team-a.two']) } } } } } }],
    },
    spec: { selfService: { maxServiceAccountsPerNamespace: 2 } },
  };
  t.is(admission(vault, 'team-a', {}, 'sa.team-a.one', manager, 'x'), undefined, 'already configured: kept');
  t.is(admission(vault, 'team-a', {}, 'sa.team-a.three', manager, 'x')?.reason, 'SelfServiceRefused');
});

test('size ceiling: refused whole, with the figure', (t) => {
  t.is(sizeRefusal(aVault(), 900 * 1024), undefined);
  const r = sizeRefusal(aVault(), 1_000_000);
  t.is(r?.reason, 'VaultFull');
  t.regex(r?.message ?? '', /would grow to 1000000 bytes, past the 921600-byte ceiling.*nothing was written/);
});

test('fitUnderCeiling: additions in order until the ceiling; removals and present entries always pass', async (t) => {
  const { fitUnderCeiling } = await import('../../../../operator/controllers/serviceaccount/self-service.js');
  const add = (n: string) => ({ id: n, entries: { role: 'x'.repeat(100) } });
  const growth = 2 * JSON.stringify({ role: 'x'.repeat(100) }).length;
  const out = fitUnderCeiling(1000, [add('a'), add('b'), { id: 'gone', entries: null }, { id: 'kept', entries: { role: 'y' }, present: true }, add('c')], 1000 + 2 * growth);
  t.deepEqual(out.fits.map((c) => c.id), ['a', 'b', 'gone', 'kept']);
  t.deepEqual(out.refused.map((r) => [r.change.id, r.bytes]), [['c', 1000 + 3 * growth]]);
});

test('fitUnderCap: additions counted on the copy the apply is made from, per namespace, in order; held entries and removals always pass', (t) => {
  const vault = aVault({ maxServiceAccountsPerNamespace: 3 });
  const add = (ns: string, name: string) => ({ serviceAccount: `${ns}/${name}`, roleName: `sa.${ns}.${name}`, entries: {} });
  const held = new Set(['sa.a.one', 'sa.a.two', 'sa.b.one']);
  const burst = [add('a', 'three'), add('a', 'four'), add('a', 'five'), add('b', 'two'), add('a', 'one'), { ...add('a', 'two'), entries: null }];
  const out = fitUnderCap(vault, held, burst);
  t.deepEqual(out.fits.map((c) => c.roleName), ['sa.a.three', 'sa.b.two', 'sa.a.one', 'sa.a.two'], 'one more in a fills it; b has room; a held one and a removal pass');
  t.deepEqual(out.refused.map((r) => r.change.roleName), ['sa.a.four', 'sa.a.five']);
  t.regex(out.refused[0]!.refusal.message, /namespace a already has 3 ServiceAccounts configured in Vault vault-system\/vault, its cap/);
  t.is(out.refused[0]!.refusal.reason, 'SelfServiceRefused');
  // 300 at once against the default 250: exactly 250 fit
  const many = Array.from({ length: 300 }, (_, i) => add('c', `s${i}`));
  t.is(fitUnderCap(aVault(), new Set(), many).fits.length, 250);
});
