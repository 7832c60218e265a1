import test from 'ava';
import { KmsVaultSecretReason, NAMESPACE_CONTEXT_KEY } from '../../../../operator/api/kmsvaultsecret.js';
import {
  acceptsUnbound,
  checkNamespaceBinding,
  checkPathSyntax,
  checkTenancy,
  collectKeys,
  decodeBase64Strict,
  decodeKeys,
  failedStatus,
  failureEvents,
  resolveLocation,
  staleLocation,
  summariseDecryptFailures,
  unexpectedFailure,
  syncedStatus,
  syncEvents,
  vaultFailure,
  writeCause,
  WriteCause,
} from '../../../../operator/controllers/kmsvaultsecret/plan.js';
import { PathPolicy } from '../../../../operator/controllers/kmsvaultsecret/settings.js';
import { KmsFailure } from '../../../../operator/kms/decryptor.js';
import type { KvLocation } from '../../../../operator/vault/kv.js';
import { aKmsVaultSecret, aPartial, aSecret } from './builders.js';

const v2Loc: KvLocation = { mount: 'secret', version: 'v2', secretPath: 'team-a/app' };
const now = new Date('2026-11-28T07:00:00.000Z');
const later = new Date('2026-11-28T07:05:00.000Z');

test('collectKeys merges spec keys and included partials in order', (t) => {
  const obj = aKmsVaultSecret({ secrets: [aSecret('a')], includeSecrets: ['p1', 'p2'] });
  const result = collectKeys(obj, new Map([['p1', aPartial('p1')], ['p2', aPartial('p2')]]));
  t.true(result.ok);
  if (!result.ok) return;
  t.deepEqual(result.value.map((k) => [k.key, k.source]), [
    ['a', 'spec.secrets'],
    ['p1-key', 'PartialKMSVaultSecret/p1'],
    ['p2-key', 'PartialKMSVaultSecret/p2'],
  ]);
});

test('collectKeys: context precedence is key, then defining resource, then including object', (t) => {
  const obj = aKmsVaultSecret({
    secretContext: { scope: 'parent' },
    secrets: [aSecret('own'), aSecret('override', { secretContext: { scope: 'key' } })],
    includeSecrets: ['withctx', 'noctx'],
  });
  const partials = new Map([
    ['withctx', aPartial('withctx', { secretContext: { scope: 'partial' } })],
    ['noctx', aPartial('noctx')],
  ]);
  const result = collectKeys(obj, partials);
  if (!result.ok) return t.fail(result.failure.message);
  const ctx = Object.fromEntries(result.value.map((k) => [k.key, k.context?.scope]));
  t.deepEqual(ctx, { own: 'parent', override: 'key', 'withctx-key': 'partial', 'noctx-key': 'parent' });
});

test('collectKeys: an empty context counts as none', (t) => {
  const obj = aKmsVaultSecret({ secretContext: {}, secrets: [aSecret('a', { secretContext: {} })] });
  const result = collectKeys(obj, new Map());
  if (!result.ok) return t.fail();
  t.is(result.value[0]!.context, undefined);
});

test('collectKeys reports every missing include by name', (t) => {
  const obj = aKmsVaultSecret({ includeSecrets: ['there', 'gone', 'also-gone'] });
  const result = collectKeys(obj, new Map([['there', aPartial('there')]]));
  if (result.ok) return t.fail();
  t.is(result.failure.reason, KmsVaultSecretReason.IncludeNotFound);
  t.regex(result.failure.message, /"gone".*"also-gone".*namespace team-a/);
  t.notRegex(result.failure.message, /"there"/);
  t.false(result.failure.transient);
});

