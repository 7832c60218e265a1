// The README's walkthrough and uninstall are what the e2e suite does: every
// command test/e2e/steps.ts runs as the user is in README.md, verbatim.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import { COMMANDS } from '../../e2e/steps.js';
import { REPO_ROOT } from '../../harness/versions.js';

const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');

test('every command of the e2e walkthrough is in README.md verbatim', (t) => {
  const commands = Object.values(COMMANDS).flat();
  t.true(commands.length > 30);
  const missing = commands.filter((command) => !readme.includes(command));
  t.deepEqual(missing, []);
});

test('the README\'s uninstall block is exactly the suite\'s uninstall', (t) => {
  const section = readme.slice(readme.indexOf('### Uninstall'));
  const block = /```sh\n([\s\S]*?)```/.exec(section)?.[1] ?? '';
  const commands = block
    .trim()
    .split('\n')
    .map((line) => line.replace(/\s+#.*$/, ''));
  t.deepEqual(commands, [...COMMANDS.uninstall]);
});
