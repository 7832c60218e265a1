import test from 'ava';
import { diffToJsonPatch, escapePointerToken, jsonEqual } from '../../../operator/webhook/json-patch.js';
import { applyPatch } from './helpers/apply-patch.js';

test('escapePointerToken follows RFC 6901 order (~ before /)', (t) => {
  t.is(escapePointerToken('vault.autopilot.dev/agent-inject-status'), 'vault.autopilot.dev~1agent-inject-status');
  t.is(escapePointerToken('a~/b'), 'a~0~1b');
  t.is(escapePointerToken('~1'), '~01');
});

const cases: Array<{ name: string; before: unknown; after: unknown; expected?: unknown[] }> = [
  { name: 'identical documents give no operations', before: { a: [1, { b: 2 }] }, after: { a: [1, { b: 2 }] }, expected: [] },
  {
    name: 'new annotation key is escaped',
    before: { metadata: { annotations: { x: '1' } } },
    after: { metadata: { annotations: { x: '1', 'p.dev/s': 'injected' } } },
    expected: [{ op: 'add', path: '/metadata/annotations/p.dev~1s', value: 'injected' }],
  },
  {
    name: 'insert at the front of an array is a single add at index 0',
    before: { l: [{ n: 'a' }, { n: 'b' }] },
    after: { l: [{ n: 'x' }, { n: 'a' }, { n: 'b' }] },
    expected: [{ op: 'add', path: '/l/0', value: { n: 'x' } }],
  },
  {
    name: 'append at the end of an array',
    before: { l: [1, 2] },
    after: { l: [1, 2, 3, 4] },
    expected: [
      { op: 'add', path: '/l/2', value: 3 },
      { op: 'add', path: '/l/3', value: 4 },
    ],
  },
  {
    name: 'change inside an array element descends into it',
    before: { c: [{ name: 'app', env: [{ name: 'A', value: '1' }] }] },
    after: { c: [{ name: 'app', env: [{ name: 'A', value: '1' }, { name: 'B', value: '2' }] }] },
    expected: [{ op: 'add', path: '/c/0/env/1', value: { name: 'B', value: '2' } }],
  },
  { name: 'missing member is added whole', before: { spec: {} }, after: { spec: { v: [1] } }, expected: [{ op: 'add', path: '/spec/v', value: [1] }] },
  { name: 'removed member', before: { a: 1, b: 2 }, after: { a: 1 }, expected: [{ op: 'remove', path: '/b' }] },
  { name: 'scalar replaced', before: { a: 1 }, after: { a: 'x' }, expected: [{ op: 'replace', path: '/a', value: 'x' }] },
  { name: 'removal from the middle and end', before: { l: [1, 2, 3, 4, 5] }, after: { l: [1, 5] } },
  { name: 'mixed replace and grow', before: { l: [1, 2, 3] }, after: { l: [9, 8, 7, 6, 3] } },
  { name: 'type change object -> array', before: { a: { b: 1 } }, after: { a: [1] } },
  { name: 'undefined members count as absent', before: { a: 1, u: undefined }, after: { a: 1 }, expected: [] },
];

for (const c of cases) {
  test(`diff: ${c.name}`, (t) => {
    const ops = diffToJsonPatch(c.before, c.after);
    if (c.expected) t.deepEqual(ops, c.expected);
    t.true(jsonEqual(applyPatch(c.before, ops), c.after), JSON.stringify(ops));
  });
}

test('diff round-trips on many random edits (property)', (t) => {
  let seed = 42;
  const rnd = (n: number): number => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  const randomValue = (depth: number): unknown => {
    const k = rnd(depth > 2 ? 3 : 5);
    if (k === 0) return rnd(5);
    if (k === 1) return ['a', 'b/c', 'd~e'][rnd(3)];
    if (k === 2) return null;
    if (k === 3) return Array.from({ length: rnd(4) }, () => randomValue(depth + 1));
    return Object.fromEntries(Array.from({ length: rnd(4) }, () => [['k', 'x/y', 'z~'][rnd(3)]!, randomValue(depth + 1)]));
  };
  const mutate = (v: unknown, depth: number): unknown => {
    if (rnd(4) === 0 || depth > 3) return randomValue(depth);
    if (Array.isArray(v)) {
      const copy = v.map((e) => (rnd(3) === 0 ? mutate(e, depth + 1) : e));
      if (rnd(2)) copy.splice(rnd(copy.length + 1), 0, randomValue(depth + 1));
      if (rnd(3) === 0 && copy.length) copy.splice(rnd(copy.length), 1);
      return copy;
    }
    if (v && typeof v === 'object') {
      const copy: Record<string, unknown> = { ...(v as Record<string, unknown>) };
      for (const key of Object.keys(copy)) if (rnd(3) === 0) copy[key] = mutate(copy[key], depth + 1);
      if (rnd(2)) copy[['n', 'a/b', '~'][rnd(3)]!] = randomValue(depth + 1);
      if (rnd(4) === 0) delete copy[Object.keys(copy)[0]!];
      return copy;
    }
    return randomValue(depth);
  };
  for (let i = 0; i < 500; i++) {
    const before = { root: randomValue(0) };
    const after = { root: mutate(before.root, 0) };
    const ops = diffToJsonPatch(before, after);
    t.true(jsonEqual(applyPatch(before, ops), after), `case ${i}: ${JSON.stringify({ before, after, ops })}`);
  }
});
