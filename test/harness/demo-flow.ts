// The self-service demo: the talk's whole flow on the local servers, printing
// each step and what it observed. Exit code 0 when every step did what the
// talk promises, 1 otherwise.
//
//   node --import=tsx test/harness/demo-flow.ts          # starts its own servers
//   VAULT_AUTOPILOT_TEST_ENV=<file> node --import=tsx test/harness/demo-flow.ts
//                                                       # uses running ones (make test-env)
//   ... demo-flow.ts --hold                              # keep everything up until Ctrl-C
//
// The operator runs in-process (Vault, KMSVaultSecret and ServiceAccount
// controllers), the same way the e2e test runs it.
import { SelfServiceFlow, fingerprint } from '../integration/e2e/self-service-flow.js';
import { stopOnSignals } from './cli-support.js';
import { HarnessEnv, readConnectionInfo, type TestEnv } from './env.js';
import { TEST_ENV_VARIABLE } from './index.js';
import { startServers, type Servers } from './servers.js';
import { ensureBinaries } from './versions.js';

const hold = process.argv.includes('--hold');
const out = (line = '') => process.stdout.write(`${line}\n`);

let servers: Servers | undefined;
let env: TestEnv;
const envFile = process.env[TEST_ENV_VARIABLE];
if (envFile) {
  env = new HarnessEnv(readConnectionInfo(envFile));
} else {
  ensureBinaries();
  servers = await startServers({ vault: 'dev', kms: true, apiserver: true });
  env = servers.env;
}
const flow = new SelfServiceFlow(env);
const cleanUp = async () => {
  await flow.tearDown().catch(() => undefined);
  await (env as HarnessEnv).cleanup?.();
  await servers?.stopAll();
};
stopOnSignals(cleanUp);

let number = 0;
let failed = false;
async function step<T>(title: string, run: () => Promise<T>, describe: (result: T) => string[], check: (result: T) => string | undefined = () => undefined): Promise<T> {
  number++;
  out(`${String(number).padStart(2)}. ${title}`);
  const started = Date.now();
  try {
    const result = await run();
    const problem = check(result);
    for (const line of describe(result)) out(`      ${line}`);
    out(`      -> ${problem ? `FAILED: ${problem}` : 'ok'} (${Date.now() - started} ms)`);
    if (problem) failed = true;
    return result;
  } catch (error) {
    out(`      -> FAILED: ${error instanceof Error ? error.message : String(error)} (${Date.now() - started} ms)`);
    failed = true;
    throw error;
  }
}

out('vault-autopilot — self-service for service owners, end to end');
out(`kube-apiserver ${env.apiserverUrl}   Vault ${env.vault.address}   KMS ${env.kms.endpoint}`);
out();
try {
  const ns = await step(
    'the operator starts (Vault, KMSVaultSecret and ServiceAccount controllers)',
    () => flow.startOperator(),
    (r) => [`namespaces: ${r.vaultNamespace} (platform), ${r.appNamespace} (service owner), ${r.otherNamespace} (another team)`],
  );
  await step(
    `platform team, once: a Vault resource ${ns.vaultNamespace}/vault adopts the Vault and mounts Kubernetes auth`,
    () => flow.createVault(),
    (r) => [`auth/${r.authPath} -> kubernetes_host ${env.apiserverUrl}`, `Ready: ${r.ready}`],
  );
  await step(
    `service owner: seal a value with KMS key ${env.kms.keyAlias}, commit a KMSVaultSecret`,
    () => flow.sealSecret(),
    (r) => [`KMSVaultSecret ${r.resource} (${r.ciphertextBytes}-byte ciphertext in git, no plaintext)`, `decrypted in memory and written to ${r.vaultPath}`],
  );
  await step(
    'another team has a secret at the same ServiceAccount name in its own namespace',
    () => flow.otherTeamSecret(`another-teams-${fingerprint(flow.plaintext)}`),
    (r) => [`in Vault at ${r.vaultPath}`],
  );
  await step(
    'service owner: apply samples/serviceaccount.yaml (one annotation)',
    () => flow.annotateServiceAccount(),
    (r) => [
      `ServiceAccount ${r.serviceAccount}: ${Object.entries(r.annotations).map(([k, v]) => `${k}=${v}`).join(', ')}`,
      `Vault role auth/${flow.authPath}/role/${flow.role}: bound to ${String(r.role['bound_service_account_names'])} in ${String(r.role['bound_service_account_namespaces'])}, policies ${String(r.role['token_policies'])}, ttl ${String(r.role['token_ttl'])}s`,
      `Vault policy ${flow.role}: ${[...r.policy.matchAll(/path "([^"]+)"\s*\{\s*capabilities\s*=\s*\[([^\]]*)\]/g)].map((m) => `${m[1]} [${m[2]!.replace(/"/g, '')}]`).join('; ')}`,
    ],
  );
  const jwt = await step(
    'the pod\'s token: TokenRequest API',
    () => flow.requestToken(),
    (token) => [`a ${token.split('.').length}-part JWT (${token.length} chars; not printed)`],
  );
  const login = await step(
    `login to Vault with Kubernetes auth as role ${flow.role} (Vault calls the apiserver's TokenReview)`,
    () => flow.login(jwt),
    (r) => [`HTTP ${r.status}; token policies: ${String(r.policies ?? r.json.errors)}`],
    (r) => (r.status === 200 && r.token ? undefined : `expected a Vault token, got HTTP ${r.status}`),
  );
  await step(
    `read secret/${flow.secretPath()} with that token`,
    () => flow.readSecret(login.token ?? ''),
    (r) => [`HTTP ${r.status}; password sha256 ${r.password === undefined ? '-' : fingerprint(r.password)} vs sealed plaintext sha256 ${fingerprint(flow.plaintext)}`],
    (r) => (r.password === flow.plaintext ? undefined : 'the value read is not the plaintext that was sealed'),
  );
  await step(
    `read the other team's secret/${flow.secretPath(flow.otherNamespace)} with the same token`,
    () => flow.readSecret(login.token ?? '', flow.otherNamespace),
    (r) => [`HTTP ${r.status} ${r.status === 403 ? '(permission denied)' : ''}`],
    (r) => (r.status === 403 ? undefined : `expected 403, got ${r.status}`),
  );
  await step(
    'delete the ServiceAccount',
    () => flow.deleteServiceAccount(),
    (r) => [`role: HTTP ${r.roleStatus}, policy: HTTP ${r.policyStatus} (gone from Vault; the Vault resource no longer lists them)`],
  );
  await step(
    'login again with the old token',
    () => flow.login(jwt),
    (r) => [`HTTP ${r.status}: ${String(r.json.errors ?? '')}`],
    (r) => (r.status >= 400 ? undefined : 'login still succeeds'),
  );
  await step(
    'nothing secret in the operator\'s logs',
    async () => flow.leakedSecrets(),
    (leaked) => [`${flow.logs.text().split('\n').length} log lines checked for the plaintext, the JWT and the Vault tokens: ${leaked.length} found`],
    (leaked) => (leaked.length === 0 ? undefined : `${leaked.length} secret(s) in the logs`),
  );
} catch {
  // the failed step printed why
}
out();
out(failed ? 'DEMO FAILED' : 'every step did what the talk promises');
if (hold && !failed) {
  out('--hold: servers and operator stay up; press Ctrl-C to stop.');
  setInterval(() => undefined, 60_000);
} else {
  await cleanUp();
  process.exit(failed ? 1 : 0);
}
