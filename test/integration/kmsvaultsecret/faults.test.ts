// Faults on PRIVATE servers: KMS down, Vault down (and back empty, as a dev
// Vault restarts), Vault unreachable with its data kept (a proxy that drops
// every connection). The object reports the cause, Vault keeps what it had,
// the operator keeps running and recovers by itself.
import test from 'ava';
import { eventually, WITHIN, startServers, type Servers } from '../../harness/index.js';
import { startFaultProxy, type FaultProxy } from '../../harness/fault-proxy.js';
import { VaultClient } from '../../../operator/vault/client.js';
import { CRD_FILES, Objects, sealValue, startInProcessOperator, VaultProbe, type RunningOperator } from './helpers.js';

const SYNC_PERIOD_MS = 1000;
let servers: Servers;
let op: RunningOperator;
let objects: Objects;
let probe: VaultProbe;
let proxy: FaultProxy;
let ns: string;
const plaintexts: string[] = [];

test.before(async () => {
  servers = await startServers({ vault: 'dev', kms: true, apiserver: true });
  await servers.env.applyCrds(...CRD_FILES);
  ns = await servers.env.namespace('kmsvs-faults');
  objects = new Objects(servers.env.kubeConfig());
  probe = new VaultProbe(servers.env);
  // the operator reaches Vault through a proxy: dropping its connections makes
  // Vault unreachable while Vault itself (and its in-memory data) stays up
  proxy = await startFaultProxy(servers.env.vault.address, { transparent: true });
  const vault = new VaultClient({ address: proxy.url, auth: { method: 'token', token: servers.env.vault.rootToken }, timeoutMs: 3000 });
  op = await startInProcessOperator(servers.env, { syncPeriodMs: SYNC_PERIOD_MS }, { vault });
});

test.after.always(async () => {
  await op?.stop();
  await proxy?.close();
  await servers?.stopAll();
});

function value(label: string): string {
  const v = `fault-${label}-${Math.random().toString(36).slice(2, 10)}`;
  plaintexts.push(v);
  return v;
}

// dev Vault mounts KV v2 at secret/ on every start, so it survives a restart (its data does not)
const mount = 'secret';

test.serial('KMS stopped: KMSUnreachable, Vault keeps the last value; recovery when KMS returns', async (t) => {
  const first = value('first');
  await objects.create(ns, 'app', {
    path: `${mount}/${ns}/app`,
    kvSettings: { engineVersion: 'v2' },
    secrets: [{ key: 'k', encryptedSecret: await sealValue(servers.env, first) }],
  });
  await objects.waitReady(ns, 'app', 'True');
  t.deepEqual(await probe.read(mount, 'v2', `${ns}/app`), { k: first });

  const second = value('second');
  const sealedSecond = await sealValue(servers.env, second);
  await servers.kms.stop();
  await objects.updateSpec(ns, 'app', (spec) => ({ ...spec, secrets: [{ key: 'k', encryptedSecret: sealedSecond }] }));
  const failing = await objects.waitReady(ns, 'app', 'False', 'KMSUnreachable');
  t.regex(failing.status!.conditions![0]!.message, /could not decrypt "k": KMS could not be reached/);
  t.deepEqual(await probe.read(mount, 'v2', `${ns}/app`), { k: first }, 'nothing lost, nothing half-written');
  t.true(op.operator.isReady(), 'the operator keeps running');

  await servers.kms.start();
  await objects.waitReady(ns, 'app', 'True', 'Synced');
  t.deepEqual(await probe.read(mount, 'v2', `${ns}/app`), { k: second });
  t.true(await objects.sawEvent(ns, 'app', 'Warning', 'KMSUnreachable'));
  t.true(await objects.sawEvent(ns, 'app', 'Normal', 'Recovered'));
});

test.serial('Vault stopped: VaultUnreachable; when it returns (empty) the secret is written again', async (t) => {
  const current = await probe.read(mount, 'v2', `${ns}/app`);
  await servers.vault.stop();
  const failing = await objects.waitReady(ns, 'app', 'False', 'VaultUnreachable');
  t.regex(failing.status!.conditions![0]!.message, /Vault is unreachable/);
  t.true(op.operator.isReady(), 'the operator keeps running');

  await servers.vault.start();
  await objects.waitReady(ns, 'app', 'True', 'Synced');
  await eventually(async () => {
    const data = await probe.read(mount, 'v2', `${ns}/app`);
    if (JSON.stringify(data) !== JSON.stringify(current)) throw new Error('not restored');
  }, WITHIN.reconcile);
  t.true(await objects.sawEvent(ns, 'app', 'Warning', 'VaultUnreachable'));
  // a second recovery (the first was from KMSUnreachable); Vault may also answer "upgrading" briefly after its restart
  await eventually(async () => {
    if ((await objects.events(ns, 'app')).filter((e) => e.reason === 'Recovered').length < 2) throw new Error('no second Recovered event');
  }, WITHIN.reconcile);
});

test.serial('Vault unreachable while an object is deleted: the finalizer stays until the delete succeeds', async (t) => {
  t.true(await probe.metadataExists(mount, `${ns}/app`), 'the secret is in Vault before the delete');
  let refused = 0;
  proxy.hooks.onRequest = () => {
    refused++;
    return 'drop';
  };
  await objects.delete(ns, 'app');
  // the operator tried (and failed) to clean up at least twice before we look
  await eventually(async () => {
    if (refused < 2) throw new Error(`only ${refused} attempts to reach Vault so far`);
  }, WITHIN.reconcile);
  const stuck = await objects.get(ns, 'app');
  t.truthy(stuck?.metadata?.deletionTimestamp, 'still there, waiting for cleanup');
  t.deepEqual(stuck?.metadata?.finalizers, ['vault.autopilot.dev/cleanup']);
  t.true(await probe.metadataExists(mount, `${ns}/app`), 'Vault still holds the secret: nothing was deleted yet');
  proxy.hooks.onRequest = undefined;
  await objects.waitGone(ns, 'app');
  t.false(await probe.metadataExists(mount, `${ns}/app`), 'the finalizer deleted the secret, with its versions, from Vault');
});

test.serial('no plaintext in logs, events or status after the faults', async (t) => {
  const logs = op.logs.text();
  const events = JSON.stringify(await objects.events(ns));
  const statuses = objects.statusesSeen.join('\n');
  t.true(logs.includes('reconcile failed, will retry'), 'the failures were logged');
  for (const v of plaintexts) {
    t.false(logs.includes(v));
    t.false(events.includes(v));
    t.false(statuses.includes(v));
  }
});
