// `make test-env`: the integration suite's servers, for manual use, until Ctrl-C.
import { join } from 'node:path';
import { onPath, stopOnSignals } from './cli-support.js';
import { connectionHelp } from './connection-help.js';
import { writeConnectionInfo, type HarnessEnv } from './env.js';
import { startServers } from './servers.js';
import { ensureBinaries, binaryPath } from './versions.js';

ensureBinaries();
const vaultMode = process.argv.includes('--vault=file') ? 'file' : 'dev';
const servers = await startServers({ vault: vaultMode });
stopOnSignals(() => servers.stopAll());
const info = (servers.env as HarnessEnv).info();
const infoFile = join(servers.dir, 'test-env.json');
writeConnectionInfo(infoFile, info);
process.stdout.write(
  `\nServers are up (start-up: ${Object.entries(servers.startupMs).map(([n, ms]) => `${n} ${ms} ms`).join(', ')}).\n\n` +
    connectionHelp({ info, vaultBinary: binaryPath('vault'), hasKubectl: onPath('kubectl'), hasAws: onPath('aws'), infoFile }) +
    `\nRun integration tests against these servers: VAULT_AUTOPILOT_TEST_ENV=${infoFile} npx ava --serial <file>\n` +
    '\nPress Ctrl-C to stop them (data and logs are removed).\n',
);
setInterval(() => undefined, 60_000);
