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

test.serial('parallel: a run of role and policy changes is written at most N at a time, in order in the result; other concerns wait their turn', async (t) => {
  let inFlight = 0;
  let most = 0;
  const order: string[] = [];
  const slow = (id: string) => async () => {
    inFlight++;
    most = Math.max(most, inFlight);
    order.push(`start ${id}`);
    await new Promise((r) => setTimeout(r, 20));
    inFlight--;
    order.push(`end ${id}`);
    return [204, ''] as [number, string];
  };
  const ids = Array.from({ length: 7 }, (_, i) => `p${i}`);
  for (const id of ids) nock(ADDRESS).put(`/v1/sys/policies/acl/${id}`).reply(slow(id));
  nock(ADDRESS).put('/v1/sys/mounts/m').reply(slow('mount'));
  const mount: Change = { concern: 'secret', action: 'create', id: 'm', writes: [{ method: 'PUT', path: 'sys/mounts/m', body: {} }], summary: 'm' };
  const result = await applyChanges(client(), [...ids.slice(0, 5).map(change), mount, ...ids.slice(5).map(change)], 3);
  t.deepEqual(result.applied.map((c) => c.id), ['p0', 'p1', 'p2', 'p3', 'p4', 'm', 'p5', 'p6']);
  t.is(most, 3, 'never more than 3 at once');
  const at = (s: string) => order.indexOf(s);
  t.true(at('start mount') > Math.max(...ids.slice(0, 5).map((id) => at(`end ${id}`))), 'the mount starts after the run before it ended');
  t.true(at('start p5') > at('end mount'), 'the run after it starts once it ended');
  t.true(nock.isDone());
});
