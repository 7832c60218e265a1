// KMSVaultSecret against a real kube-apiserver, Vault and local-kms: round
// trips, updates, partials, drift, steady state, deletion, bad input, and a
// final check that no plaintext reached logs, events or status.
import { randomUUID } from 'node:crypto';
import test from 'ava';
import { eventually, WITHIN, useTestEnv } from '../../harness/index.js';
import { VaultAudit } from '../../harness/vault-audit.js';
import type { KMSVaultSecretSpec } from '../../../operator/api/kmsvaultsecret.js';
import { CRD_FILES, Objects, recheckPasses, sealValue, startInProcessOperator, VaultProbe, waitForRecheckPasses, type RunningOperator } from './helpers.js';

const env = useTestEnv(test);
const SYNC_PERIOD_MS = 1500;

let op: RunningOperator;
let objects: Objects;
let probe: VaultProbe;
let ns: string;
let v1Mount: string;
let v2Mount: string;
let audit: VaultAudit;
/** Every plaintext this file puts through the operator. */
const plaintexts = new Set<string>();

function secretValue(label: string): string {
  const value = `pt-${label}-${Math.random().toString(36).slice(2, 10)}`;
  plaintexts.add(value);
  return value;
}

test.before(async () => {
  const e = env();
  await e.applyCrds(...CRD_FILES);
  ns = await e.namespace('kmsvs');
  v1Mount = await e.vaultMount('kv-v1');
  v2Mount = await e.vaultMount('kv-v2');
  objects = new Objects(e.kubeConfig());
  probe = new VaultProbe(e);
  audit = await VaultAudit.enable(e.vault);
  op = await startInProcessOperator(e, { syncPeriodMs: SYNC_PERIOD_MS });
});

test.after.always(async () => {
  await op?.stop();
});

async function sealed(key: string, value: string, context?: Record<string, string>) {
  return { key, encryptedSecret: await sealValue(env(), value, context) };
}

test.serial('KV v2 round trip: decrypted into Vault, Ready=True, finalizer, event', async (t) => {
  const password = secretValue('v2-password');
  const token = secretValue('v2-token');
  const spec: KMSVaultSecretSpec = {
    path: `${v2Mount}/${ns}/app`,
    kvSettings: { engineVersion: 'v2' },
    secretContext: { app: 'web' },
    secrets: [await sealed('password', password, { app: 'web' }), await sealed('token', token, { app: 'web' }), { key: 'empty', emptySecret: true }],
  };
  await objects.create(ns, 'app-v2', spec);
  const obj = await objects.waitReady(ns, 'app-v2', 'True', 'Synced');
  t.deepEqual(await probe.read(v2Mount, 'v2', `${ns}/app`), { password, token, empty: '' });
  t.deepEqual(obj.metadata?.finalizers, ['vault.autopilot.dev/cleanup']);
  t.is(obj.status?.vaultPath, `${v2Mount}/${ns}/app`);
  t.is(obj.status?.engineVersion, 'v2');
  t.deepEqual(obj.status?.keys, ['empty', 'password', 'token']);
  t.truthy(obj.status?.lastSyncTime);
  t.true(await objects.sawEvent(ns, 'app-v2', 'Normal', 'SecretWritten', /created/));
});

test.serial('KV v1 round trip (path given with a leading slash)', async (t) => {
  const value = secretValue('v1');
  await objects.create(ns, 'app-v1', { path: `/${v1Mount}/${ns}/db`, kvSettings: { engineVersion: 'v1' }, secrets: [await sealed('dsn', value)] });
  const obj = await objects.waitReady(ns, 'app-v1', 'True', 'Synced');
  t.deepEqual(await probe.read(v1Mount, 'v1', `${ns}/db`), { dsn: value });
  t.is(obj.status?.engineVersion, 'v1');
});

