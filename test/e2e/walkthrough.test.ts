// The README's walkthrough on the project's local cluster, as a user does it:
// install.yaml, the sample Vault (3 Raft peers), a Vault pod and the operator
// pod deleted, `size` 3 -> 5 -> 3, the ServiceAccount sample, secrets sealed
// with `vault-autopilot seal` against the cluster's local KMS, both injection
// samples reading them from inside their pods, and the uninstall. The steps
// are test/e2e/steps.ts (shared with `make demo`); each one asserts here.
// Serial and stateful: a step after a failed one fails at once (saying so)
// instead of piling up timeouts.
import test, { type ExecutionContext } from 'ava';
import { useCluster } from '../harness/cluster.js';
import { ClusterFlow, COMMANDS, digest, NS, peerPod } from './steps.js';

const cluster = useCluster(test); // the runner's shared cluster, or one of its own when run alone
let flow: ClusterFlow;
const figures: Array<[string, number]> = [];
const suiteStarted = Date.now();
let broken = '';

function figure(t: ExecutionContext, name: string, ms: number): void {
  figures.push([name, ms]);
  t.log(`${name}: ${(ms / 1000).toFixed(1)} s`);
}

/** A serial step: fails at once when an earlier step failed (the cluster is not in the state it needs). */
function step(title: string, run: (t: ExecutionContext) => Promise<void>): void {
  test.serial(title, async (t) => {
    if (broken) {
      t.fail(`not run: the earlier step "${broken}" failed`);
      return;
    }
    try {
      await run(t);
    } catch (error) {
      broken ||= title;
      throw error;
    }
    if (!t.passed) broken ||= title;
  });
}

test.before(() => {
  flow = new ClusterFlow(cluster());
});

test.after.always(() => {
  figures.push(['walkthrough wall time', Date.now() - suiteStarted]);
  process.stdout.write(`\nmeasured (local cluster):\n${figures.map(([n, ms]) => `  ${n.padEnd(42)} ${(ms / 1000).toFixed(1)} s`).join('\n')}\n`);
  flow?.dispose();
});

step('install: kubectl apply install.yaml; the operator rolls out and publishes its webhook CA', async (t) => {
  const result = await flow.install();
  t.true(result.caBundle);
  t.true((await flow.operatorPods()).length >= 1);
  figure(t, 'install -> operator Ready', result.ms);
});

step('samples/vault-managed.yaml: three Raft peers initialised, unsealed, configured, Ready', async (t) => {
  const result = await flow.vault();
  t.deepEqual(result.pods, ['vault-0', 'vault-1', 'vault-2']);
  t.is(result.status.sealed, false);
  t.deepEqual(result.status.nodes?.map((n) => [n.name, n.initialized, n.sealed]), [
    ['vault-0', true, false],
    ['vault-1', true, false],
    ['vault-2', true, false],
  ]);
  t.regex(result.table, /vault\s+3\s+/);
  const peers = await flow.raftPeers();
  t.deepEqual(peers.map((p) => peerPod(p.address)).sort(), ['vault-0', 'vault-1', 'vault-2']);
  t.is(peers.filter((p) => p.leader).length, 1);
  figure(t, 'Vault (3 replicas) apply -> Ready', result.ms);
});

step('a deleted Vault pod comes back sealed and is unsealed again', async (t) => {
  const result = await flow.vaultPodRestart();
  t.is(result.status.sealed, false);
  t.true(result.status.nodes?.every((n) => n.sealed === false));
  t.log(`status showed the outage: Ready not True ${result.sawNotReady}, node sealed/unreachable ${result.sawSealed}`);
  figure(t, 'Vault pod delete -> unsealed again', result.ms);
});

step('a deleted operator pod: the new one resumes (a change made meanwhile is applied) and nothing is lost', async (t) => {
  const result = await flow.operatorRestart();
  t.deepEqual(result.unchanged, { unsealKeys: true, operatorToken: true, webhookCa: true });
  t.true(result.vaultReady);
  figure(t, 'operator pod delete -> new pod Ready', result.podReadyMs);
  figure(t, 'operator pod delete -> change applied', result.resumedMs);
  figure(t, 'managed entry removed after the restart', result.removedMs);
});

step('size 3 -> 5: two Raft peers join as voters, unsealed', async (t) => {
  const result = await flow.scale(5);
  t.is(result.peers.length, 5);
  t.is(result.peers.filter((p) => p.leader).length, 1);
  figure(t, 'scale 3 -> 5', result.ms);
});

