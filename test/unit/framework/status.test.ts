import test from 'ava';
import { canonicalJson, deepEqual, applyMergePatch, isStatusUnchanged } from '../../../operator/framework/status.js';

const equalCases: Array<[string, unknown, unknown, boolean]> = [
  ['same primitives', 1, 1, true],
  ['different primitives', 1, '1', false],
  ['nested equal objects, different key order', { a: { b: [1, { c: 2 }] }, d: 'x' }, { d: 'x', a: { b: [1, { c: 2 }] } }, true],
  ['array order matters', [1, 2], [2, 1], false],
  ['extra key', { a: 1 }, { a: 1, b: 2 }, false],
  ['undefined values count as absent', { a: 1, b: undefined }, { a: 1 }, true],
  ['null vs object', null, {}, false],
  ['array vs object', [], {}, false],
];
for (const [name, a, b, expected] of equalCases) {
  test(`deepEqual: ${name}`, (t) => t.is(deepEqual(a, b), expected));
}

test('applyMergePatch follows RFC 7386', (t) => {
  t.deepEqual(applyMergePatch({ a: 'b', c: { d: 'e', f: 'g' } }, { a: 'z', c: { f: null } }), { a: 'z', c: { d: 'e' } });
  t.deepEqual(applyMergePatch({ a: [1, 2] }, { a: [3] }), { a: [3] });
  t.deepEqual(applyMergePatch(undefined, { a: 1 }), { a: 1 });
  t.deepEqual(applyMergePatch({ a: 1 }, { b: undefined }), { a: 1 });
});

const unchangedCases: Array<[string, unknown, Record<string, unknown>, boolean]> = [
  ['identical status', { phase: 'Ready', conditions: [{ type: 'Ready', status: 'True' }] }, { phase: 'Ready', conditions: [{ type: 'Ready', status: 'True' }] }, true],
  ['subset patch already applied', { phase: 'Ready', observedGeneration: 2 }, { observedGeneration: 2 }, true],
  ['changed field', { phase: 'Ready' }, { phase: 'Failed' }, false],
  ['null deletes an existing field', { phase: 'Ready', message: 'x' }, { message: null }, false],
  ['null for an absent field is a no-op', { phase: 'Ready' }, { message: null }, true],
  ['no status yet', undefined, { phase: 'Ready' }, false],
  ['condition message changed', { conditions: [{ type: 'Ready', message: 'a' }] }, { conditions: [{ type: 'Ready', message: 'b' }] }, false],
];
for (const [name, current, patch, expected] of unchangedCases) {
  test(`isStatusUnchanged: ${name}`, (t) => t.is(isStatusUnchanged(current, patch), expected));
}

test('canonicalJson: one text whatever the key order, list order kept', (t) => {
  t.is(canonicalJson({ b: 1, a: { d: [{ y: 1, x: 2 }], c: null } }), '{"a":{"c":null,"d":[{"x":2,"y":1}]},"b":1}');
  t.is(canonicalJson({ roles: ['k/r'], auth: ['k'] }), canonicalJson({ auth: ['k'], roles: ['k/r'] }));
  t.not(canonicalJson(['a', 'b']), canonicalJson(['b', 'a']));
  t.is(canonicalJson({ a: undefined, b: 1 }), '{"b":1}');
});
