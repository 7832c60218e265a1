import test from 'ava';
import { KeyedMutex, VaultWaiters } from '../../../../operator/controllers/serviceaccount/controller.js';

test('VaultWaiters: a ServiceAccount waits for one Vault at a time and stops waiting once settled', (t) => {
  const w = new VaultWaiters();
  w.wait('ops/vault', 'shop/orders');
  w.wait('ops/vault', 'shop/cart');
  t.deepEqual(w.waitingFor('ops/vault').sort(), ['shop/cart', 'shop/orders']);
  // retargeted: waits for the new one only
  w.wait('team/vault', 'shop/orders');
  t.deepEqual(w.waitingFor('ops/vault'), ['shop/cart']);
  t.deepEqual(w.waitingFor('team/vault'), ['shop/orders']);
  w.settle('shop/cart');
  t.deepEqual(w.waitingFor('ops/vault'), []);
  w.settle('nobody/here');
  t.deepEqual(w.waitingFor('team/vault'), ['shop/orders']);
});

test('KeyedMutex: one run at a time per key, keys independent, a failure does not block the next', async (t) => {
  const m = new KeyedMutex();
  const log: string[] = [];
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const a1 = m.run('a', async () => {
    log.push('a1 start');
    await gate;
    log.push('a1 end');
    throw new Error('boom');
  });
  const a2 = m.run('a', async () => {
    log.push('a2');
    return 2;
  });
  const b = m.run('b', async () => {
    log.push('b');
    return 'b';
  });
  t.is(await b, 'b');
  t.deepEqual(log, ['a1 start', 'b']);
  release();
  await t.throwsAsync(a1, { message: 'boom' });
  t.is(await a2, 2);
  t.deepEqual(log, ['a1 start', 'b', 'a1 end', 'a2']);
});