test.serial('updating a key updates Vault (and removing a key removes it)', async (t) => {
  const newValue = secretValue('v1-updated');
  const extra = secretValue('v1-extra');
  const dsn = await sealed('dsn', newValue);
  const extraKey = await sealed('extra', extra);
  await objects.updateSpec(ns, 'app-v1', (spec) => ({ ...spec, secrets: [dsn, extraKey] }));
  await objects.waitReady(ns, 'app-v1', 'True', 'Synced');
  t.deepEqual(await probe.read(v1Mount, 'v1', `${ns}/db`), { dsn: newValue, extra });
  await objects.updateSpec(ns, 'app-v1', (spec) => ({ ...spec, secrets: [extraKey] }));
  await eventually(async () => {
    const data = await probe.read(v1Mount, 'v1', `${ns}/db`);
    if (JSON.stringify(data) !== JSON.stringify({ extra })) throw new Error('not yet');
  }, WITHIN.reconcile);
  t.pass();
});

test.serial('includes from a partial: merged with context fallback; the partial changing re-syncs', async (t) => {
  const own = secretValue('own');
  const shared = secretValue('shared');
  await objects.createPartial(ns, 'shared', { secrets: [await sealed('shared', shared, { team: 'x' })] });
  await objects.create(ns, 'with-partial', {
    path: `${v2Mount}/${ns}/merged`,
    kvSettings: { engineVersion: 'v2' },
    secretContext: { team: 'x' },
    includeSecrets: ['shared'],
    secrets: [await sealed('own', own, { team: 'x' })],
  });
  await objects.waitReady(ns, 'with-partial', 'True');
  t.deepEqual(await probe.read(v2Mount, 'v2', `${ns}/merged`), { own, shared });

  const shared2 = secretValue('shared2');
  await objects.deletePartial(ns, 'shared');
  await objects.createPartial(ns, 'shared', { secretContext: { team: 'x' }, secrets: [await sealed('shared', shared2, { team: 'x' })] });
  await eventually(async () => {
    const data = await probe.read(v2Mount, 'v2', `${ns}/merged`);
    if (data?.shared !== shared2) throw new Error('partial change not synced');
  }, WITHIN.reconcile);
  t.pass();
});

test.serial('a missing include: IncludeNotFound, nothing written; recovers when the partial appears', async (t) => {
  const a = secretValue('later-a');
  const b = secretValue('later-b');
  await objects.create(ns, 'waits', {
    path: `${v2Mount}/${ns}/waits`,
    kvSettings: { engineVersion: 'v2' },
    includeSecrets: ['later'],
    secrets: [await sealed('a', a)],
  });
  const obj = await objects.waitReady(ns, 'waits', 'False', 'IncludeNotFound');
  t.regex(obj.status!.conditions![0]!.message, /"later"/);
  t.false(await probe.metadataExists(v2Mount, `${ns}/waits`));
  await objects.createPartial(ns, 'later', { secrets: [await sealed('b', b)] });
  await objects.waitReady(ns, 'waits', 'True', 'Synced');
  t.deepEqual(await probe.read(v2Mount, 'v2', `${ns}/waits`), { a, b });
  t.true(await objects.sawEvent(ns, 'waits', 'Warning', 'IncludeNotFound'));
  t.true(await objects.sawEvent(ns, 'waits', 'Normal', 'Recovered'));
});

test.serial('a key defined twice: DuplicateKey, nothing written', async (t) => {
  await objects.createPartial(ns, 'dup', { secrets: [await sealed('same', secretValue('dup1'))] });
  await objects.create(ns, 'dups', {
    path: `${v2Mount}/${ns}/dups`,
    kvSettings: { engineVersion: 'v2' },
    includeSecrets: ['dup'],
    secrets: [await sealed('same', secretValue('dup2'))],
  });
  const obj = await objects.waitReady(ns, 'dups', 'False', 'DuplicateKey');
  t.regex(obj.status!.conditions![0]!.message, /key "same" is defined in spec\.secrets and PartialKMSVaultSecret\/dup/);
  t.false(await probe.metadataExists(v2Mount, `${ns}/dups`));
});

