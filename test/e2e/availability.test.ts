// Two operator replicas on the local cluster (install.yaml as shipped: 2
// replicas, leader election, PodDisruptionBudget): the LEADER's pod is deleted
// while ServiceAccounts converge, more are created while no one leads; the
// other replica takes over (time printed) and every role reaches Vault,
// none missing or extra. Leaves nothing behind (uninstall + namespaces).
import test from 'ava';
import { useCluster } from '../harness/cluster.js';
import { eventually } from '../harness/eventually.js';
import { ClusterFlow, COMMANDS, NS, vaultAsOperator } from './steps.js';

const cluster = useCluster(test);
const APP = 'avail-e2e';
let flow: ClusterFlow;

test.before(() => {
  flow = new ClusterFlow(cluster());
});

test.after.always(async () => {
  if (!flow) return;
  for (const command of COMMANDS.uninstall) await flow.sh(command, { timeoutMs: 300_000, quiet: true });
  await flow.sh(`kubectl delete namespace ${APP} ${NS.vault} --ignore-not-found --timeout=3m`, { timeoutMs: 200_000, quiet: true });
  flow.dispose();
});

function accounts(from: number, to: number): string {
  return Array.from({ length: to - from }, (_, i) =>
    ['apiVersion: v1', 'kind: ServiceAccount', 'metadata:', `  name: app-${from + i}`, `  namespace: ${APP}`, '  annotations:', "    vault.autopilot.dev/auto-configure: 'true'"].join('\n'),
  ).join('\n---\n');
}

async function leaderPod(): Promise<string> {
  const lease = await flow.kube.raw.request<{ spec?: { holderIdentity?: string } }>({ method: 'GET', path: `/apis/coordination.k8s.io/v1/namespaces/${NS.operator}/leases/vault-autopilot-leader` });
  return (lease.spec?.holderIdentity ?? '').split('_')[0]!; // "<pod>_<pid>"
}

async function rolesInVault(): Promise<string[]> {
  const ran = await flow.sh(vaultAsOperator('list -format=json auth/kubernetes/role'), { quiet: true });
  if (ran.code !== 0) throw new Error(`listing roles: ${ran.stderr}`);
  return (JSON.parse(ran.stdout) as string[]).filter((r) => r.startsWith(`sa.${APP}.`)).sort();
}

test.serial('the leader pod deleted while ServiceAccounts converge: the other replica takes over, no role is lost', async (t) => {
  const install = await flow.install();
  t.true(install.caBundle);
  await eventually(async () => {
    const pods = await flow.operatorPods();
    if (pods.filter((p) => p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')).length !== 2) throw new Error('2 ready replicas');
  }, { timeoutMs: 180_000, intervalMs: 1000, message: 'both replicas Ready' });
  const vault = await flow.vault();
  t.is(vault.status.sealed, false);
  t.log(`install -> 2 replicas Ready ${(install.ms / 1000).toFixed(1)} s; Vault Ready ${(vault.ms / 1000).toFixed(1)} s`);

  await flow.must(`kubectl create namespace ${APP}`);
  // the sample Vault admits only the samples' namespace: let this one self-serve too, as a platform admin would
  const admit = { spec: { selfService: { namespaces: { from: 'Selector', selector: { matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'In', values: ['shop', APP] }] } } } } };
  await flow.must(`kubectl -n ${NS.vault} patch vault vault --type=merge -p '${JSON.stringify(admit)}'`);
  const leader = await leaderPod();
  const replicas = (await flow.operatorPods()).map((p) => p.metadata!.name!);
  t.true(replicas.includes(leader), `the Lease names a running replica (${leader} of ${replicas.join(', ')})`);

  // 30 ServiceAccounts, then the leader's pod deleted while they converge, then 20 more while it is going
  await flow.sh(`kubectl apply -f - <<'EOF'\n${accounts(0, 30)}\nEOF`).then((r) => t.is(r.code, 0, r.stderr));
  const deleted = Date.now();
  await flow.must(`kubectl -n ${NS.operator} delete pod ${leader} --wait=false`);
  await flow.sh(`kubectl apply -f - <<'EOF'\n${accounts(30, 50)}\nEOF`).then((r) => t.is(r.code, 0, r.stderr));
  const newLeader = await eventually(async () => {
    const now = await leaderPod();
    if (!now || now === leader) throw new Error(`still ${now}`);
    return now;
  }, { timeoutMs: 120_000, intervalMs: 250, message: 'another replica leads' });
  const takeoverMs = Date.now() - deleted;
  // the released Lease goes to whichever replica asks first: usually the survivor, sometimes the replacement pod
  const running = (await flow.operatorPods()).map((p) => p.metadata!.name!);
  t.true(running.includes(newLeader), `a running replica leads (${newLeader} of ${running.join(', ')})`);
  t.not(newLeader, leader);
  t.log(`new leader: ${replicas.includes(newLeader) ? 'the surviving replica' : 'the replacement pod'}`);

  const expected = Array.from({ length: 50 }, (_, i) => `sa.${APP}.app-${i}`).sort();
  const roles = await eventually(async () => {
    const now = await rolesInVault();
    if (now.length < expected.length) throw new Error(`${now.length}/${expected.length} roles in Vault`);
    return now;
  }, { timeoutMs: 180_000, intervalMs: 1000, message: 'every role in Vault' });
  const convergedMs = Date.now() - deleted;
  t.deepEqual(roles, expected, 'every role exactly once in Vault, none missing or extra');
  const policies = JSON.parse((await flow.must(vaultAsOperator('policy list -format=json'), { quiet: true })).stdout) as string[];
  t.deepEqual(policies.filter((p) => p.startsWith(`sa.${APP}.`)).sort(), expected, 'every policy exactly once');

  await eventually(async () => {
    if ((await flow.operatorPods()).filter((p) => p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')).length !== 2) throw new Error('replacement not Ready');
  }, { timeoutMs: 180_000, intervalMs: 1000, message: 'the Deployment is back to 2 Ready replicas' });
  const backMs = Date.now() - deleted;
  t.log(`leader pod ${leader} deleted: ${newLeader} led after ${(takeoverMs / 1000).toFixed(1)} s; all 50 roles + policies in Vault after ${(convergedMs / 1000).toFixed(1)} s; 2 Ready replicas again after ${(backMs / 1000).toFixed(1)} s`);
});
