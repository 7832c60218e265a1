import test from 'ava';
import nock from 'nock';
import { VaultClient, VaultError } from '../../../../operator/vault/client.js';
import {
  deleteKv,
  detectMount,
  kvApiPaths,
  kvDataMatches,
  locateInMount,
  logicalPath,
  normaliseSecretPath,
  readKv,
  writeKv,
} from '../../../../operator/vault/kv.js';

const ADDR = 'http://vault.test:8200';
const client = () => new VaultClient({ address: ADDR, auth: { method: 'token', token: 't0k' } });

test.before(() => nock.disableNetConnect());
test.afterEach.always(() => nock.cleanAll());
test.after.always(() => nock.enableNetConnect());

test.serial('normaliseSecretPath trims slashes and refuses empty and dot segments', (t) => {
  t.is(normaliseSecretPath('/secret/a/b/'), 'secret/a/b');
  t.is(normaliseSecretPath('secret//b'), undefined);
  t.is(normaliseSecretPath('secret/../b'), undefined);
});

test.serial('locateInMount and kvApiPaths for v1 and v2', (t) => {
  const v1 = locateInMount('kv/ns/app', 'kv/', 'v1')!;
  t.deepEqual(kvApiPaths(v1), { data: 'kv/ns/app', delete: 'kv/ns/app' });
  const v2 = locateInMount('secret/data/ns/app', 'secret', 'v2')!;
  t.deepEqual(kvApiPaths(v2), { data: 'secret/data/ns/app', delete: 'secret/metadata/ns/app' });
  t.is(logicalPath(v2), 'secret/ns/app');
  t.is(locateInMount('other/ns/app', 'secret', 'v2'), undefined);
  t.is(locateInMount('secret', 'secret', 'v2'), undefined);
  t.is(locateInMount('secret/data', 'secret', 'v2')!.secretPath, 'data', 'a secret named "data" is still a secret');
  // v1 keeps a literal data/ segment: it is part of the secret's name there
  t.is(locateInMount('kv/data/x', 'kv', 'v1')!.secretPath, 'data/x');
});

test.serial('kvDataMatches compares keys and string values exactly', (t) => {
  t.true(kvDataMatches({ a: '1', b: '' }, { a: '1', b: '' }));
  t.false(kvDataMatches(undefined, { a: '1' }));
  t.false(kvDataMatches({ a: '1' }, { a: '2' }));
  t.false(kvDataMatches({ a: '1', extra: 'x' }, { a: '1' }));
  t.false(kvDataMatches({ a: 1 }, { a: '1' }), 'a number written by hand is drift');
  t.false(kvDataMatches({ b: '1' }, { a: '1' }));
});

test.serial('detectMount reads sys/internal/ui/mounts and reports type and version', async (t) => {
  nock(ADDR)
    .get('/v1/sys/internal/ui/mounts/secret/ns/app')
    .matchHeader('x-vault-token', 't0k')
    .reply(200, { data: { path: 'secret/', type: 'kv', options: { version: '2' } } })
    .get('/v1/sys/internal/ui/mounts/kv/ns/app')
    .reply(200, { data: { path: 'kv/', type: 'kv', options: null } })
    .get('/v1/sys/internal/ui/mounts/transit/x')
    .reply(200, { data: { path: 'transit/', type: 'transit', options: null } })
    .get('/v1/sys/internal/ui/mounts/nothing/x')
    .reply(400, { errors: ['no mount'] });
  const c = client();
  t.deepEqual(await detectMount(c, 'secret/ns/app'), { path: 'secret', type: 'kv', version: 'v2' });
  t.deepEqual(await detectMount(c, '/kv/ns/app'), { path: 'kv', type: 'kv', version: 'v1' });
  t.deepEqual(await detectMount(c, 'transit/x'), { path: 'transit', type: 'transit', version: undefined });
  t.is(await detectMount(c, 'nothing/x'), undefined);
  t.true(nock.isDone());
});

test.serial('readKv v2 returns data and version; a missing or deleted secret has no data', async (t) => {
  nock(ADDR)
    .get('/v1/secret/data/ns/app')
    .reply(200, { data: { data: { a: '1' }, metadata: { version: 3 } } })
    .get('/v1/secret/data/ns/gone')
    .reply(404, { data: { data: null, metadata: { version: 4, deletion_time: '2026-01-01T00:00:00Z' } } })
    .get('/v1/secret/data/ns/never')
    .reply(404, { errors: [] });
  const c = client();
  const loc = (p: string) => ({ mount: 'secret', version: 'v2' as const, secretPath: p });
  t.deepEqual(await readKv(c, loc('ns/app')), { data: { a: '1' }, version: 3 });
  t.deepEqual(await readKv(c, loc('ns/gone')), { version: 4 });
  t.deepEqual(await readKv(c, loc('ns/never')), { version: 0 });
});

test.serial('readKv v1', async (t) => {
  nock(ADDR).get('/v1/kv/ns/app').reply(200, { data: { a: '1' } }).get('/v1/kv/ns/none').reply(404, { errors: [] });
  const c = client();
  t.deepEqual(await readKv(c, { mount: 'kv', version: 'v1', secretPath: 'ns/app' }), { data: { a: '1' } });
  t.deepEqual(await readKv(c, { mount: 'kv', version: 'v1', secretPath: 'ns/none' }), {});
});

test.serial('writeKv v2 wraps data and sends check-and-set; v1 writes the map as is', async (t) => {
  const bodies: unknown[] = [];
  nock(ADDR)
    .put('/v1/secret/data/ns/app', (b) => (bodies.push(b), true))
    .reply(200, { data: { version: 2 } })
    .put('/v1/kv/ns/app', (b) => (bodies.push(b), true))
    .reply(204);
  const c = client();
  await writeKv(c, { mount: 'secret', version: 'v2', secretPath: 'ns/app' }, { a: '1' }, { cas: 1 });
  await writeKv(c, { mount: 'kv', version: 'v1', secretPath: 'ns/app' }, { a: '1' });
  t.deepEqual(bodies, [{ data: { a: '1' }, options: { cas: 1 } }, { a: '1' }]);
  t.is(c.stats.writes, 2);
});

test.serial('writeKv surfaces a check-and-set conflict as a VaultError', async (t) => {
  nock(ADDR).put('/v1/secret/data/ns/app').reply(400, { errors: ['check-and-set parameter did not match the current version'] });
  const err = await t.throwsAsync(writeKv(client(), { mount: 'secret', version: 'v2', secretPath: 'ns/app' }, { a: 's3cr3t' }, { cas: 0 }));
  t.true(err instanceof VaultError);
  t.is((err as VaultError).status, 400);
  t.notRegex(err!.message, /s3cr3t/);
});

test.serial('deleteKv removes v2 metadata (all versions) and tolerates absence', async (t) => {
  nock(ADDR).delete('/v1/secret/metadata/ns/app').reply(204).delete('/v1/kv/ns/app').reply(404, { errors: [] });
  const c = client();
  await deleteKv(c, { mount: 'secret', version: 'v2', secretPath: 'ns/app' });
  await deleteKv(c, { mount: 'kv', version: 'v1', secretPath: 'ns/app' });
  t.true(nock.isDone());
});

test.serial('an unreachable Vault is reported as such', async (t) => {
  nock.enableNetConnect('127.0.0.1:9');
  const closed = new VaultClient({ address: 'http://127.0.0.1:9', auth: { method: 'token', token: 't' } });
  const err = await t.throwsAsync(detectMount(closed, 'secret/x'));
  t.true((err as VaultError).unreachable);
});