test.serial('drift: a value changed in Vault by hand is restored by the periodic re-check', async (t) => {
  const before = await probe.read(v2Mount, 'v2', `${ns}/app`);
  await probe.write(v2Mount, 'v2', `${ns}/app`, { password: 'changed-by-hand' });
  const started = Date.now();
  await eventually(
    async () => {
      const now = await probe.read(v2Mount, 'v2', `${ns}/app`);
      if (JSON.stringify(now) !== JSON.stringify(before)) throw new Error('not restored');
    },
    { timeoutMs: 5 * 60_000, intervalMs: 100 }, // no time limit that load could break: the figure is logged
  );
  const restoredAfterMs = Date.now() - started;
  t.log(`drift restored after ${restoredAfterMs} ms (sync period ${SYNC_PERIOD_MS} ms)`);
  // only the periodic re-check restores it (nothing else changed); how fast is a figure, not a pass/fail
  t.true(await objects.sawEvent(ns, 'app-v2', 'Normal', 'SecretWritten', /restored/));
});

test.serial('steady state: each sync pass costs exactly two Vault reads per object (counted by Vault\'s audit log) and makes zero writes', async (t) => {
  // everything settled first: Ready, then one whole re-check pass of each object
  const names = ['app-v2', 'app-v1', 'with-partial', 'waits'];
  const paths = [`${v1Mount}/${ns}/db`, `${v2Mount}/${ns}/app`, `${v2Mount}/${ns}/merged`, `${v2Mount}/${ns}/waits`];
  for (const name of names) await objects.waitReady(ns, name, 'True');
  await waitForRecheckPasses(audit, audit.mark(), ns, paths, 1);
  const versionsBefore = await Promise.all(names.map(async (n) => (await objects.get(ns, n))?.metadata?.resourceVersion));
  const eventsBefore = (await objects.events(ns)).reduce((sum, e) => sum + e.count, 0);
  // a window of three whole passes of every object, however long the loaded machine takes for them
  const mark = audit.mark();
  await waitForRecheckPasses(audit, mark, ns, paths, 3);
  const versionsAfter = await Promise.all(names.map(async (n) => (await objects.get(ns, n))?.metadata?.resourceVersion));
  const eventsAfter = (await objects.events(ns)).reduce((sum, e) => sum + e.count, 0);
  // this file's namespace names every path its objects use; other files share the Vault
  const { passes, stray } = recheckPasses(audit.since(mark), ns);
  t.log(`steady state: ${[...passes.values()].join('/')} whole passes of ${passes.size} objects in Vault's audit log`);
  t.deepEqual([...passes.keys()].sort(), [...paths].sort(), 'every object was re-checked against Vault, nothing else');
  t.deepEqual(stray, [], 'each pass: one mount lookup and one read, no Vault write');
  t.deepEqual(versionsAfter, versionsBefore, 'no object (or status) writes');
  t.is(eventsAfter, eventsBefore, 'no new events');
});

async function expectRefused(t: import('ava').ExecutionContext, name: string, spec: KMSVaultSecretSpec, reason: string, message: RegExp, mount: string) {
  await objects.create(ns, name, spec);
  const obj = await objects.waitReady(ns, name, 'False', reason);
  const ready = obj.status!.conditions!.find((c) => c.type === 'Ready')!;
  t.regex(ready.message, message, name);
  const secretPath = spec.path.slice(mount.length + 1);
  t.false(await probe.metadataExists(mount, secretPath), `${name}: nothing written`);
  t.true(await objects.sawEvent(ns, name, 'Warning', reason), `${name}: Warning event`);
  t.is(obj.status?.vaultPath, undefined);
}

test.serial('invalid base64: DecodingFailed, nothing written (not even the good key)', async (t) => {
  await expectRefused(
    t,
    'bad-b64',
    { path: `${v2Mount}/${ns}/bad-b64`, kvSettings: { engineVersion: 'v2' }, secrets: [await sealed('good', secretValue('good1')), { key: 'broken', encryptedSecret: 'not*base64!' }] },
    'DecodingFailed',
    /key "broken".*not valid base64/,
    v2Mount,
  );
});

