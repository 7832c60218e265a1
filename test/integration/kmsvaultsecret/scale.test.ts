// Many objects at once: time until all are in Vault, then what steady state
// costs per sync period (Vault reads; no KMS decrypt) — and that it writes nothing.
import test from 'ava';
import { eventually, useTestEnv } from '../../harness/index.js';
import { CRD_FILES, Objects, sealValue, startInProcessOperator, VaultProbe, type RunningOperator } from './helpers.js';

const env = useTestEnv(test);
const OBJECTS = Number(process.env.KMSVS_SCALE_OBJECTS ?? 60);
const KEYS = 3;
const SYNC_PERIOD_MS = 4000;
let op: RunningOperator;
let objects: Objects;
let probe: VaultProbe;
let ns: string;
let mount: string;

test.before(async () => {
  const e = env();
  await e.applyCrds(...CRD_FILES);
  ns = await e.namespace('kmsvs-scale');
  mount = await e.vaultMount('kv-v2');
  objects = new Objects(e.kubeConfig());
  probe = new VaultProbe(e);
  op = await startInProcessOperator(e, { syncPeriodMs: SYNC_PERIOD_MS });
});

test.after.always(async () => {
  await op?.stop();
});

test.serial(`${OBJECTS} objects x ${KEYS} keys: all synced, then steady state writes nothing`, async (t) => {
  const blobs: string[] = [];
  for (let k = 0; k < KEYS; k++) blobs.push(await sealValue(env(), `scale-value-${k}`));
  const started = Date.now();
  for (let i = 0; i < OBJECTS; i++) {
    await objects.create(ns, `s${i}`, {
      path: `${mount}/${ns}/s${i}`,
      kvSettings: { engineVersion: 'v2' },
      secrets: blobs.map((encryptedSecret, k) => ({ key: `k${k}`, encryptedSecret })),
    });
  }
  const created = Date.now();
  await eventually(
    async () => {
      const list = (await objects.custom.listNamespacedCustomObject({ group: 'vault.autopilot.dev', version: 'v1alpha1', namespace: ns, plural: 'kmsvaultsecrets' })) as {
        items: Array<{ status?: { conditions?: Array<{ type: string; status: string }> } }>;
      };
      const ready = list.items.filter((o) => o.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')).length;
      if (ready < OBJECTS) throw new Error(`${ready}/${OBJECTS} ready`);
    },
    { timeoutMs: 120_000, intervalMs: 250 },
  );
  const allReadyMs = Date.now() - started;
  t.log(`${OBJECTS} objects created in ${created - started} ms; all Ready ${allReadyMs} ms after the first create`);
  t.deepEqual(await probe.read(mount, 'v2', `${ns}/s${OBJECTS - 1}`), { k0: 'scale-value-0', k1: 'scale-value-1', k2: 'scale-value-2' });

  await new Promise((r) => setTimeout(r, SYNC_PERIOD_MS)); // let the first round of re-checks pass
  const before = { reads: op.vault.stats.reads, writes: op.vault.stats.writes, decrypts: op.kmsDecrypts() };
  const periods = 3;
  await new Promise((r) => setTimeout(r, SYNC_PERIOD_MS * periods));
  const reads = op.vault.stats.reads - before.reads;
  const decrypts = op.kmsDecrypts() - before.decrypts;
  t.log(`steady state per sync period: ${(reads / periods).toFixed(0)} Vault reads, ${(decrypts / periods).toFixed(0)} KMS decrypts, ${op.vault.stats.writes - before.writes} Vault writes in total`);
  t.is(op.vault.stats.writes, before.writes);
  // each object is re-checked about once per period: 2 Vault reads (mount + data) and no KMS call —
  // Vault's values have the digests of what each ciphertext decrypted to at the first sync
  t.is(decrypts, 0);
  t.true(reads >= OBJECTS * 2 * (periods - 1) && reads <= OBJECTS * 2 * (periods + 1), `reads ${reads}`);
});
