// The test harness API: real etcd + kube-apiserver, Vault and local-kms on
// loopback. See README.md "Development > Test harness".
import type { TestFn } from 'ava';
import { HarnessEnv, readConnectionInfo, type TestEnv } from './env.js';
import { stopOperatorProcesses } from './operator-process.js';
import { startServers, type Servers, type StartOptions } from './servers.js';

export { completeLines } from './complete-lines.js';
export { eventually, eventuallyGone, WITHIN, withinResyncs, type EventuallyOptions } from './eventually.js';
export { startOperatorProcess, type OperatorProcess, type OperatorProcessOptions } from './operator-process.js';
export { startServers, type Servers, type StartOptions } from './servers.js';
export type { ConnectionInfo, KmsInfo, KvMountType, TestEnv } from './env.js';

/** Names the JSON file with the shared servers' connection details (set by run-integration.ts). */
export const TEST_ENV_VARIABLE = 'VAULT_AUTOPILOT_TEST_ENV';

/**
 * Registers ava hooks that give this test file an environment: the shared
 * servers of `npm run test:integration`, or — when the file is run on its own
 * with `npx ava` — private servers started for it. Namespaces and Vault mounts
 * the file created are removed afterwards, operator processes killed.
 */
export function useTestEnv<Context>(test: TestFn<Context>, opts: StartOptions = {}): () => TestEnv {
  let env: HarnessEnv | undefined;
  let servers: Servers | undefined;
  test.before(async () => {
    const file = process.env[TEST_ENV_VARIABLE];
    if (file) {
      env = new HarnessEnv(readConnectionInfo(file));
    } else {
      servers = await startServers(opts);
      env = servers.env as HarnessEnv;
    }
  });
  test.after.always(async () => {
    await stopOperatorProcesses();
    await env?.cleanup();
    await servers?.stopAll();
  });
  return () => {
    if (!env) throw new Error('the test environment is not up (useTestEnv registers a before hook; call env() inside tests)');
    return env;
  };
}
