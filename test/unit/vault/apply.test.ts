// applyChanges against a Vault answering through nock: what Vault cannot do
// on demand (a 400 for one entry, a 503).
import test from 'ava';
import nock from 'nock';
import { VaultClient } from '../../../operator/vault/client.js';
import { applyChanges, type Change } from '../../../operator/vault/config-plan.js';

const ADDRESS = 'http://vault.test:8200';
const client = () => new VaultClient({ address: ADDRESS, auth: { method: 'token', token: 't' } });
const change = (id: string): Change => ({ concern: 'policy', action: 'create', id, writes: [{ method: 'PUT', path: `sys/policies/acl/${id}`, body: { policy: 'x' } }], summary: id });

test.afterEach.always(() => nock.cleanAll());

test.serial('a refused entry is recorded with Vault\'s error and the next one still runs', async (t) => {
  nock(ADDRESS).put('/v1/sys/policies/acl/bad').reply(400, { errors: ['failed to parse policy'] });
  nock(ADDRESS).put('/v1/sys/policies/acl/good').reply(204);
  const result = await applyChanges(client(), [change('bad'), change('good')]);
  t.deepEqual(result.applied.map((c) => c.id), ['good']);
  t.deepEqual(result.failed.map((f) => [f.change.id, f.error]), [['bad', 'failed to parse policy']]);
  t.true(nock.isDone());
});

test.serial('a 503 is not the entry\'s fault: the apply stops and throws for a retry', async (t) => {
  nock(ADDRESS).put('/v1/sys/policies/acl/a').reply(503, { errors: ['Vault is sealed'] });
  const c = client();
  await t.throwsAsync(applyChanges(c, [change('a'), change('b')]), { message: /503/ });
  t.is(c.stats.writes, 1, 'b was not attempted');
});
