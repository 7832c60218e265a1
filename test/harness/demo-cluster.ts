// `make demo`: the talk's flow on the project's local cluster, printing each
// step, the commands it runs (the README's) and what it observed: install ->
// a managed Vault -> a ServiceAccount -> KMS-sealed secrets -> a pod with an
// injected Vault Agent shows the digest of its secret. Exit 0 when every step
// did what the talk promises. The steps are test/e2e/steps.ts, the same code
// the e2e suite asserts on.
//
//   node --import=tsx test/harness/demo-cluster.ts          # starts the cluster, stops it at the end
//   node --import=tsx test/harness/demo-cluster.ts --hold   # keeps it up until Ctrl-C
import { ClusterFlow, digest, NS } from '../e2e/steps.js';
import { stopOnSignals } from './cli-support.js';
import { startCluster } from './cluster.js';

const hold = process.argv.includes('--hold');
const out = (line = '') => process.stdout.write(`${line}\n`);
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

const demoStarted = Date.now();
out('vault-autopilot — the talk\'s flow on a local single-node cluster');
const cluster = await startCluster();
out(`cluster up in ${seconds(Date.now() - demoStarted)} (KUBECONFIG=${cluster.kubeconfig})`);
out();
const flow = new ClusterFlow(cluster, { onCommand: (command) => out(`      $ ${command.replace(/\n/g, '\n        ')}`) });
stopOnSignals(async () => {
  flow.dispose();
  await cluster.stop();
});

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
    out(`      -> ${problem ? `FAILED: ${problem}` : 'ok'} (${seconds(Date.now() - started)})`);
    if (problem) failed = true;
    return result;
  } catch (error) {
    out(`      -> FAILED: ${error instanceof Error ? error.message : String(error)} (${seconds(Date.now() - started)})`);
    failed = true;
    throw error;
  }
}

try {
  await step(
    'platform team: install the operator (olm-bundle/install.yaml)',
    () => flow.install(),
    (r) => [`operator Ready in ${seconds(r.ms)}; webhook CA published: ${r.caBundle}`],
  );
  await step(
    'platform team: a managed Vault, three Raft peers (samples/vault-managed.yaml)',
    () => flow.vault(),
    (r) => [...r.table.trim().split('\n'), `initialised, unsealed and configured in ${seconds(r.ms)}; pods ${r.pods.join(', ')}`],
    (r) => (r.status.sealed === false ? undefined : 'Vault is sealed'),
  );
  await step(
    'service owner: one annotation on a ServiceAccount (samples/serviceaccount.yaml)',
    () => flow.serviceAccount(),
    (r) => [`Vault role sa.${NS.app}.orders: bound to ${String(r.role['bound_service_account_names'])} in ${String(r.role['bound_service_account_namespaces'])}, policies ${String(r.role['token_policies'])} (${seconds(r.ms)})`],
  );
  await step(
    'service owner: seal two values with the team\'s KMS key (vault-autopilot seal), commit the KMSVaultSecret',
    () => flow.sealedSecrets(),
    (r) => [`db.kmsvs.yaml: ${r.manifest.trim().split('\n').length} lines, ciphertext only; Ready in ${seconds(r.ms)}`],
  );
  const expected = `DB_PASSWORD: ${flow.plaintext.dbPassword}\nDB_USER: ${flow.plaintext.dbUser}`;
  await step(
    'service owner: a Deployment asks for its secrets (samples/deployment-agent-injection.yaml)',
    () => flow.agentInjection(),
    (r) => [
      `injected containers: ${r.containers.join(', ')}`,
      `/vault/secrets/db in the app container: sha256 ${digest(r.dbFile.trim())}`,
      `what was sealed:                       sha256 ${digest(expected)}`,
    ],
    (r) => (r.dbFile.trim() === expected ? undefined : 'the rendered file is not what was sealed'),
  );
  await step(
    'the injected pod shows the digest of its secret',
    () => flow.agentDigest(),
    (r) => [`sha256 shown by the pod:   ${r.shown}`, `sha256 of what was sealed: ${r.expected}`],
    (r) => (r.shown === r.expected ? undefined : 'the digests differ'),
  );
  await step(
    'nothing secret in the operator\'s logs, Events or status',
    () => flow.leaks(),
    (r) => [`${flow.secrets.size} secrets looked for in ${Object.entries(r.checked).map(([k, v]) => `${k} (${v} chars)`).join(', ')}: ${r.found.length} found`],
    (r) => (r.found.length === 0 ? undefined : r.found.join('; ')),
  );
} catch {
  // the failed step printed why
}
out();
out(`${failed ? 'DEMO FAILED' : 'every step did what the talk promises'} — ${seconds(Date.now() - demoStarted)} in all`);
if (hold && !failed) {
  out(`--hold: the cluster stays up. export KUBECONFIG=${cluster.kubeconfig} (kubectl: ${cluster.kubectl}); Ctrl-C stops it.`);
  setInterval(() => undefined, 60_000);
} else {
  flow.dispose();
  await cluster.stop();
  process.exit(failed ? 1 : 0);
}