test.serial('ciphertext from a key the operator does not accept: DecryptionFailed naming the key', async (t) => {
  const other = await sealValue(env(), secretValue('other-key'), undefined, env().kms.otherKeyId);
  await expectRefused(
    t,
    'other-key',
    { path: `${v2Mount}/${ns}/other-key`, kvSettings: { engineVersion: 'v2' }, secrets: [await sealed('good', secretValue('good2')), { key: 'foreign', encryptedSecret: other }] },
    'DecryptionFailed',
    /key "foreign": encrypted with a KMS key the operator does not accept/,
    v2Mount,
  );
});

test.serial('wrong encryption context: DecryptionFailed saying the context does not match', async (t) => {
  await expectRefused(
    t,
    'wrong-ctx',
    {
      path: `${v2Mount}/${ns}/wrong-ctx`,
      kvSettings: { engineVersion: 'v2' },
      secretContext: { app: 'billing' },
      secrets: [await sealed('k', secretValue('ctx'), { app: 'web' })],
    },
    'DecryptionFailed',
    /key "k": KMS rejected the ciphertext: the encryption context \(secretContext\) does not match/,
    v2Mount,
  );
});

test.serial('missing context: DecryptionFailed suggesting secretContext', async (t) => {
  await expectRefused(
    t,
    'no-ctx',
    { path: `${v2Mount}/${ns}/no-ctx`, kvSettings: { engineVersion: 'v2' }, secrets: [await sealed('k', secretValue('noctx'), { app: 'web' })] },
    'DecryptionFailed',
    /set secretContext/,
    v2Mount,
  );
});

test.serial('ciphertext naming a key this account does not have: DecryptionFailed saying access is denied', async (t) => {
  // local-kms keeps the key ARN in the blob: point it at a key that does not exist
  const blob = Buffer.from(await sealValue(env(), secretValue('nokey')), 'base64');
  const keyId = env().kms.keyId;
  const at = blob.indexOf(keyId);
  t.true(at > 0, 'the blob names its key');
  blob.write(randomUUID(), at, 'latin1');
  await expectRefused(
    t,
    'no-such-key',
    { path: `${v2Mount}/${ns}/no-such-key`, kvSettings: { engineVersion: 'v2' }, secrets: [{ key: 'k', encryptedSecret: blob.toString('base64') }] },
    'DecryptionFailed',
    /key "k": KMS denied access/,
    v2Mount,
  );
});

test.serial('one bad key on a secret that already exists: refused as a whole, what Vault held stays', async (t) => {
  const held = await probe.read(v1Mount, 'v1', `${ns}/db`);
  t.truthy(held, 'app-v1 wrote its secret earlier');
  const previous = (await objects.get(ns, 'app-v1'))!.spec;
  await objects.updateSpec(ns, 'app-v1', (spec) => ({
    ...spec,
    secrets: [{ key: 'dsn', encryptedSecret: previous.secrets![0]!.encryptedSecret }, { key: 'fresh', encryptedSecret: 'not*base64!' }],
  }));
  await objects.waitReady(ns, 'app-v1', 'False', 'DecodingFailed');
  t.deepEqual(await probe.read(v1Mount, 'v1', `${ns}/db`), held, 'nothing written, nothing removed');
  await objects.updateSpec(ns, 'app-v1', () => previous);
  await objects.waitReady(ns, 'app-v1', 'True', 'Synced');
  t.deepEqual(await probe.read(v1Mount, 'v1', `${ns}/db`), held);
});

test.serial('a path outside the namespace: PathNotAllowed, nothing written', async (t) => {
  await expectRefused(
    t,
    'elsewhere',
    { path: `${v2Mount}/another-team/app`, kvSettings: { engineVersion: 'v2' }, secrets: [await sealed('k', secretValue('elsewhere'))] },
    'PathNotAllowed',
    /only place objects in namespace/,
    v2Mount,
  );
});