test('collectKeys reports a key defined twice and where', (t) => {
  const obj = aKmsVaultSecret({ secrets: [aSecret('shared')], includeSecrets: ['p'] });
  const result = collectKeys(obj, new Map([['p', aPartial('p', { secrets: [aSecret('shared'), aSecret('fine')] })]]));
  if (result.ok) return t.fail();
  t.is(result.failure.reason, KmsVaultSecretReason.DuplicateKey);
  t.regex(result.failure.message, /key "shared" is defined in spec\.secrets and PartialKMSVaultSecret\/p/);
  t.notRegex(result.failure.message, /"fine"/);
});

test('collectKeys: naming the same partial twice is not a duplicate', (t) => {
  const obj = aKmsVaultSecret({ secrets: [], includeSecrets: ['p', 'p'] });
  const result = collectKeys(obj, new Map([['p', aPartial('p')]]));
  t.true(result.ok);
});

test('decodeBase64Strict accepts wrapped base64 and refuses anything else', (t) => {
  t.deepEqual(Buffer.from(decodeBase64Strict('aGVs\nbG8=')!).toString(), 'hello');
  t.is(decodeBase64Strict('not base64!'), undefined);
  t.is(decodeBase64Strict('aGVsbG8'), undefined, 'missing padding');
  t.is(decodeBase64Strict(''), undefined);
  t.is(decodeBase64Strict('aGVs_G8='), undefined, 'url-safe alphabet is not what KMS prints');
});

test('decodeKeys reports every undecodable key without any value', (t) => {
  const obj = aKmsVaultSecret({
    secrets: [
      aSecret('good'),
      aSecret('bad1', { encryptedSecret: '%%%plain-looking-value%%%' }),
      aSecret('missing', { encryptedSecret: undefined }),
      aSecret('empty', { encryptedSecret: undefined, emptySecret: true }),
    ],
  });
  const keys = collectKeys(obj, new Map());
  if (!keys.ok) return t.fail();
  const result = decodeKeys(keys.value);
  if (result.ok) return t.fail();
  t.is(result.failure.reason, KmsVaultSecretReason.DecodingFailed);
  t.regex(result.failure.message, /key "bad1".*not valid base64/);
  t.regex(result.failure.message, /key "missing".*emptySecret/);
  t.notRegex(result.failure.message, /plain-looking-value/);
  t.notRegex(result.failure.message, /"good"|"empty"/);
});

test('decodeKeys: emptySecret yields no ciphertext', (t) => {
  const obj = aKmsVaultSecret({ secrets: [aSecret('e', { emptySecret: true }), aSecret('x')] });
  const keys = collectKeys(obj, new Map());
  if (!keys.ok) return t.fail();
  const result = decodeKeys(keys.value);
  if (!result.ok) return t.fail();
  t.is(result.value[0]!.ciphertext, undefined);
  t.is(Buffer.from(result.value[1]!.ciphertext!).toString(), 'ciphertext-of-x');
});

test('resolveLocation: KV v2 mount, path with or without data/', (t) => {
  const mount = { path: 'secret', type: 'kv', version: 'v2' as const };
  for (const path of ['secret/team-a/app', 'secret/data/team-a/app', '/secret/team-a/app/']) {
    const r = resolveLocation(aKmsVaultSecret({ path }), mount);
    if (!r.ok) return t.fail(r.failure.message);
    t.deepEqual(r.value, v2Loc, path);
  }
});

test('resolveLocation refuses a missing mount, a non-KV mount and a version mismatch', (t) => {
  const obj = aKmsVaultSecret({ kvSettings: { engineVersion: 'v1' } });
  const none = resolveLocation(obj, undefined);
  t.false(none.ok);
  const notKv = resolveLocation(obj, { path: 'secret', type: 'transit', version: undefined });
  if (notKv.ok) return t.fail();
  t.regex(notKv.failure.message, /"transit".*not a KV engine/);
  const mismatch = resolveLocation(obj, { path: 'secret', type: 'kv', version: 'v2' });
  if (mismatch.ok) return t.fail();
  t.is(mismatch.failure.reason, KmsVaultSecretReason.MountMismatch);
  t.regex(mismatch.failure.message, /KV v2 mount but kvSettings\.engineVersion is v1/);
});

