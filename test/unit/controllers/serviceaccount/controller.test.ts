import test from 'ava';
import { VaultWaiters } from '../../../../operator/controllers/serviceaccount/controller.js';

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