step('size 5 -> 3: the two leave the Raft configuration, the rest stays Ready', async (t) => {
  const result = await flow.scale(3);
  t.deepEqual(result.peers.map((p) => peerPod(p.address)).sort(), ['vault-0', 'vault-1', 'vault-2']);
  t.deepEqual(result.pods, ['vault-0', 'vault-1', 'vault-2']);
  figure(t, 'scale 5 -> 3', result.ms);
});

step('samples/serviceaccount.yaml: role sa.shop.orders appears in Vault, bound to exactly it', async (t) => {
  const result = await flow.serviceAccount();
  t.deepEqual(result.role['bound_service_account_names'], ['orders']);
  t.deepEqual(result.role['bound_service_account_namespaces'], [NS.app]);
  t.deepEqual(result.role['token_policies'], ['sa.shop.orders']);
  figure(t, 'ServiceAccount apply -> role in Vault', result.ms);
});

step('vault-autopilot seal against the local KMS; the KMSVaultSecret becomes Ready', async (t) => {
  const result = await flow.sealedSecrets();
  t.regex(result.manifest, /kind: KMSVaultSecret/);
  t.is(result.manifest.match(/encryptedSecret: \S{40,}/g)?.length, 2);
  t.false(result.manifest.includes(flow.plaintext.dbPassword) || result.manifest.includes(flow.plaintext.dbUser), 'plaintext in the manifest');
  figure(t, 'sealed secrets apply -> Ready', result.ms);
});

step('samples/deployment-agent-injection.yaml: the app container reads exactly the sealed plaintext', async (t) => {
  const result = await flow.agentInjection();
  t.true(result.containers.includes('vault-agent-init'), result.containers.join(', '));
  // one `key: value` line per field (default template); `export` lines (the sample's own)
  t.is(result.dbFile.trim(), `DB_PASSWORD: ${flow.plaintext.dbPassword}\nDB_USER: ${flow.plaintext.dbUser}`, `digest ${digest(result.dbFile)}`);
  t.deepEqual(
    result.dbEnvFile.trim().split('\n').map((l) => l.trim()),
    [`export DB_PASSWORD="${flow.plaintext.dbPassword}"`, `export DB_USER="${flow.plaintext.dbUser}"`],
    `digest ${digest(result.dbEnvFile)}`,
  );
  const shown = await flow.agentDigest();
  t.is(shown.shown, shown.expected);
  figure(t, 'agent-injection Deployment apply -> Ready', result.ms);
});

step('samples/deployment-env-injection.yaml: the app logs in with the injected VAULT_ADDR/VAULT_CACERT, reads its secret, is denied another team\'s', async (t) => {
  const result = await flow.envInjection();
  t.is(result.env, `https://vault.${NS.vault}.svc:8200 /vault/tls/ca.crt`);
  t.is(result.read.code, 0, result.read.stderr);
  t.is(result.read.stdout.trim(), flow.plaintext.billing);
  t.not(result.other.code, 0);
  t.regex(result.other.stderr, /permission denied|403/);
  t.false(result.other.stdout.includes(flow.plaintext.other));
  figure(t, 'env-injection Deployment apply -> Ready', result.ms);
});

step('no secret in the operator\'s logs, Events, status or annotations', async (t) => {
  const result = await flow.leaks();
  t.true(result.checked['operator logs']! > 1000, 'the operator logged');
  t.true(flow.secrets.size >= 6, `${flow.secrets.size} secrets checked`);
  t.deepEqual(result.found, []);
});

step('uninstall as the README says: every command exits 0, no namespace stuck, what the README keeps is kept', async (t) => {
  const result = await flow.uninstall();
  for (const ran of result.ran) t.is(ran.code, 0, `${ran.command}: ${ran.stderr}`);
  t.deepEqual(result.ran.slice(0, COMMANDS.uninstall.length).map((r) => r.command), [...COMMANDS.uninstall]);
  t.deepEqual(result.namespacesGone, { [NS.operator]: true, [NS.app]: true, [NS.other]: true });
  t.deepEqual(result.crdsLeft, []);
  t.true(result.kept.unsealKeys, 'the unseal-keys Secret is kept');
  t.deepEqual(result.kept.dataClaims, ['data-vault-0', 'data-vault-1', 'data-vault-2', 'data-vault-3', 'data-vault-4']);
  figure(t, 'uninstall', result.ms);
});
