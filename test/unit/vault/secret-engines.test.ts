import test from 'ava';
import { normaliseSecretEngines, planSecretEngines, type ActualSecretEngines } from '../../../operator/vault/secret-engines.js';

test('kv-v2 is stored as kv with version 2; path defaults to the type', (t) => {
  const { desired } = normaliseSecretEngines([{ type: 'kv-v2', path: 'apps' }, { type: 'transit' }]);
  t.deepEqual(desired[0], { path: 'apps', type: 'kv', options: { version: '2' }, config: {} });
  t.is(desired[1]!.path, 'transit');
});

test('reserved mounts and missing types are problems', (t) => {
  const { desired, problems } = normaliseSecretEngines([{ type: 'kv', path: 'sys' }, { type: '' as string, path: 'x' }, { type: 'kv', path: 'ok' }]);
  t.deepEqual(desired.map((d) => d.path), ['ok']);
  t.deepEqual(problems.map((p) => p.id).sort(), ['sys', 'x']);
});

test('create missing, tune differing, leave equal, delete only dropped managed mounts', (t) => {
  const { desired } = normaliseSecretEngines([
    { type: 'kv', path: 'new', options: { version: '2' } },
    { type: 'kv', path: 'same', options: { version: '2' }, config: { max_lease_ttl: '1h' } },
    { type: 'kv', path: 'upgrade', options: { version: '2' } },
  ]);
  const actual: ActualSecretEngines = new Map([
    ['same', { type: 'kv', description: '', options: { version: '2' }, config: { max_lease_ttl: 3600, default_lease_ttl: 0 } }],
    ['upgrade', { type: 'kv', description: '', options: { version: '1' }, config: {} }],
    ['dropped', { type: 'kv', description: '', options: {}, config: {} }],
    ['handmade', { type: 'kv', description: '', options: {}, config: {} }],
  ]);
  const plan = planSecretEngines(desired, actual, ['same', 'upgrade', 'dropped']);
  t.deepEqual(plan.changes.map((c) => `${c.action} ${c.id}`), ['create new', 'update upgrade', 'delete dropped']);
  t.deepEqual(plan.changes[1]!.writes[0], { method: 'POST', path: 'sys/mounts/upgrade/tune', body: { options: { version: '2' } } });
});

test('a type clash is reported, not remounted', (t) => {
  const { desired } = normaliseSecretEngines([{ type: 'transit', path: 'secret' }]);
  const plan = planSecretEngines(desired, new Map([['secret', { type: 'kv', description: '', options: {}, config: {} }]]), []);
  t.deepEqual(plan.changes, []);
  t.regex(plan.problems[0]!.message, /holds a "kv" engine/);
});

test('an empty path (the CRD default) mounts at the type, as in Bank-Vaults', (t) => {
  const { desired, problems } = normaliseSecretEngines([{ type: 'database', path: '' }, { type: 'pki', path: '' }, { type: 'kv', path: 'secret' }]);
  t.deepEqual(problems, []);
  t.deepEqual(desired.map((d) => d.path), ['database', 'pki', 'secret']);
});
