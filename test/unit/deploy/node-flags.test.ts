// The operator's node flags: NODE_OPTIONS in the Deployment (only the flags
// Node accepts there) and the image's command line (ENTRYPOINT_NODE_FLAGS),
// the same in the Dockerfile and in build-image.sh.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import { ENTRYPOINT_NODE_FLAGS, NODE_FLAGS } from '../../../operator/deploy/deployment.js';
import { REPO_ROOT } from '../../../operator/deploy/generate.js';

const run = (args: string[], env: Record<string, string> = {}) => spawnSync(process.execPath, [...args, '-e', 'process.stdout.write("ok")'], { encoding: 'utf8', env: { PATH: process.env.PATH ?? '', ...env } });

test('node starts with NODE_OPTIONS set to the Deployment flags (Node refuses most V8 flags there)', (t) => {
  const r = run([], { NODE_OPTIONS: NODE_FLAGS.join(' ') });
  t.is(r.status, 0, r.stderr);
  t.is(r.stdout, 'ok');
  // what the command-line flags are there for: NODE_OPTIONS would not take them
  for (const flag of ENTRYPOINT_NODE_FLAGS) t.not(run([], { NODE_OPTIONS: flag }).status, 0, `${flag} is refused in NODE_OPTIONS`);
});

test("node starts with the image's command-line flags, which the Dockerfile and build-image.sh both use", (t) => {
  const r = run([...ENTRYPOINT_NODE_FLAGS]);
  t.is(r.status, 0, r.stderr);
  const entrypoint = (node: string) => JSON.stringify([node, ...ENTRYPOINT_NODE_FLAGS, '/app/dist/operator/main.js']).replace(/,/g, ', ');
  t.true(readFileSync(join(REPO_ROOT, 'Dockerfile'), 'utf8').includes(`ENTRYPOINT ${entrypoint('/nodejs/bin/node')}`));
  t.true(readFileSync(join(REPO_ROOT, 'operator/deploy/image/build-image.sh'), 'utf8').includes(`--entrypoint '${entrypoint('/usr/local/bin/node')}'`));
});
