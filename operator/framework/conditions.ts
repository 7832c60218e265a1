// metav1.Condition semantics, as pure functions over plain data.
//  - lastTransitionTime moves only when `status` changes;
//  - reason/message/observedGeneration are updated in place;
//  - order is stable: an existing condition keeps its position, a new one is appended.

export type ConditionStatus = 'True' | 'False' | 'Unknown';

export interface Condition {
  type: string;
  status: ConditionStatus;
  reason: string;
  message: string;
  lastTransitionTime: string;
  observedGeneration?: number;
}

export interface ConditionUpdate {
  type: string;
  status: ConditionStatus;
  reason: string;
  message: string;
  observedGeneration?: number;
}

/** metav1.Time: RFC 3339 with second precision, as the apiserver writes it. */
export function toKubeTime(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export function setCondition(list: readonly Condition[] | undefined, next: ConditionUpdate, now: Date): Condition[] {
  const current = list ?? [];
  const index = current.findIndex((c) => c.type === next.type);
  const existing = index >= 0 ? current[index] : undefined;
  const updated: Condition = {
    type: next.type,
    status: next.status,
    reason: next.reason,
    message: next.message,
    lastTransitionTime:
      existing && existing.status === next.status && existing.lastTransitionTime
        ? existing.lastTransitionTime
        : toKubeTime(now),
  };
  const generation = next.observedGeneration ?? existing?.observedGeneration;
  if (generation !== undefined) updated.observedGeneration = generation;
  if (!existing) return [...current, updated];
  const out = [...current];
  out[index] = updated;
  return out;
}

/** Applies several updates in order with one timestamp. */
export function setConditions(list: readonly Condition[] | undefined, updates: readonly ConditionUpdate[], now: Date): Condition[] {
  return updates.reduce<Condition[]>((acc, u) => setCondition(acc, u, now), [...(list ?? [])]);
}

export function getCondition(list: readonly Condition[] | undefined, type: string): Condition | undefined {
  return list?.find((c) => c.type === type);
}

export function isConditionTrue(list: readonly Condition[] | undefined, type: string): boolean {
  return getCondition(list, type)?.status === 'True';
}

export function removeCondition(list: readonly Condition[] | undefined, type: string): Condition[] {
  return (list ?? []).filter((c) => c.type !== type);
}
