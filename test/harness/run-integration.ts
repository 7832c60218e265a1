// `npm run test:integration`: builds the servers if needed, starts ONE shared
// set, runs every integration test file against it (serially), stops them,
// and exits with ava's exit code. Extra arguments go to ava.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { stopOnSignals } from './cli-support.js';
import { writeConnectionInfo, type HarnessEnv } from './env.js';
import { TEST_ENV_VARIABLE } from './index.js';
import { note } from './server.js';
import { startServers } from './servers.js';
import { ensureBinaries, REPO_ROOT } from './versions.js';

const extra = process.argv.slice(2);
const files = extra.some((arg) => !arg.startsWith('-')) ? [] : ['test/integration/**/*.test.ts'];

ensureBinaries();
const started = Date.now();
const servers = await startServers({ vault: 'dev', kms: true, apiserver: true });
note(`shared servers up in ${Date.now() - started} ms`);
stopOnSignals(() => servers.stopAll(), 130);

const infoFile = join(servers.dir, 'test-env.json');
writeConnectionInfo(infoFile, (servers.env as HarnessEnv).info());

const ava = spawn(process.execPath, [join(REPO_ROOT, 'node_modules', 'ava', 'entrypoints', 'cli.mjs'), '--serial', ...files, ...extra], {
  cwd: REPO_ROOT,
  env: { ...process.env, [TEST_ENV_VARIABLE]: infoFile },
  stdio: 'inherit',
});
const code = await new Promise<number>((resolve) => ava.once('exit', (c, signal) => resolve(c ?? (signal ? 1 : 0))));
await servers.stopAll();
process.exit(code);
