// raftLeaderAddress other than `self` (Bank-Vaults' multi-cluster Raft) with
// TWO real Raft Vault servers: a leader cluster initialised elsewhere (here,
// by the test), and "pod 0" of a managed Vault (the podAddress edge: no
// kubelet) started with the retry_join the operator rendered into the
// config Secret. The pod joins the leader, the operator does not initialise
// it (Initialized=False JoiningRaftLeader while it waits) and unseals it
// with the leader cluster's keys (its keys Secret holds them, in
// Bank-Vaults' layout). A leader the platform did not allow gets no
// StatefulSet at all.
import test from 'ava';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eventually, useTestEnv, WITHIN } from '../../harness/index.js';
import { VaultServer } from '../../harness/vault.js';
import { VaultClient } from '../../../operator/vault/client.js';
import { INIT_TIMEOUT_MS } from '../../../operator/vault/init.js';
import { CRD_FILE, Vaults, startVaultOperator, type RunningVaultOperator } from './helpers.js';

const env = useTestEnv(test, { vault: false, kms: false });
const dir = mkdtempSync(join(tmpdir(), 'raft-leader-'));
const NAME = 'follower';
let op: RunningVaultOperator | undefined;
let leader: VaultServer;
let follower: VaultServer | undefined;
let ns: string;
let vaults: Vaults;
let init: { keys: string[]; root_token: string };

const client = (address: string, token?: string) => new VaultClient({ address, auth: { method: 'token', ...(token ? { token } : {}) }, timeoutMs: 10_000 });

test.before(async () => {
  await env().applyCrds(CRD_FILE);
  ns = await env().namespace('raft-leader');
  vaults = new Vaults(env().kubeConfig());
  // the other cluster: initialised and unsealed by someone else (its keys are what Bank-Vaults stored);
  // a Raft bootstrap on loaded cores can take well over 10 s, so sys/init waits as long as the operator's does
  leader = await VaultServer.create(join(dir, 'leader'), 'raft');
  await leader.start();
  init = (await client(leader.address).request<{ keys: string[]; root_token: string }>('PUT', 'sys/init', { secret_shares: 3, secret_threshold: 2 }, { token: null, timeoutMs: INIT_TIMEOUT_MS })).data;
  for (const key of init.keys.slice(0, 2)) await client(leader.address).request('PUT', 'sys/unseal', { key }, { token: null });
  await eventually(async () => {
    const res = await client(leader.address).request('GET', 'sys/health', undefined, { token: null, allowStatus: [429, 473, 501, 503] });
    if (res.status !== 200) throw new Error(`leader health ${res.status}`);
  }, WITHIN.server);
  op = await startVaultOperator(env(), ns, { resyncPeriodMs: 2000, sealedRecheckMs: 500 }, {
    podAddress: (_name, _ns, ordinal) => (ordinal === 0 && follower ? follower.address : 'http://127.0.0.1:1'),
  });
});

