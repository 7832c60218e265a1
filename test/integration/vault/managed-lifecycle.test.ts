// Managed mode end to end against a REAL Vault: without a kubelet the pods
// never run, so "pod 0" is pointed at an uninitialised file-storage Vault
// (the podAddress edge). Init through pod 0, unseal, configure, status per
// node, a node that does not answer, and deletion that asks for the keys to go.
import test from 'ava';
import { startServers, eventually, WITHIN, type Servers } from '../../harness/index.js';
import { VaultClient } from '../../../operator/vault/client.js';
import { generateRootToken } from '../../../operator/vault/init.js';
import { secret } from '../../../operator/framework/index.js';
import { VaultAudit } from '../../harness/vault-audit.js';
import { CRD_FILE, Vaults, fromSample, startVaultOperator, type RunningVaultOperator } from './helpers.js';

let servers: Servers;
let op: RunningVaultOperator;
let ns: string;
let vaults: Vaults;
const NAME = 'vault';

test.before(async () => {
  servers = await startServers({ vault: 'file', kms: false });
  await servers.env.applyCrds(CRD_FILE);
  ns = await servers.env.namespace('vault-managed-life');
  vaults = new Vaults(servers.env.kubeConfig());
  op = await startVaultOperator(servers.env, ns, { resyncPeriodMs: 2000, sealedRecheckMs: 500 }, {
    // pod 0 is the real server; other ordinals refuse connections
    podAddress: (_name, _ns, ordinal) => (ordinal === 0 ? servers.vault.address : 'http://127.0.0.1:1'),
  });
});

test.after.always(async () => {
  await op?.stop();
  await servers?.stopAll();
});

test.serial('the managed sample is initialised through pod 0, unsealed and configured', async (t) => {
  await vaults.create(fromSample('samples/vault-managed.yaml', ns, NAME, { size: 1, deleteUnsealKeysOnDelete: true }));
  await vaults.waitForCondition(ns, NAME, 'Ready', 'True', { timeoutMs: 60_000 });
  const status = (await vaults.get(ns, NAME)).status!;
  t.deepEqual(status.nodes, [{ name: `${NAME}-0`, address: servers.vault.address, reachable: true, initialized: true, sealed: false }]);
  t.is(status.leader, `${NAME}-0`);
  const keys = (await vaults.secretData(ns, `${NAME}-unseal-keys`))!;
  t.deepEqual(Object.keys(keys).sort(), ['vault-unseal-0', 'vault-unseal-1', 'vault-unseal-2', 'vault-unseal-3', 'vault-unseal-4']);
  const seal = await new VaultClient({ address: servers.vault.address, auth: { method: 'token' } }).sealStatus();
  t.is(seal.t, 3);
  t.false(seal.sealed);
  const token = (await vaults.secretData(ns, `${NAME}-operator-token`))!.token!;
  const vault = new VaultClient({ address: servers.vault.address, auth: { method: 'token', token } });
  const auth = (await vault.request<{ data: Record<string, { type: string }> }>('GET', 'sys/auth')).data.data;
  t.is(auth['kubernetes/']?.type, 'kubernetes');
  const mounts = (await vault.request<{ data: Record<string, { type: string; options: { version?: string } }> }>('GET', 'sys/mounts')).data.data;
  t.is(mounts['secret/']?.type, 'kv', "the sample's KV mount for service owners");
  t.is(mounts['secret/']?.options.version, '2');
});

