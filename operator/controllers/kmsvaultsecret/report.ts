// The status and Events a KMSVaultSecret sync ends with. Pure.
import {
  KmsVaultSecretConditionType,
  KmsVaultSecretEventReason,
  KmsVaultSecretReason,
  type KMSVaultSecret,
  type KMSVaultSecretStatus,
} from '../../api/kmsvaultsecret.js';
import { getCondition, setCondition, toKubeTime } from '../../framework/index.js';
import { logicalPath, type KvLocation } from '../../vault/kv.js';
import type { Failure } from './failure.js';

/** Why Vault was (re)written: for the event a person reads. */
export const WriteCause = { Created: 'created', Changed: 'changed', Drift: 'drift' } as const;
export type WriteCause = (typeof WriteCause)[keyof typeof WriteCause];

/** The status with its Ready condition set for the current generation. */
function withReady(obj: KMSVaultSecret, ready: { status: 'True' | 'False'; reason: string; message: string }, now: Date): KMSVaultSecretStatus {
  const prev = obj.status ?? {};
  const generation = obj.metadata?.generation;
  return {
    ...prev,
    observedGeneration: generation,
    conditions: setCondition(prev.conditions, { type: KmsVaultSecretConditionType.Ready, ...ready, observedGeneration: generation }, now),
  };
}

export function syncedStatus(obj: KMSVaultSecret, loc: KvLocation, keys: readonly string[], wrote: boolean, now: Date): KMSVaultSecretStatus {
  const prev = obj.status ?? {};
  const firstSyncOfGeneration = prev.observedGeneration !== obj.metadata?.generation || !prev.lastSyncTime;
  const path = logicalPath(loc);
  return {
    ...withReady(obj, { status: 'True', reason: KmsVaultSecretReason.Synced, message: `${keys.length} key(s) in sync at ${path} (KV ${loc.version})` }, now),
    lastSyncTime: wrote || firstSyncOfGeneration ? toKubeTime(now) : prev.lastSyncTime,
    vaultPath: path,
    vaultMount: loc.mount,
    engineVersion: loc.version,
    keys: [...keys].sort(),
  };
}

export function failedStatus(obj: KMSVaultSecret, failure: Failure, now: Date): KMSVaultSecretStatus {
  return withReady(obj, { status: 'False', reason: failure.reason, message: failure.message }, now);
}

export interface PlannedEvent {
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
}

/** Events after a successful sync: what was written, and recovery from a failure. */
export function syncEvents(obj: KMSVaultSecret, loc: KvLocation, keyCount: number, cause: WriteCause | undefined): PlannedEvent[] {
  const events: PlannedEvent[] = [];
  const path = logicalPath(loc);
  if (cause) {
    const why = {
      [WriteCause.Created]: 'created',
      [WriteCause.Changed]: 'updated from the resource',
      [WriteCause.Drift]: 'restored: the value in Vault had been changed outside the operator',
    }[cause];
    events.push({ type: 'Normal', reason: KmsVaultSecretEventReason.SecretWritten, message: `${keyCount} key(s) at ${path} ${why}` });
  }
  const ready = getCondition(obj.status?.conditions, KmsVaultSecretConditionType.Ready);
  if (ready?.status === 'False') {
    events.push({ type: 'Normal', reason: KmsVaultSecretEventReason.Recovered, message: `in sync again at ${path} after ${ready.reason}` });
  }
  return events;
}

/** A Warning only when the failure is new or different, so a persisting failure does not flood events. */
export function failureEvents(obj: KMSVaultSecret, failure: Failure): PlannedEvent[] {
  const ready = getCondition(obj.status?.conditions, KmsVaultSecretConditionType.Ready);
  if (ready?.status === 'False' && ready.reason === failure.reason && ready.message === failure.message) return [];
  return [{ type: 'Warning', reason: failure.reason, message: failure.message }];
}