test('resolveLocation handles multi-segment mounts', (t) => {
  const r = resolveLocation(aKmsVaultSecret({ path: 'kv/teams/team-a/db', kvSettings: { engineVersion: 'v1' } }), {
    path: 'kv/teams',
    type: 'kv',
    version: 'v1',
  });
  if (!r.ok) return t.fail();
  t.deepEqual(r.value, { mount: 'kv/teams', version: 'v1', secretPath: 'team-a/db' });
});

test('checkTenancy: namespace policy allows only <mount>/<namespace>/', (t) => {
  t.is(checkTenancy(v2Loc, 'team-a', PathPolicy.Namespace), undefined);
  const other = checkTenancy(v2Loc, 'team-b', PathPolicy.Namespace);
  t.is(other?.reason, KmsVaultSecretReason.PathNotAllowed);
  t.regex(other!.message, /outside secret\/team-b\//);
  // a namespace that is a prefix of another is not enough
  t.truthy(checkTenancy({ ...v2Loc, secretPath: 'team-ab/app' }, 'team-a', PathPolicy.Namespace));
  // the namespace folder itself is not a secret inside it
  t.truthy(checkTenancy({ ...v2Loc, secretPath: 'team-a' }, 'team-a', PathPolicy.Namespace));
  t.is(checkTenancy({ ...v2Loc, secretPath: 'elsewhere' }, 'team-a', PathPolicy.Any), undefined);
});

test('checkPathSyntax refuses traversal and bare mounts', (t) => {
  t.is(checkPathSyntax('secret/team-a/app'), undefined);
  for (const bad of ['secret/team-a/../team-b/x', 'secret//x', 'secret', 'secret/./x']) {
    t.is(checkPathSyntax(bad)?.reason, KmsVaultSecretReason.PathNotAllowed, bad);
  }
});

test('summariseDecryptFailures: names each key and its likely cause', (t) => {
  const f = summariseDecryptFailures([
    { key: 'a', failure: KmsFailure.InvalidCiphertext, hasContext: true },
    { key: 'b', failure: KmsFailure.AccessDenied, hasContext: false },
    { key: 'c', failure: KmsFailure.WrongKey, hasContext: false },
  ]);
  t.is(f.reason, KmsVaultSecretReason.DecryptionFailed);
  t.false(f.transient);
  t.regex(f.message, /key "a": .*encryption context/);
  t.regex(f.message, /key "b": .*denied/);
  t.regex(f.message, /key "c": .*key the operator does not accept/);
});

test('unexpectedFailure: an unforeseen error is still a condition, one line, retried', (t) => {
  const f = unexpectedFailure(Object.assign(new Error('partialkmsvaultsecrets is forbidden\nmore detail'), { code: 403 }));
  t.is(f.reason, KmsVaultSecretReason.SyncError);
  t.is(f.message, 'Kubernetes API error 403: partialkmsvaultsecrets is forbidden; will retry');
  t.true(f.transient);
});

test('summariseDecryptFailures: missing AWS credentials say how to provide them', (t) => {
  const f = summariseDecryptFailures([
    { key: 'a', failure: KmsFailure.NotConfigured, hasContext: false },
    { key: 'b', failure: KmsFailure.Unreachable, hasContext: false },
  ]);
  t.is(f.reason, KmsVaultSecretReason.KMSNotConfigured);
  t.regex(f.message, /no AWS credentials/);
});

test('summariseDecryptFailures: an unreachable KMS is transient and reported first', (t) => {
  const f = summariseDecryptFailures([
    { key: 'a', failure: KmsFailure.InvalidCiphertext, hasContext: false },
    { key: 'b', failure: KmsFailure.Unreachable, hasContext: false },
  ]);
  t.is(f.reason, KmsVaultSecretReason.KMSUnreachable);
  t.true(f.transient);
  t.regex(f.message, /"b"/);
});

test('vaultFailure distinguishes unreachable from refused', (t) => {
  const down = vaultFailure({ unreachable: true, message: 'ECONNREFUSED' }, 'read', 'secret/x');
  t.is(down.reason, KmsVaultSecretReason.VaultUnreachable);
  const denied = vaultFailure({ unreachable: false, status: 403, message: 'permission denied' }, 'write', 'secret/x');
  t.is(denied.reason, KmsVaultSecretReason.VaultWriteFailed);
  t.regex(denied.message, /writing "secret\/x".*policy/);
  t.is(vaultFailure({ unreachable: false, status: 500, message: 'x' }, 'delete', 'p').reason, KmsVaultSecretReason.VaultDeleteFailed);
});

test('writeCause: none when in sync; created, changed, drift otherwise', (t) => {
  const fresh = aKmsVaultSecret();
  t.is(writeCause(fresh, true, true, v2Loc), undefined);
  t.is(writeCause(fresh, false, false, v2Loc), WriteCause.Created);
  t.is(writeCause(fresh, true, false, v2Loc), WriteCause.Changed);
  const synced = { ...fresh, status: syncedStatus(fresh, v2Loc, ['password'], true, now) };
  t.is(writeCause(synced, true, false, v2Loc), WriteCause.Drift);
  const edited = { ...synced, metadata: { ...synced.metadata, generation: 2 } };
  t.is(writeCause(edited, true, false, v2Loc), WriteCause.Changed);
});

test('syncedStatus is stable when nothing changed (no status write in steady state)', (t) => {
  const obj = aKmsVaultSecret();
  const first = syncedStatus(obj, v2Loc, ['b', 'a'], true, now);
  t.is(first.lastSyncTime, '2026-11-28T07:00:00Z');
  t.deepEqual(first.keys, ['a', 'b']);
  t.is(first.vaultPath, 'secret/team-a/app');
  const again = syncedStatus({ ...obj, status: first }, v2Loc, ['a', 'b'], false, later);
  t.deepEqual(again, first);
  const rewritten = syncedStatus({ ...obj, status: first }, v2Loc, ['a', 'b'], true, later);
  t.is(rewritten.lastSyncTime, '2026-11-28T07:05:00Z');
});

test('failedStatus keeps where the data is and moves lastTransitionTime only on change', (t) => {
  const obj = aKmsVaultSecret();
  const synced = { ...obj, status: syncedStatus(obj, v2Loc, ['a'], true, now) };
  const failure = { reason: KmsVaultSecretReason.DecryptionFailed, message: 'key "a": x', transient: false };
  const failed = failedStatus(synced, failure, later);
  t.is(failed.vaultPath, 'secret/team-a/app');
  const ready = failed.conditions!.find((c) => c.type === 'Ready')!;
  t.is(ready.status, 'False');
  t.is(ready.reason, 'DecryptionFailed');
  t.is(ready.lastTransitionTime, '2026-11-28T07:05:00Z');
  const again = failedStatus({ ...obj, status: failed }, failure, new Date('2026-11-28T08:00:00Z'));
  t.deepEqual(again, failed);
});

test('events: a Warning once per distinct failure, Recovered after it, SecretWritten on writes', (t) => {
  const obj = aKmsVaultSecret();
  const failure = { reason: KmsVaultSecretReason.VaultUnreachable, message: 'down', transient: true };
  t.deepEqual(failureEvents(obj, failure).map((e) => [e.type, e.reason]), [['Warning', 'VaultUnreachable']]);
  const failing = { ...obj, status: failedStatus(obj, failure, now) };
  t.deepEqual(failureEvents(failing, failure), []);
  t.is(failureEvents(failing, { ...failure, message: 'other' }).length, 1);
  t.deepEqual(syncEvents(failing, v2Loc, 1, undefined).map((e) => e.reason), ['Recovered']);
  const synced = { ...obj, status: syncedStatus(obj, v2Loc, ['a'], true, now) };
  t.deepEqual(syncEvents(synced, v2Loc, 1, undefined), []);
  const drift = syncEvents(synced, v2Loc, 1, WriteCause.Drift);
  t.is(drift.length, 1);
  t.regex(drift[0]!.message, /restored/);
});

test('staleLocation: only when the path moved and the policy is Delete', (t) => {
  const obj = aKmsVaultSecret();
  const synced = { ...obj, status: syncedStatus(obj, v2Loc, ['a'], true, now) };
  t.is(staleLocation(synced, v2Loc), undefined);
  const moved: KvLocation = { ...v2Loc, secretPath: 'team-a/other' };
  t.deepEqual(staleLocation(synced, moved), { path: 'secret/team-a/app', mount: 'secret', version: 'v2' });
  const retain = { ...synced, spec: { ...synced.spec, deletionPolicy: 'Retain' as const } };
  t.is(staleLocation(retain, moved), undefined);
  t.is(staleLocation(obj, moved), undefined, 'never synced: nothing to clean');
});

test('precheckTenancy needs no Vault: the namespace must be a folder in the path', async (t) => {
  const { precheckTenancy } = await import('../../../../operator/controllers/kmsvaultsecret/plan.js');
  t.is(precheckTenancy('secret/team-a/app', 'team-a', PathPolicy.Namespace), undefined);
  t.is(precheckTenancy('kv/teams/team-a/app', 'team-a', PathPolicy.Namespace), undefined);
  t.is(precheckTenancy('secret/team-b/app', 'team-a', PathPolicy.Namespace)?.reason, KmsVaultSecretReason.PathNotAllowed);
  t.truthy(precheckTenancy('secret/app/team-a', 'team-a', PathPolicy.Namespace), 'the last segment is the secret, not a folder');
  t.is(precheckTenancy('secret/x', 'team-a', PathPolicy.Any), undefined);
});

test('checkNamespaceBinding: every key must name the object\'s namespace; legacy namespaces accept none, never another', (t) => {
  const bound = { [NAMESPACE_CONTEXT_KEY]: 'team-a' };
  const obj = aKmsVaultSecret({ secretContext: bound, secrets: [aSecret('a'), aSecret('e', { emptySecret: true })], includeSecrets: ['p'] });
  const partials = new Map([['p', aPartial('p')]]);
  const keys = collectKeys(obj, partials);
  if (!keys.ok) return t.fail();
  t.is(checkNamespaceBinding(keys.value, 'team-a', []), undefined, 'the partial inherits the binding');
  const foreign = collectKeys(aKmsVaultSecret({ secrets: [aSecret('x', { secretContext: { [NAMESPACE_CONTEXT_KEY]: 'team-b' } }), aSecret('y')] }), new Map());
  if (!foreign.ok) return t.fail();
  const f = checkNamespaceBinding(foreign.value, 'team-a', []);
  t.is(f?.reason, KmsVaultSecretReason.NamespaceMismatch);
  t.false(f?.transient);
  t.regex(f?.message ?? '', /"x" \(spec\.secrets\) was sealed for namespace "team-b", not "team-a".*"y" \(spec\.secrets\) has no vault\.autopilot\.dev\/namespace/);
  t.regex(checkNamespaceBinding(foreign.value, 'team-a', ['team-a'])?.message ?? '', /^"x"[^;]*team-b[^;]*; seal again/, 'legacy: the unbound key passes, the foreign one does not');
  t.true(acceptsUnbound('x', ['*']));
  t.false(acceptsUnbound('x', ['y']));
  const empty = collectKeys(aKmsVaultSecret({ secrets: [aSecret('e', { emptySecret: true })] }), new Map());
  if (!empty.ok) return t.fail();
  t.is(checkNamespaceBinding(empty.value, 'team-a', []), undefined, 'an empty key has no ciphertext to bind');
});