test.serial('engine version that differs from the mount: MountMismatch, nothing written', async (t) => {
  await expectRefused(
    t,
    'mismatch',
    { path: `${v2Mount}/${ns}/mismatch`, kvSettings: { engineVersion: 'v1' }, secrets: [await sealed('k', secretValue('mismatch'))] },
    'MountMismatch',
    /is a KV v2 mount but kvSettings\.engineVersion is v1/,
    v2Mount,
  );
});

test.serial('fixing a refused object makes it sync (and a Recovered event)', async (t) => {
  const value = secretValue('fixed');
  const fixed = await sealed('broken', value);
  await objects.updateSpec(ns, 'bad-b64', (spec) => ({ ...spec, secrets: [fixed] }));
  await objects.waitReady(ns, 'bad-b64', 'True', 'Synced');
  t.deepEqual(await probe.read(v2Mount, 'v2', `${ns}/bad-b64`), { broken: value });
  t.true(await objects.sawEvent(ns, 'bad-b64', 'Normal', 'Recovered'));
});

test.serial('schema violations are rejected by the apiserver', async (t) => {
  const good = await sealed('k', secretValue('schema'));
  const base = { path: `${v2Mount}/${ns}/schema`, kvSettings: { engineVersion: 'v2' }, secrets: [good] };
  const cases: Array<[string, Record<string, unknown>, RegExp]> = [
    ['no engineVersion', { ...base, kvSettings: {} }, /engineVersion: Required/],
    ['engine v3', { ...base, kvSettings: { engineVersion: 'v3' } }, /engineVersion: Unsupported value/],
    ['no path', { kvSettings: base.kvSettings, secrets: [good] }, /spec\.path: Required/],
    ['dot-dot path', { ...base, path: `${v2Mount}/${ns}/../x` }, /path segments may not be/],
    ['bad key', { ...base, secrets: [{ ...good, key: 'has space' }] }, /secrets\[0\]\.key/],
    ['empty encryptedSecret', { ...base, secrets: [{ key: 'k', encryptedSecret: '' }] }, /encryptedSecret must be non-empty unless emptySecret/],
    ['duplicate key in list', { ...base, secrets: [good, good] }, /Duplicate value/],
    ['nothing to write', { path: base.path, kvSettings: base.kvSettings }, /at least one key/],
    ['bad deletionPolicy', { ...base, deletionPolicy: 'Keep' }, /deletionPolicy: Unsupported value/],
  ];
  for (const [label, spec, expected] of cases) {
    const err = await t.throwsAsync(
      objects.createRaw(ns, { apiVersion: 'vault.autopilot.dev/v1alpha1', kind: 'KMSVaultSecret', metadata: { name: 'schema' }, spec }),
      undefined,
      label,
    );
    const body = String((err as { body?: unknown })?.body ?? err?.message);
    t.is((err as { code?: number }).code, 422, `${label}: ${body}`);
    t.regex(body, expected, label);
  }
  const partialErr = await t.throwsAsync(
    objects.createRaw(ns, { apiVersion: 'vault.autopilot.dev/v1alpha1', kind: 'PartialKMSVaultSecret', metadata: { name: 'p' }, spec: { secrets: [] } }, 'partialkmsvaultsecrets'),
  );
  t.is((partialErr as { code?: number }).code, 422);
  t.false(await probe.metadataExists(v2Mount, `${ns}/schema`));
});

test.serial('delete with deletionPolicy Delete removes the secret and all its versions', async (t) => {
  t.true(await probe.metadataExists(v2Mount, `${ns}/app`));
  await objects.delete(ns, 'app-v2');
  await objects.waitGone(ns, 'app-v2');
  t.false(await probe.metadataExists(v2Mount, `${ns}/app`));
  t.is(await probe.read(v2Mount, 'v2', `${ns}/app`), undefined);
  // the README's deletion Events (the object's Events outlive it)
  t.true(await objects.sawEvent(ns, 'app-v2', 'Normal', 'SecretDeleted', new RegExp(`deleted ${v2Mount}/${ns}/app from Vault \\(metadata and all versions\\)`)));
});