test.serial('the way back in: with its token revoked, the operator makes a new one from the unseal keys and revokes that root token', async (t) => {
  const old = (await vaults.secretData(ns, `${NAME}-operator-token`))!.token!;
  const client = (token: string) => new VaultClient({ address: servers.vault.address, auth: { method: 'token', token } });
  // The test's own root token (from the stored keys, as an operator of the Vault could) to see every token in Vault
  // and to enable Vault's audit device: the evidence comes from Vault, not from the operator.
  const keys = Object.entries((await vaults.secretData(ns, `${NAME}-unseal-keys`))!).filter(([k]) => k.startsWith('vault-unseal-')).map(([, v]) => secret(v));
  const testRoot = (await generateRootToken(client(''), keys)).reveal();
  const audit = await VaultAudit.enable({ address: servers.vault.address, rootToken: testRoot });
  const rootAccessors = async (): Promise<string[]> => {
    const list = await client(testRoot).request<{ data: { keys: string[] } }>('LIST', 'auth/token/accessors');
    const out: string[] = [];
    for (const accessor of list.data.data.keys) {
      const info = await client(testRoot).request<{ data: { policies: string[] } }>('POST', 'auth/token/lookup-accessor', { accessor }, { allowStatus: [400, 403] });
      if (info.status === 200 && info.data.data.policies.includes('root')) out.push(accessor);
    }
    return out.sort();
  };
  const rootsBefore = await rootAccessors();
  const mark = audit.mark();
  await client(old).request('POST', 'auth/token/revoke-self');
  const fresh = await eventually(async () => {
    const token = (await vaults.secretData(ns, `${NAME}-operator-token`))?.token;
    if (!token || token === old) throw new Error('no new token yet');
    return token;
  }, WITHIN.reconcile);
  t.is((await client(fresh).request('GET', 'auth/token/lookup-self', undefined, { allowStatus: [403] })).status, 200);
  const attempt = await client(fresh).request<{ started: boolean }>('GET', 'sys/generate-root/attempt', undefined, { token: null });
  t.false(attempt.data.started, 'no root generation left open');
  t.true((await vaults.events(ns, NAME)).some((e) => e.reason === 'OperatorTokenRecovered'));
  await vaults.waitForCondition(ns, NAME, 'Ready', 'True');
  // Vault's record: a root token was generated, then revoked by itself (no error); no root token is left but the test's own
  const served = audit.since(mark);
  t.true(served.some((r) => r.path === 'sys/generate-root/update' && !r.error), 'a root token was generated from the keys');
  t.true(served.some((r) => r.path === 'auth/token/revoke-self' && r.displayName === 'root' && !r.error), 'the generated root token revoked itself');
  t.deepEqual(await rootAccessors(), rootsBefore, "no root token left in Vault but the test's own");
  await client(testRoot).request('POST', 'auth/token/revoke-self');
  const logs = op.logs.text();
  t.false(logs.includes(fresh));
  t.false(logs.includes(old));
});

test.serial('a second pod that does not answer: Unsealed=Unknown naming it, the first still configured', async (t) => {
  await vaults.patchSpec(ns, NAME, { size: 2 });
  // no kubelet here: what Kubernetes knows is that the pod does not exist
  const c = await vaults.waitForCondition(ns, NAME, 'Unsealed', 'Unknown', { reason: 'PodNotRunning' });
  t.regex(c.message, new RegExp(`unreachable: ${NAME}-1: pod does not exist yet; the others are unsealed`));
  t.is((await vaults.condition(ns, NAME, 'Ready'))?.status, 'False');
  t.is((await vaults.condition(ns, NAME, 'Configured'))?.status, 'True');
  const nodes = (await vaults.get(ns, NAME)).status!.nodes!;
  t.deepEqual(nodes.map((n) => [n.name, n.reachable]), [[`${NAME}-0`, true], [`${NAME}-1`, false]]);
  await vaults.patchSpec(ns, NAME, { size: 1 });
  await vaults.waitForCondition(ns, NAME, 'Ready', 'True');
});

test.serial('deleteUnsealKeysOnDelete: the keys Secret goes with the resource (Warning event)', async (t) => {
  await vaults.delete(ns, NAME);
  await eventually(async () => {
    if (await vaults.secretData(ns, `${NAME}-unseal-keys`)) throw new Error('keys still there');
  }, WITHIN.reconcile);
  t.true((await vaults.events(ns, NAME)).some((e) => e.type === 'Warning' && e.reason === 'UnsealKeysDeleted'));
});
