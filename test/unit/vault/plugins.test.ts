import test from 'ava';
import { normalisePlugins, planPlugins, pluginPolicyLines } from '../../../operator/vault/plugins.js';

const SHA = 'a'.repeat(64);

test('plugins: registered when absent or different, deregistered when they leave the spec, bad entries are problems', (t) => {
  const { desired, problems } = normalisePlugins([
    { plugin_name: 'my-secrets', type: 'secret', command: 'my-secrets', sha256: SHA.toUpperCase(), args: ['--x'] },
    { plugin_name: 'same', type: 'auth', command: 'same', sha256: SHA },
    { plugin_name: 'bad', type: 'widget', command: 'x', sha256: SHA },
    { plugin_name: 'nosha', type: 'auth', command: 'x' },
  ]);
  t.deepEqual(problems.map((p) => p.id), ['widget/bad', 'auth/nosha']);
  t.deepEqual(desired.map((d) => [d.id, d.body]), [
    ['secret/my-secrets', { command: 'my-secrets', sha256: SHA, args: ['--x'] }],
    ['auth/same', { command: 'same', sha256: SHA }],
  ]);
  const plan = planPlugins(
    desired,
    new Map<string, Record<string, unknown> | 'absent'>([
      ['secret/my-secrets', 'absent'],
      ['auth/same', { name: 'same', command: 'same', sha256: SHA, args: [], builtin: false }],
      ['database/gone', { command: 'gone', sha256: SHA }],
    ]),
    ['auth/same', 'database/gone'],
  );
  t.deepEqual(plan.changes.map((c) => [c.action, c.writes[0]!.method, c.writes[0]!.path]), [
    ['create', 'PUT', 'sys/plugins/catalog/secret/my-secrets'],
    ['delete', 'DELETE', 'sys/plugins/catalog/database/gone'],
  ]);
  t.deepEqual(pluginPolicyLines(desired, ['database/gone']).length, 3);
});
