// Managed Vault pods as the real apiserver stores them (no kubelet here: the
// test writes pod and claim status the way kubelet, the scheduler and the
// volume controller would) -> the Vault's conditions say what is wrong, and a
// pod event alone makes the operator look again: both periodic timers are set
// to 10 minutes, so anything within seconds came from the pod watch. "live-0"
// is a REAL file-storage Vault: sealed behind the operator's back and then
// "restarted", it is unsealed again in seconds.
import test from 'ava';
import { CoreV1Api, type V1PersistentVolumeClaim, type V1Pod } from '@kubernetes/client-node';
import { VaultReason } from '../../../operator/api/vault.js';
import { selectorLabels } from '../../../operator/controllers/vault/desired-objects.js';
import { VaultClient } from '../../../operator/vault/client.js';
import { startServers, eventually, WITHIN, type Servers } from '../../harness/index.js';
import { CRD_FILE, Vaults, fromSample, startVaultOperator, type RunningVaultOperator } from './helpers.js';

const TEN_MINUTES = 10 * 60_000;
let servers: Servers;
let op: RunningVaultOperator;
let ns: string;
let vaults: Vaults;
let core: CoreV1Api;

test.before(async () => {
  servers = await startServers({ vault: 'file', kms: false });
  await servers.env.applyCrds(CRD_FILE);
  ns = await servers.env.namespace('vault-pods');
  vaults = new Vaults(servers.env.kubeConfig());
  core = servers.env.kubeConfig().makeApiClient(CoreV1Api);
  op = await startVaultOperator(servers.env, ns, { resyncPeriodMs: TEN_MINUTES, sealedRecheckMs: TEN_MINUTES }, {
    // "live" is the real server; every other Vault's pods refuse connections
    podAddress: (name) => (name === 'live' ? servers.vault.address : 'http://127.0.0.1:1'),
  });
});

test.after.always(async () => {
  await op?.stop();
  await servers?.stopAll();
});

/** What the managed Vault's pods carry (the StatefulSet's template labels). */
const podLabels = (vault: string) => ({ ...selectorLabels(vault), 'app.kubernetes.io/managed-by': 'vault-autopilot' });

async function createPod(vault: string, ordinal: number): Promise<string> {
  const name = `${vault}-${ordinal}`;
  const body: V1Pod = {
    metadata: { name, namespace: ns, labels: podLabels(vault) },
    spec: {
      containers: [{ name: 'vault', image: 'hashicorp/vault:1.21.4' }],
      volumes: [{ name: 'data', persistentVolumeClaim: { claimName: `data-${name}` } }],
    },
  };
  await core.createNamespacedPod({ namespace: ns, body });
  return name;
}

async function setPodStatus(name: string, status: V1Pod['status']): Promise<void> {
  const pod = await core.readNamespacedPod({ name, namespace: ns });
  await core.replaceNamespacedPodStatus({ name, namespace: ns, body: { ...pod, status } });
}

async function createClaim(vault: string, name: string, phase: string): Promise<void> {
  const body: V1PersistentVolumeClaim = {
    metadata: { name, namespace: ns, labels: selectorLabels(vault) },
    spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } },
  };
  await core.createNamespacedPersistentVolumeClaim({ namespace: ns, body });
  await setClaimPhase(name, phase);
}

async function setClaimPhase(name: string, phase: string): Promise<void> {
  const claim = await core.readNamespacedPersistentVolumeClaim({ name, namespace: ns });
  await core.replaceNamespacedPersistentVolumeClaimStatus({ name, namespace: ns, body: { ...claim, status: { phase } } });
}

const vaultContainer = (state: object, extra: object = {}) => ({ name: 'vault', image: 'hashicorp/vault:1.21.4', imageID: '', ready: false, restartCount: 0, state, ...extra });

// Waits stay far below the 10-minute timers: whatever arrives within them came from the pod watch.
// No tighter limit: on a loaded machine a watch event may take seconds.
const WAIT_MS = 2 * 60_000;

/** The Unsealed condition reaches `reason` (its message matches); ms it took. */
async function unsealedCondition(vault: string, reason: string, message: RegExp, ms = WAIT_MS): Promise<number> {
  const started = Date.now();
  await vaults.waitForCondition(ns, vault, 'Unsealed', 'Unknown', { reason, message, timeoutMs: ms });
  return Date.now() - started;
}

test.serial('down-0 waits for its claim: VolumeUnbound, no default StorageClass', async (t) => {
  await createClaim('down', 'data-down-0', 'Pending');
  const pod = await createPod('down', 0);
  await setPodStatus(pod, { phase: 'Pending', conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: 'pod has unbound immediate PersistentVolumeClaims' }] });
  await vaults.create(fromSample('samples/vault-managed.yaml', ns, 'down', { size: 1 }));
  await unsealedCondition('down', VaultReason.VolumeUnbound, /down-0: PersistentVolumeClaim data-down-0 is Pending and names no StorageClass: the cluster has no default StorageClass/);
  const initialized = await vaults.condition(ns, 'down', 'Initialized');
  t.is(initialized?.reason, VaultReason.VolumeUnbound, 'Initialized says the same, not VaultUnreachable');
  const ready = await vaults.condition(ns, 'down', 'Ready');
  t.is(ready?.status, 'False');
  t.regex(ready!.message, /no default StorageClass/);
});

