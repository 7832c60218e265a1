import test from 'ava';
import { normaliseAudit, planAudit, type ActualAuditDevices } from '../../../operator/vault/audit.js';

test('audit: enable missing, re-enable changed, keep equal, disable only dropped managed devices', (t) => {
  const { desired } = normaliseAudit([
    { type: 'file', path: 'new', options: { file_path: '/tmp/a' } },
    { type: 'file', path: 'same', options: { file_path: '/tmp/b' } },
    { type: 'file', path: 'changed', options: { file_path: '/tmp/c' } },
  ]);
  const actual: ActualAuditDevices = new Map([
    ['same', { type: 'file', description: '', options: { file_path: '/tmp/b' } }],
    ['changed', { type: 'file', description: '', options: { file_path: '/tmp/old' } }],
    ['dropped', { type: 'file', description: '', options: {} }],
    ['handmade', { type: 'file', description: '', options: {} }],
  ]);
  const plan = planAudit(desired, actual, ['same', 'changed', 'dropped']);
  t.deepEqual(plan.changes.map((c) => `${c.action} ${c.id}`), ['create new', 'update changed', 'delete dropped']);
  t.deepEqual(plan.changes[1]!.writes.map((w) => `${w.method} ${w.path}`), ['DELETE sys/audit/changed', 'PUT sys/audit/changed']);
});

test('audit path defaults to the type; a device without type is a problem', (t) => {
  const { desired, problems } = normaliseAudit([{ type: 'file' }, { type: '' as string, path: 'x' }]);
  t.is(desired[0]!.path, 'file');
  t.is(problems[0]!.id, 'x');
});
