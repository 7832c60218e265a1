// Why a managed Vault node does not answer, from what Kubernetes knows about
// its pod and claims: not scheduled (and the scheduler's words), a claim not
// bound, an image that cannot be pulled, a crash loop, not started yet. Pure:
// pods and claims in, one condition reason and message out. Also when to look
// again: a pod that just started gets seconds, not the sealed recheck period.
import type { V1PersistentVolumeClaim, V1Pod } from '@kubernetes/client-node';
import { VaultReason } from '../../api/vault.js';

export interface PodDiagnosis {
  reason: VaultReason;
  message: string;
}

/** Most actionable first: what the user must fix before what only needs time. */
const SEVERITY: VaultReason[] = [VaultReason.ImagePullFailed, VaultReason.VolumeUnbound, VaultReason.PodUnschedulable, VaultReason.CrashLoopBackOff, VaultReason.PodNotRunning];

const PULL_FAILURES = new Set(['ErrImagePull', 'ImagePullBackOff', 'ErrImageNeverPull', 'InvalidImageName']);

/** Messages from kubelet and the scheduler can be long; keep the condition readable. */
function clip(text: string, max = 300): string {
  const one = text.replace(/\s+/g, ' ').trim();
  return one.length > max ? `${one.slice(0, max - 1)}…` : one;
}

function claimsOf(pod: V1Pod): string[] {
  return (pod.spec?.volumes ?? []).flatMap((v) => (v.persistentVolumeClaim?.claimName ? [v.persistentVolumeClaim.claimName] : []));
}

/** One pod's problem, or undefined when Kubernetes sees nothing wrong with it. */
export function diagnosePod(name: string, pod: V1Pod | undefined, claims: ReadonlyMap<string, V1PersistentVolumeClaim>): PodDiagnosis | undefined {
  if (!pod) return { reason: VaultReason.PodNotRunning, message: `${name}: pod does not exist yet` };
  if (pod.metadata?.deletionTimestamp) return { reason: VaultReason.PodNotRunning, message: `${name}: pod is terminating` };
  const statuses = [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])];
  for (const c of statuses) {
    const waiting = c.state?.waiting;
    if (waiting?.reason && PULL_FAILURES.has(waiting.reason)) {
      return { reason: VaultReason.ImagePullFailed, message: `${name}: image ${c.image} cannot be pulled (${waiting.reason}${waiting.message ? `: ${clip(waiting.message)}` : ''})` };
    }
    if (waiting?.reason === 'CrashLoopBackOff') {
      const last = c.lastState?.terminated;
      const why = last ? `last exit code ${last.exitCode}${last.reason ? ` (${last.reason})` : ''}` : 'restarting';
      return { reason: VaultReason.CrashLoopBackOff, message: `${name}: container ${c.name} keeps exiting, ${why}, ${c.restartCount} restarts; see kubectl logs ${name} -c ${c.name} --previous` };
    }
  }
  if (pod.status?.phase === 'Pending') {
    for (const claimName of claimsOf(pod)) {
      const claim = claims.get(claimName);
      if (!claim) return { reason: VaultReason.VolumeUnbound, message: `${name}: PersistentVolumeClaim ${claimName} does not exist yet` };
      if (claim.status?.phase !== 'Bound') {
        const noClass = !claim.spec?.storageClassName;
        return {
          reason: VaultReason.VolumeUnbound,
          message: `${name}: PersistentVolumeClaim ${claimName} is ${claim.status?.phase ?? 'Pending'}${
            noClass ? ' and names no StorageClass: the cluster has no default StorageClass (set one, or give volumeClaimTemplates a storageClassName)' : ` (StorageClass ${claim.spec?.storageClassName})`
          }`,
        };
      }
    }
    const scheduled = pod.status?.conditions?.find((c) => c.type === 'PodScheduled');
    if (scheduled?.status === 'False') {
      return { reason: VaultReason.PodUnschedulable, message: `${name}: not scheduled (${scheduled.reason ?? 'Unschedulable'}: ${clip(scheduled.message ?? '')})` };
    }
    const waiting = statuses.find((c) => c.state?.waiting)?.state?.waiting;
    return { reason: VaultReason.PodNotRunning, message: `${name}: pod is Pending${waiting?.reason ? ` (${waiting.reason})` : ''}` };
  }
  if (pod.status?.phase === 'Failed' || pod.status?.phase === 'Succeeded') {
    return { reason: VaultReason.PodNotRunning, message: `${name}: pod ${pod.status.phase}${pod.status.reason ? ` (${pod.status.reason})` : ''}` };
  }
  return undefined;
}

/**
 * The pods' story for the nodes that do not answer: the most actionable reason
 * and every affected pod's line. Undefined when Kubernetes sees nothing wrong
 * (the pod runs; Vault itself is the problem, e.g. still starting).
 */
export function diagnosePods(
  nodeNames: readonly string[],
  pods: readonly V1Pod[],
  claims: readonly V1PersistentVolumeClaim[],
): PodDiagnosis | undefined {
  const byName = new Map(pods.map((p) => [p.metadata?.name ?? '', p]));
  const claimMap = new Map(claims.map((c) => [c.metadata?.name ?? '', c]));
  const found = nodeNames.flatMap((n) => {
    const d = diagnosePod(n, byName.get(n), claimMap);
    return d ? [d] : [];
  });
  if (found.length === 0) return undefined;
  const reason = SEVERITY.find((r) => found.some((d) => d.reason === r)) ?? found[0]!.reason;
  return { reason, message: found.map((d) => d.message).join('; ') };
}

/** A container started less than this ago may simply not be listening yet: look again soon. */
export const STARTING_WINDOW_MS = 60_000;
export const STARTING_RECHECK_MS = 1_000;

/**
 * When to look at a node that does not answer or is still sealed: within a
 * second while one of the pods started recently (a restarted Vault is
 * unsealed in seconds), otherwise at the normal recheck period.
 */
export function recheckDelayMs(nodeNames: readonly string[], pods: readonly V1Pod[], now: Date, normalMs: number): number {
  const started = pods
    .filter((p) => nodeNames.includes(p.metadata?.name ?? ''))
    .flatMap((p) => p.status?.containerStatuses ?? [])
    .map((c) => Date.parse(String(c.state?.running?.startedAt ?? '')))
    .filter((t) => Number.isFinite(t));
  const recent = started.some((t) => now.getTime() - t < STARTING_WINDOW_MS);
  return recent ? Math.min(STARTING_RECHECK_MS, normalMs) : normalMs;
}

export interface NodeSeal {
  name: string;
  reachable: boolean;
  sealed?: boolean;
}

/**
 * Nodes that became unsealed since the last status: by our keys this round,
 * or on their own in between (a Raft follower unseals once it has joined).
 * Each gets its own `Unsealed` event, once.
 */
export function newlyUnsealed(previous: readonly NodeSeal[] | undefined, current: readonly NodeSeal[], unsealedThisRound: ReadonlySet<string>): string[] {
  const before = new Map((previous ?? []).map((n) => [n.name, n]));
  return current
    .filter((n) => n.reachable && n.sealed === false)
    .filter((n) => unsealedThisRound.has(n.name) || before.get(n.name)?.sealed === true)
    .map((n) => n.name);
}
