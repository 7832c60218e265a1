// JSON Patch (RFC 6902) derived by diffing a document against its mutated
// clone, so the mutator never hand-writes patch paths.
//
// Why not fast-json-patch's compare(): this is the only JSON-Patch code we
// need (generate add/remove/replace; the apiserver applies the patch, we never
// do), it is 70 lines with unit tests on the RFC 6901 escaping, and the
// library (3.1.1, last release 2022) would add a dependency whose risky part —
// applyPatch, with a prototype-pollution advisory fixed in 3.1.1 — we would
// not even use.

import { type JsonPatchOperation } from '../framework/index.js';

/** RFC 6901: "~" -> "~0", "/" -> "~1" (in that order). */
export function escapePointerToken(token: string): string {
  return token.replace(/~/g, '~0').replace(/\//g, '~1');
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b)) {
    if (a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!jsonEqual(a[i], b[i])) return false;
    return true;
  }
  if (isPlainObject(a) && isPlainObject(b)) {
    // members whose value is undefined count as absent (JSON drops them)
    let defined = 0;
    for (const k of Object.keys(a)) {
      if (a[k] === undefined) continue;
      defined++;
      if (!jsonEqual(a[k], b[k])) return false;
    }
    for (const k of Object.keys(b)) if (b[k] !== undefined) defined--;
    return defined === 0;
  }
  return false;
}

/** The operations that turn `before` into `after`. Objects and arrays are descended so a change stays local. */
export function diffToJsonPatch(before: unknown, after: unknown): JsonPatchOperation[] {
  const ops: JsonPatchOperation[] = [];
  diffInto(before, after, '', ops);
  return ops;
}

// Objects and arrays are not compared whole before descending: an equal
// subtree yields no operation anyway, and comparing at every level walked the
// document once per level of depth.
function diffInto(before: unknown, after: unknown, path: string, ops: JsonPatchOperation[]): void {
  if (before === after) return;
  if (isPlainObject(before) && isPlainObject(after)) {
    for (const key of Object.keys(before)) {
      if (before[key] !== undefined && after[key] === undefined) ops.push({ op: 'remove', path: `${path}/${escapePointerToken(key)}` });
    }
    for (const key of Object.keys(after)) {
      if (after[key] === undefined) continue;
      const child = `${path}/${escapePointerToken(key)}`;
      if (before[key] === undefined) ops.push({ op: 'add', path: child, value: after[key] as Json });
      else diffInto(before[key], after[key], child, ops);
    }
    return;
  }
  if (Array.isArray(before) && Array.isArray(after)) {
    diffArray(before, after, path, ops);
    return;
  }
  if (path === '') throw new Error('cannot patch the document root to a different type');
  ops.push({ op: 'replace', path, value: after as Json });
}

function diffArray(before: unknown[], after: unknown[], path: string, ops: JsonPatchOperation[]): void {
  let prefix = 0;
  while (prefix < before.length && prefix < after.length && jsonEqual(before[prefix], after[prefix])) prefix++;
  let suffix = 0;
  while (
    suffix < before.length - prefix &&
    suffix < after.length - prefix &&
    jsonEqual(before[before.length - 1 - suffix], after[after.length - 1 - suffix])
  ) suffix++;
  const removed = before.length - prefix - suffix;
  const added = after.length - prefix - suffix;
  const paired = Math.min(removed, added);
  for (let i = 0; i < paired; i++) diffInto(before[prefix + i], after[prefix + i], `${path}/${prefix + i}`, ops);
  // Extra elements of `before`: remove from the highest index down so earlier indexes stay valid.
  for (let i = removed - 1; i >= paired; i--) ops.push({ op: 'remove', path: `${path}/${prefix + i}` });
  for (let i = paired; i < added; i++) ops.push({ op: 'add', path: `${path}/${prefix + i}`, value: after[prefix + i] as Json });
}