test.after.always(async () => {
  await op?.stop();
  await follower?.stop();
  await leader?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const leaderHost = () => new URL(leader.address).host; // 127.0.0.1:<port>

test.serial('rendered: retry_join to the leader first, client Service publishes not-ready pods, not initialised here', async (t) => {
  const keys: Record<string, string> = Object.fromEntries(init.keys.map((k, i) => [`vault-unseal-${i}`, Buffer.from(k).toString('base64')]));
  keys['vault-root'] = Buffer.from(init.root_token).toString('base64');
  await vaults.core.createNamespacedSecret({ namespace: ns, body: { metadata: { name: `${NAME}-unseal-keys` }, type: 'Opaque', data: keys } });
  await vaults.create({
    apiVersion: 'vault.autopilot.dev/v1alpha1',
    kind: 'Vault',
    metadata: { name: NAME, namespace: ns },
    spec: { size: 1, raftLeaderAddress: leaderHost(), raftLeaderApiSchemeOverride: 'http', unsealConfig: { options: { secretShares: 3, secretThreshold: 2 } } },
  });
  const config = await eventually(async () => {
    const data = await vaults.secretData(ns, `${NAME}-config`);
    if (!data?.['vault.json']) throw new Error('no config yet');
    return JSON.parse(data['vault.json']) as { storage: { raft: { retry_join: Array<{ leader_api_addr: string }> } } };
  }, WITHIN.reconcile);
  const joins = config.storage.raft.retry_join.map((j) => j.leader_api_addr);
  t.is(joins[0], leader.address, 'the leader of the other cluster, scheme from raftLeaderApiSchemeOverride');
  t.is(joins.length, 2, 'then its own pod');
  t.regex(joins[1]!, new RegExp(`^https://${NAME}-0\\.`));
  // the config Secret is written first; the StatefulSet and Services in the same reconcile
  const apps = env().kubeConfig().makeApiClient((await import('@kubernetes/client-node')).AppsV1Api);
  const sts = await eventually(() => apps.readNamespacedStatefulSet({ name: NAME, namespace: ns }), WITHIN.reconcile);
  t.is(sts.spec?.replicas, 1);
  const svc = await eventually(() => vaults.core.readNamespacedService({ name: NAME, namespace: ns }), WITHIN.reconcile);
  t.true(svc.spec?.publishNotReadyAddresses, 'as in Bank-Vaults: the leader reaches a joining pod');
  const ignored = (await vaults.get(ns, NAME)).status?.ignoredFields ?? [];
  t.false(ignored.some((f) => f.field.startsWith('spec.raftLeader')), 'honoured, not reported');
});

test.serial('waiting: an uninitialised pod 0 is not initialised by the operator: Initialized=False JoiningRaftLeader says which leader and pod', async (t) => {
  // a pod that answers uninitialised and never joins (no retry_join): the state between start and join, held still
  follower = await VaultServer.create(join(dir, 'waiting'), 'raft');
  await follower.start();
  const c = await vaults.waitForCondition(ns, NAME, 'Initialized', 'False', { reason: 'JoiningRaftLeader', ...WITHIN.reconcile });
  t.is(
    c.message,
    `this Vault joins the Raft cluster of ${leader.address} (raftLeaderAddress): the operator does not initialise it. Waiting for ${NAME}-0 to join (retry_join); it is then unsealed with the keys of unsealConfig, which must be the leader cluster's`,
  );
  t.false((await client(follower.address).sealStatus()).initialized, 'sys/init never sent to it');
  t.false((await vaults.events(ns, NAME)).some((e) => e.reason === 'Initialized'));
  await follower.stop();
  follower = undefined;
});

test.serial('joined: pod 0 joins the leader with the rendered retry_join and is unsealed with the leader cluster\'s keys', async (t) => {
  const config = JSON.parse((await vaults.secretData(ns, `${NAME}-config`))!['vault.json']!) as { storage: { raft: { retry_join: Array<{ leader_api_addr: string }> } } };
  // pod 0's storage stanza as rendered (the leader's entry; its own pod's DNS name does not resolve here)
  follower = await VaultServer.create(join(dir, 'follower'), 'raft', '', { retryJoin: [config.storage.raft.retry_join[0]!.leader_api_addr] });
  await follower.start();
  await vaults.waitForCondition(ns, NAME, 'Ready', 'True', { timeoutMs: 120_000 });
  const seal = await client(follower.address).sealStatus();
  t.true(seal.initialized);
  t.false(seal.sealed);
  const raft = await client(leader.address, init.root_token).request<{ data: { config: { servers: Array<{ address: string; voter: boolean }> } } }>('GET', 'sys/storage/raft/configuration');
  t.is(raft.data.data.config.servers.length, 2, 'one Raft cluster of two: the pod joined the leader');
  const events = await vaults.events(ns, NAME);
  t.false(events.some((e) => e.reason === 'Initialized'), 'never initialised by the operator');
  t.true(events.some((e) => e.reason === 'Unsealed'));
  // storeRootToken is false (the default), yet the leader cluster's root token (read with just above) stays valid
  t.false(events.some((e) => e.reason === 'RootTokenRevoked'), 'a follower never revokes the leader cluster\'s root token');
  const log = op!.logs.text();
  for (const v of [...init.keys, init.root_token]) t.false(log.includes(v), 'no key or token in the log');
});

test.serial('a leader the platform did not allow: Ready=False, no StatefulSet, nothing configured to join it', async (t) => {
  await vaults.create({
    apiVersion: 'vault.autopilot.dev/v1alpha1',
    kind: 'Vault',
    metadata: { name: 'elsewhere', namespace: ns },
    spec: { size: 1, raftLeaderAddress: 'vault.other-cluster.example' },
  });
  const ready = await vaults.waitForCondition(ns, 'elsewhere', 'Ready', 'False', { reason: 'ExternalAddressNotAllowed', ...WITHIN.reconcile });
  t.regex(ready.message, /spec\.raftLeaderAddress \(as https:\/\/vault\.other-cluster\.example:8200\)/);
  const apps = env().kubeConfig().makeApiClient((await import('@kubernetes/client-node')).AppsV1Api);
  const err = await t.throwsAsync(apps.readNamespacedStatefulSet({ name: 'elsewhere', namespace: ns }));
  t.is((err as { code?: number }).code, 404);
  t.is(await vaults.secretData(ns, 'elsewhere-config'), undefined);
});
