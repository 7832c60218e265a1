// Decide whether a status write is needed: a merge patch that would not
// change the stored status is skipped, so an in-sync reconcile writes nothing.

export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== typeof b || a === null || b === null || typeof a !== 'object') return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a) && Array.isArray(b)) {
    return a.length === b.length && a.every((v, i) => deepEqual(v, b[i]));
  }
  const ao = a as Record<string, unknown>;
  const bo = b as Record<string, unknown>;
  const aKeys = Object.keys(ao).filter((k) => ao[k] !== undefined);
  const bKeys = Object.keys(bo).filter((k) => bo[k] !== undefined);
  if (aKeys.length !== bKeys.length) return false;
  return aKeys.every((k) => Object.prototype.hasOwnProperty.call(bo, k) && deepEqual(ao[k], bo[k]));
}

/**
 * JSON text with every object's keys sorted: the same content gives the same
 * text whatever order its keys were written or read back in (the apiserver
 * returns them sorted). The one canonical form for digests and comparisons.
 */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => (isPlainObject(v) ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : v)) ?? 'undefined';
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** RFC 7386 JSON merge patch: objects merge, null deletes, everything else replaces. */
export function applyMergePatch(target: unknown, patch: unknown): unknown {
  if (!isPlainObject(patch)) return patch;
  const out: Record<string, unknown> = isPlainObject(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete out[key];
    else if (value !== undefined) out[key] = applyMergePatch(out[key], value);
  }
  return out;
}

/** True when merge-patching `current` with `patch` yields what is already there. */
export function isStatusUnchanged(current: unknown, patch: Record<string, unknown>): boolean {
  return deepEqual(applyMergePatch(current ?? {}, patch), current ?? {});
}

/**
 * A JSON merge patch turning `previous` into `next`: keys that disappeared
 * become null (merge patch cannot delete otherwise); lists are replaced whole.
 */
export function mergePatchFor(previous: object | undefined, next: object): Record<string, unknown> {
  const patch: Record<string, unknown> = { ...(next as Record<string, unknown>) };
  const prev = (previous ?? {}) as Record<string, unknown>;
  for (const key of Object.keys(prev)) {
    const before = prev[key];
    const after = patch[key];
    if (after === undefined) patch[key] = null;
    else if (isPlainObject(before) && isPlainObject(after)) patch[key] = mergePatchFor(before, after);
  }
  return patch;
}