test.serial('pod events alone move the condition: unschedulable, image pull, crash loop, gone', async (t) => {
  await setClaimPhase('data-down-0', 'Bound'); // claims are not watched: the next pod event shows it
  const times: Record<string, number> = {};
  await setPodStatus('down-0', { phase: 'Pending', conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: '0/1 nodes are available: 1 Insufficient memory.' }] });
  times.unschedulable = await unsealedCondition('down', VaultReason.PodUnschedulable, /down-0: not scheduled \(Unschedulable: 0\/1 nodes are available: 1 Insufficient memory\.\)/);

  await setPodStatus('down-0', { phase: 'Pending', containerStatuses: [vaultContainer({ waiting: { reason: 'ErrImageNeverPull', message: 'Container image "hashicorp/vault:1.21.4" is not present with pull policy of Never' } })] });
  times.imagePull = await unsealedCondition('down', VaultReason.ImagePullFailed, /down-0: image hashicorp\/vault:1\.21\.4 cannot be pulled \(ErrImageNeverPull: Container image/);

  await setPodStatus('down-0', {
    phase: 'Running',
    containerStatuses: [vaultContainer({ waiting: { reason: 'CrashLoopBackOff' } }, { restartCount: 3, lastState: { terminated: { exitCode: 2, reason: 'Error' } } })],
  });
  times.crashLoop = await unsealedCondition('down', VaultReason.CrashLoopBackOff, /down-0: container vault keeps exiting, last exit code 2 \(Error\), 3 restarts/);

  await core.deleteNamespacedPod({ name: 'down-0', namespace: ns, gracePeriodSeconds: 0 });
  times.deleted = await unsealedCondition('down', VaultReason.PodNotRunning, /down-0: pod (does not exist yet|is terminating)/);
  t.log(`pod status change -> Vault condition (ms): ${JSON.stringify(times)}`);
  for (const [what, ms] of Object.entries(times)) t.true(ms < TEN_MINUTES, `${what} in ${ms} ms, before any 10-minute timer`);
});

test.serial('a sealed node is unsealed as soon as its pod restarts; one Unsealed event per unseal', async (t) => {
  const pod = await createPod('live', 0);
  const longAgo = new Date(Date.now() - 5 * 60_000);
  await setPodStatus(pod, { phase: 'Running', containerStatuses: [vaultContainer({ running: { startedAt: longAgo } }, { ready: true })] });
  await vaults.create(fromSample('samples/vault-managed.yaml', ns, 'live', { size: 1, unsealConfig: { options: { secretShares: 3, secretThreshold: 2, storeRootToken: true } } }));
  await vaults.waitForCondition(ns, 'live', 'Ready', 'True', { timeoutMs: WAIT_MS });
  const root = (await vaults.secretData(ns, 'live-unseal-keys'))!['vault-root']!;
  const vault = new VaultClient({ address: servers.vault.address, auth: { method: 'token', token: root }, timeoutMs: 3000 });
  const unsealedEvents = async () => (await vaults.events(ns, 'live')).filter((e) => e.reason === 'Unsealed').reduce((n, e) => n + (e.count ?? 1), 0);
  const before = await unsealedEvents();

  // sealed behind the operator's back: nothing in Kubernetes changed, and both timers are 10 minutes away
  await vault.request('PUT', 'sys/seal');
  t.true((await vault.sealStatus()).sealed, 'sealed until the pod event below');

  // what kubelet writes when the container restarts
  const restarted = Date.now();
  await setPodStatus(pod, { phase: 'Running', containerStatuses: [vaultContainer({ running: { startedAt: new Date() } }, { restartCount: 1 })] });
  await eventually(async () => {
    if ((await vault.sealStatus()).sealed) throw new Error('still sealed');
  }, { timeoutMs: WAIT_MS, intervalMs: 100 });
  const ms = Date.now() - restarted;
  t.log(`pod restarted -> unsealed: ${ms} ms`);
  t.true(ms < TEN_MINUTES, 'the pod event, not a timer');
  await vaults.waitForCondition(ns, 'live', 'Ready', 'True', { timeoutMs: WAIT_MS });
  await eventually(async () => {
    if ((await unsealedEvents()) !== before + 1) throw new Error(`Unsealed events: ${await unsealedEvents()}, want ${before + 1}`);
  }, WITHIN.reconcile);
  const status = (await vaults.get(ns, 'live')).status!;
  t.false(status.sealed);
  t.deepEqual(status.nodes?.map((n) => [n.name, n.sealed]), [['live-0', false]]);
});
