// An independent RFC 6902 applier (add/remove/replace) used to check that the
// diff-derived patches really turn the original into the mutated document.
import type { JsonPatchOperation } from '../../../../operator/framework/admission.js';

function unescape(token: string): string {
  return token.replace(/~1/g, '/').replace(/~0/g, '~');
}

export function applyPatch<T>(doc: T, ops: JsonPatchOperation[]): T {
  let root: unknown = structuredClone(doc);
  for (const op of ops) {
    if (!op.path.startsWith('/')) throw new Error(`bad path ${op.path}`);
    const tokens = op.path.slice(1).split('/').map(unescape);
    const last = tokens.pop()!;
    let parent: unknown = root;
    for (const t of tokens) {
      if (Array.isArray(parent)) parent = parent[Number(t)];
      else if (parent && typeof parent === 'object') parent = (parent as Record<string, unknown>)[t];
      if (parent === undefined) throw new Error(`path not found: ${op.path}`);
    }
    if (Array.isArray(parent)) {
      const index = last === '-' ? parent.length : Number(last);
      if (!Number.isInteger(index) || index < 0 || index > parent.length) throw new Error(`bad index ${op.path}`);
      if (op.op === 'add') parent.splice(index, 0, structuredClone(op.value));
      else if (op.op === 'remove') {
        if (index >= parent.length) throw new Error(`remove past end ${op.path}`);
        parent.splice(index, 1);
      } else {
        if (index >= parent.length) throw new Error(`replace past end ${op.path}`);
        parent[index] = structuredClone(op.value);
      }
    } else if (parent && typeof parent === 'object') {
      const obj = parent as Record<string, unknown>;
      if (op.op !== 'add' && !(last in obj)) throw new Error(`${op.op} of missing member ${op.path}`);
      if (op.op === 'remove') delete obj[last];
      else obj[last] = structuredClone(op.value);
    } else throw new Error(`parent is not a container: ${op.path}`);
    void root;
  }
  return root as T;
}
