import test from 'ava';
import type { V1PersistentVolumeClaim, V1Pod } from '@kubernetes/client-node';
import { VaultReason } from '../../../../operator/api/vault.js';
import { diagnosePods, newlyUnsealed, recheckDelayMs, STARTING_RECHECK_MS } from '../../../../operator/controllers/vault/pod-status.js';

const NOW = new Date('2026-11-30T12:00:00Z');

function aPod(name: string, status: V1Pod['status'], claim = `data-${name}`): V1Pod {
  return { metadata: { name }, spec: { containers: [{ name: 'vault' }], volumes: [{ name: 'data', persistentVolumeClaim: { claimName: claim } }] }, status };
}
function aClaim(name: string, phase: string, storageClassName?: string): V1PersistentVolumeClaim {
  return { metadata: { name }, spec: { ...(storageClassName ? { storageClassName } : {}) }, status: { phase } };
}
const waitingVault = (reason: string, message?: string) => ({
  phase: 'Pending',
  containerStatuses: [{ name: 'vault', image: 'hashicorp/vault:1.21.4', imageID: '', ready: false, restartCount: 0, state: { waiting: { reason, ...(message ? { message } : {}) } } }],
});

test('unschedulable: the scheduler says why', (t) => {
  const pod = aPod('vault-0', {
    phase: 'Pending',
    conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: '0/1 nodes are available: 1 Insufficient memory.' }],
  });
  const d = diagnosePods(['vault-0'], [pod], [aClaim('data-vault-0', 'Bound', 'local')])!;
  t.is(d.reason, VaultReason.PodUnschedulable);
  t.is(d.message, 'vault-0: not scheduled (Unschedulable: 0/1 nodes are available: 1 Insufficient memory.)');
});

test('a claim without a StorageClass that stays Pending: no default StorageClass', (t) => {
  const pod = aPod('vault-0', { phase: 'Pending', conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: 'pod has unbound immediate PersistentVolumeClaims' }] });
  const d = diagnosePods(['vault-0'], [pod], [aClaim('data-vault-0', 'Pending')])!;
  t.is(d.reason, VaultReason.VolumeUnbound);
  t.regex(d.message, /PersistentVolumeClaim data-vault-0 is Pending and names no StorageClass: the cluster has no default StorageClass/);
  t.regex(diagnosePods(['vault-0'], [pod], [aClaim('data-vault-0', 'Pending', 'fast')])!.message, /\(StorageClass fast\)/);
  t.regex(diagnosePods(['vault-0'], [pod], [])!.message, /data-vault-0 does not exist yet/);
});

test('image pull failures, every kubelet spelling', (t) => {
  for (const reason of ['ErrImagePull', 'ImagePullBackOff', 'ErrImageNeverPull', 'InvalidImageName']) {
    const d = diagnosePods(['vault-0'], [aPod('vault-0', waitingVault(reason, 'Back-off pulling image "hashicorp/vault:1.21.4"'))], [aClaim('data-vault-0', 'Bound')])!;
    t.is(d.reason, VaultReason.ImagePullFailed, reason);
    t.regex(d.message, new RegExp(`vault-0: image hashicorp/vault:1.21.4 cannot be pulled \\(${reason}: Back-off pulling`));
  }
});

test('crash loop: exit code, restarts and where the logs are', (t) => {
  const pod = aPod('vault-1', {
    phase: 'Running',
    containerStatuses: [
      {
        name: 'vault', image: 'v', imageID: '', ready: false, restartCount: 4,
        state: { waiting: { reason: 'CrashLoopBackOff' } },
        lastState: { terminated: { exitCode: 1, reason: 'Error' } },
      },
    ],
  });
  const d = diagnosePods(['vault-1'], [pod], [])!;
  t.is(d.reason, VaultReason.CrashLoopBackOff);
  t.is(d.message, 'vault-1: container vault keeps exiting, last exit code 1 (Error), 4 restarts; see kubectl logs vault-1 -c vault --previous');
});

test('several pods: the most actionable reason, every pod named; a running pod is not a pod problem', (t) => {
  const running = aPod('vault-0', { phase: 'Running', containerStatuses: [{ name: 'vault', image: 'v', imageID: '', ready: false, restartCount: 0, state: { running: { startedAt: NOW } } }] });
  const crashing = aPod('vault-1', { phase: 'Running', containerStatuses: [{ name: 'vault', image: 'v', imageID: '', ready: false, restartCount: 1, state: { waiting: { reason: 'CrashLoopBackOff' } } }] });
  const pulling = aPod('vault-2', waitingVault('ImagePullBackOff'));
  const d = diagnosePods(['vault-0', 'vault-1', 'vault-2', 'vault-3'], [running, crashing, pulling], [])!;
  t.is(d.reason, VaultReason.ImagePullFailed);
  t.regex(d.message, /^vault-1: container vault keeps exiting.*; vault-2: image hashicorp\/vault:1\.21\.4 cannot be pulled \(ImagePullBackOff\); vault-3: pod does not exist yet$/);
  t.is(diagnosePods(['vault-0'], [running], []), undefined);
});

test('recheck within a second while a pod has just started, else the normal period', (t) => {
  const started = (ms: number) => aPod('vault-0', { phase: 'Running', containerStatuses: [{ name: 'vault', image: 'v', imageID: '', ready: false, restartCount: 0, state: { running: { startedAt: new Date(NOW.getTime() - ms) } } }] });
  t.is(recheckDelayMs(['vault-0'], [started(3000)], NOW, 10_000), STARTING_RECHECK_MS);
  t.is(recheckDelayMs(['vault-0'], [started(120_000)], NOW, 10_000), 10_000);
  t.is(recheckDelayMs(['vault-1'], [started(3000)], NOW, 10_000), 10_000, 'only the nodes in question count');
  t.is(recheckDelayMs(['vault-0'], [aPod('vault-0', waitingVault('ContainerCreating'))], NOW, 10_000), 10_000);
});

test('newlyUnsealed: every node gets its event once, including a follower that unsealed after joining', (t) => {
  const before = [
    { name: 'vault-0', reachable: true, sealed: false },
    { name: 'vault-1', reachable: true, sealed: true },
    { name: 'vault-2', reachable: false },
  ];
  const now = [
    { name: 'vault-0', reachable: true, sealed: false },
    { name: 'vault-1', reachable: true, sealed: false },
    { name: 'vault-2', reachable: true, sealed: false },
  ];
  t.deepEqual(newlyUnsealed(before, now, new Set(['vault-2'])), ['vault-1', 'vault-2']);
  t.deepEqual(newlyUnsealed(now, now, new Set()), [], 'nothing twice');
});
