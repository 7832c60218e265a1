import test from 'ava';
import { DecryptDigests } from '../../../../operator/controllers/kmsvaultsecret/decrypt-digests.js';

const c = (text: string, context?: Record<string, string>) => ({ ciphertext: new Uint8Array(Buffer.from(text)), context });

test('a remembered ciphertext matches only its own plaintext, and only under the same context', (t) => {
  const d = new DecryptDigests();
  t.false(d.matches(c('blob'), 'v'), 'unknown ciphertext');
  d.remember(c('blob', { a: '1', b: '2' }), 'v');
  t.true(d.matches(c('blob', { b: '2', a: '1' }), 'v'), 'context key order does not matter');
  t.false(d.matches(c('blob', { a: '1', b: '2' }), 'v2'));
  t.false(d.matches(c('blob', { a: '1' }), 'v'));
  t.false(d.matches(c('blob'), 'v'));
  t.false(d.matches(c('blob', { a: '1', b: '2' }), 1), 'non-string Vault values never match');
});

test('keeps no plaintext and no ciphertext; bounded, least recently used dropped first', (t) => {
  const d = new DecryptDigests(2);
  d.remember(c('one'), 'plain-one');
  d.remember(c('two'), 'plain-two');
  t.true(d.matches(c('one'), 'plain-one')); // now most recently used
  d.remember(c('three'), 'plain-three');
  t.is(d.size, 2);
  t.true(d.matches(c('one'), 'plain-one'));
  t.false(d.matches(c('two'), 'plain-two'), 'evicted');
  const dump = JSON.stringify([...Object.values(d)]) + String(Object.getOwnPropertyNames(d));
  t.notRegex(dump, /plain|one|three/);
});

test('digests are keyed per instance: another process cannot recompute them', (t) => {
  const a = new DecryptDigests();
  const b = new DecryptDigests();
  a.remember(c('x'), 'v');
  t.false(b.matches(c('x'), 'v'));
});
