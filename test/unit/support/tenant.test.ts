import test from 'ava';
import type { V1ClusterRole } from '@kubernetes/client-node';
import { aggregatedRules, canonicalObject, diffSnapshots, stableJson } from '../../support/tenant.js';

const role = (name: string, labels: Record<string, string>, rules: V1ClusterRole['rules'], selectors?: Array<Record<string, string>>): V1ClusterRole => ({
  metadata: { name, labels },
  rules,
  ...(selectors ? { aggregationRule: { clusterRoleSelectors: selectors.map((matchLabels) => ({ matchLabels })) } } : {}),
});

test('aggregated rules follow selectors transitively, without duplicates or cycles', (t) => {
  const read = { apiGroups: [''], resources: ['pods'], verbs: ['get'] };
  const write = { apiGroups: [''], resources: ['pods'], verbs: ['create'] };
  const roles = [
    role('view', { 'to-edit': 'true' }, [], [{ 'to-view': 'true' }]),
    role('agg-view', { 'to-view': 'true' }, [read]),
    role('edit', { 'to-admin': 'true', 'to-edit': 'true' }, [], [{ 'to-edit': 'true' }]),
    role('agg-edit', { 'to-edit': 'true' }, [write, read]),
    role('unrelated', {}, [{ apiGroups: ['x'], resources: ['y'], verbs: ['*'] }]),
  ];
  t.deepEqual(aggregatedRules('view', roles), [read]);
  t.deepEqual(aggregatedRules('edit', roles), [read, write]);
  t.deepEqual(aggregatedRules('missing', roles), []);
});

test('canonical objects drop bookkeeping and hash Secret values', (t) => {
  const a = canonicalObject('secrets', { metadata: { name: 's', resourceVersion: '1', managedFields: [{}] }, data: { k: 'c2VjcmV0' } });
  const b = canonicalObject('secrets', { data: { k: 'c2VjcmV0' }, metadata: { resourceVersion: '2', name: 's' } });
  t.is(a, b);
  t.false(a.includes('c2VjcmV0'));
  t.not(a, canonicalObject('secrets', { metadata: { name: 's' }, data: { k: 'b3RoZXI=' } }));
  t.is(stableJson({ b: 1, a: { d: 2, c: 3 } }), '{"a":{"c":3,"d":2},"b":1}');
});

test('diff lists added, removed and changed keys in order', (t) => {
  const before = new Map([['a', '1'], ['b', '2'], ['c', '3']]);
  const after = new Map([['a', '1'], ['c', '4'], ['d', '5']]);
  t.deepEqual(diffSnapshots(before, after), [
    { key: 'b', change: 'removed' },
    { key: 'c', change: 'changed' },
    { key: 'd', change: 'added' },
  ]);
  t.deepEqual(diffSnapshots(before, new Map(before)), []);
});