test.serial('delete with deletionPolicy Retain leaves the secret in Vault', async (t) => {
  const value = secretValue('retained');
  await objects.create(ns, 'keeper', {
    path: `${v1Mount}/${ns}/keeper`,
    kvSettings: { engineVersion: 'v1' },
    deletionPolicy: 'Retain',
    secrets: [await sealed('k', value)],
  });
  await objects.waitReady(ns, 'keeper', 'True');
  await objects.delete(ns, 'keeper');
  await objects.waitGone(ns, 'keeper');
  t.deepEqual(await probe.read(v1Mount, 'v1', `${ns}/keeper`), { k: value });
  t.true(await objects.sawEvent(ns, 'keeper', 'Normal', 'SecretRetained', new RegExp(`deletionPolicy Retain: left ${v1Mount}/${ns}/keeper in Vault`)));
  t.false(await objects.sawEvent(ns, 'keeper', 'Normal', 'SecretDeleted', undefined, 0), 'not deleted');
});

test.serial('deleting a refused object leaves Vault alone (it never wrote)', async (t) => {
  // a secret that exists at the refused path must survive the refused object's deletion
  await probe.write(v2Mount, 'v2', `${ns}/mismatch`, { untouched: 'yes' });
  await objects.delete(ns, 'mismatch');
  await objects.waitGone(ns, 'mismatch');
  t.deepEqual(await probe.read(v2Mount, 'v2', `${ns}/mismatch`), { untouched: 'yes' });
});

test.serial("migrated from kms-vault-operator: its finalizer goes once ours is in place, and deletion completes", async (t) => {
  const value = secretValue('migrated');
  await objects.createRaw(ns, {
    apiVersion: 'vault.autopilot.dev/v1alpha1',
    kind: 'KMSVaultSecret',
    metadata: { name: 'migrated', namespace: ns, finalizers: ['delete.k8s.patoarvizu.dev'] },
    spec: { path: `${v2Mount}/${ns}/migrated`, kvSettings: { engineVersion: 'v2' }, secrets: [await sealed('k', value)] },
  });
  const obj = await objects.waitReady(ns, 'migrated', 'True', 'Synced');
  t.deepEqual(obj.metadata?.finalizers, ['vault.autopilot.dev/cleanup']);
  await objects.delete(ns, 'migrated');
  await objects.waitGone(ns, 'migrated');
  t.is(await probe.read(v2Mount, 'v2', `${ns}/migrated`), undefined, 'our cleanup ran (deletionPolicy Delete)');
});

test.serial('no plaintext in captured logs, events or any status', async (t) => {
  t.true(plaintexts.size >= 15);
  const logs = op.logs.text();
  t.true(logs.length > 0);
  const events = JSON.stringify(await objects.events(ns));
  const statuses = objects.statusesSeen.join('\n');
  t.true(objects.statusesSeen.length > 10);
  for (const value of plaintexts) {
    t.false(logs.includes(value), 'a plaintext is in the logs');
    t.false(events.includes(value), 'a plaintext is in an event');
    t.false(statuses.includes(value), 'a plaintext is in a status');
  }
});

test.serial('deleted before ours was added: cleanup still runs and the foreign finalizer is released', async (t) => {
  await op.stop();
  await objects.createRaw(ns, {
    apiVersion: 'vault.autopilot.dev/v1alpha1',
    kind: 'KMSVaultSecret',
    metadata: { name: 'early', namespace: ns, finalizers: ['delete.k8s.patoarvizu.dev'] },
    spec: { path: `${v2Mount}/${ns}/early`, kvSettings: { engineVersion: 'v2' }, secrets: [{ key: 'e', emptySecret: true }] },
  });
  await objects.delete(ns, 'early');
  op = await startInProcessOperator(env(), { syncPeriodMs: SYNC_PERIOD_MS });
  await objects.waitGone(ns, 'early');
  const left = (await objects.custom.listNamespacedCustomObject({ group: 'vault.autopilot.dev', version: 'v1alpha1', namespace: ns, plural: 'kmsvaultsecrets' })) as { items: Array<{ metadata: { name: string } }> };
  t.false(left.items.some((o) => o.metadata.name === 'early'));
});
