// `npm run test:e2e` (make test-e2e): builds what the local cluster needs (a
// warm run checks the cache only), starts ONE cluster, writes its details to a
// JSON file named by VAULT_AUTOPILOT_E2E_ENV, runs the e2e test files on it
// one file at a time (they share the cluster; a file leaves nothing behind), stops it — also on failure and Ctrl-C — and exits with ava's
// exit code. Extra arguments go to ava (a file narrows the run).
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stopOnSignals } from './cli-support.js';
import { E2E_ENV_VARIABLE, startCluster, type ClusterInfo } from './cluster.js';
import { note } from './server.js';
import { REPO_ROOT } from './versions.js';

const extra = process.argv.slice(2);
const files = extra.some((arg) => !arg.startsWith('-')) ? [] : ['test/e2e/**/*.test.ts'];

const started = Date.now();
const cluster = await startCluster();
stopOnSignals(() => cluster.stop(), 130);
note(`e2e: cluster up in ${((Date.now() - started) / 1000).toFixed(1)} s`);

const infoFile = join(cluster.stateDir, 'e2e-env.json');
const { memory: _m, kubectlRun: _k, stop: _s, ...info } = cluster;
writeFileSync(infoFile, `${JSON.stringify(info satisfies ClusterInfo, null, 2)}\n`, { mode: 0o600 });

const ava = spawn(process.execPath, [join(REPO_ROOT, 'node_modules', 'ava', 'entrypoints', 'cli.mjs'), '--serial', '--concurrency=1', '--verbose', ...files, ...extra], {
  cwd: REPO_ROOT,
  env: { ...process.env, [E2E_ENV_VARIABLE]: infoFile, KUBECONFIG: cluster.kubeconfig },
  stdio: 'inherit',
});
const code = await new Promise<number>((resolve) => ava.once('exit', (c, signal) => resolve(c ?? (signal ? 1 : 0))));
const mem = cluster.memory();
note(`e2e: cluster memory at the end: processes ${mem.processesTotal} MiB (${Object.entries(mem.processes).map(([n, v]) => `${n} ${v}`).join(', ')}), pods ${mem.pods} MiB`);
note(`e2e: wall time ${((Date.now() - started) / 1000).toFixed(1)} s`);
await cluster.stop();
process.exit(code);
