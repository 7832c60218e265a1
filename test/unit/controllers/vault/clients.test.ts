import test from 'ava';
import { VaultClientCache } from '../../../../operator/controllers/vault/clients.js';

test('clients are kept per Vault resource and dropped whole when it is deleted', (t) => {
  const cache = new VaultClientCache();
  const a = cache.of('ns', 'a');
  const node = a.node('https://a-0:8200', undefined);
  const config = a.config('https://a-0:8200', undefined, { method: 'token', token: 't' }, 't');
  t.is(a.node('https://a-0:8200', undefined), node, 'the same node client on the next reconcile');
  t.is(cache.of('ns', 'a').config('https://a-0:8200', undefined, { method: 'token', token: 't' }, 't'), config);
  t.not(cache.of('ns', 'b').node('https://a-0:8200', undefined), node, 'another Vault resource has its own clients');
  t.is(cache.of('ns', 'a').size + cache.of('ns', 'b').size, 3, 'one node and one configuration client for a, one node client for b');
  t.is(cache.vaults, 2);

  cache.forget('ns', 'a');
  t.is(cache.vaults, 1);
  t.false(cache.has('ns', 'a'));
  t.true(cache.has('ns', 'b'));
  t.not(cache.of('ns', 'a').node('https://a-0:8200', undefined), node, 'a re-created Vault of the same name starts afresh');
  t.is(cache.of('ns', 'b').size, 1, 'the other Vault keeps its clients');
});

test('KMS clients are shared per region across Vault resources', (t) => {
  const cache = new VaultClientCache();
  let made = 0;
  const make = () => {
    made++;
    return {} as never;
  };
  const first = cache.of('ns', 'a').kms('eu-west-1', make);
  t.is(cache.of('ns', 'b').kms('eu-west-1', make), first);
  cache.of('ns', 'a').kms(undefined, make);
  t.is(made, 2);
});
