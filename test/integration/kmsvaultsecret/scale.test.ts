// Many objects at once: time until all are in Vault, then what steady state
// costs per re-check pass (exactly two Vault reads, counted by Vault's audit
// device; no KMS decrypt) — and that it writes nothing.
import test from 'ava';
import { eventually, useTestEnv } from '../../harness/index.js';
import { VaultAudit } from '../../harness/vault-audit.js';
import { CRD_FILES, Objects, recheckPasses, sealValue, startInProcessOperator, VaultProbe, waitForRecheckPasses, type RunningOperator } from './helpers.js';

const env = useTestEnv(test);
const OBJECTS = Number(process.env.KMSVS_SCALE_OBJECTS ?? 60);
const KEYS = 3;
const SYNC_PERIOD_MS = 4000;
let op: RunningOperator;
let objects: Objects;
let probe: VaultProbe;
let ns: string;
let mount: string;
let audit: VaultAudit;

test.before(async () => {
  const e = env();
  await e.applyCrds(...CRD_FILES);
  ns = await e.namespace('kmsvs-scale');
  mount = await e.vaultMount('kv-v2');
  objects = new Objects(e.kubeConfig());
  probe = new VaultProbe(e);
  audit = await VaultAudit.enable(e.vault);
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
    { timeoutMs: 10 * 60_000, intervalMs: 250 },
  );
  const allReadyMs = Date.now() - started;
  t.log(`${OBJECTS} objects created in ${created - started} ms; all Ready ${allReadyMs} ms after the first create`);
  t.deepEqual(await probe.read(mount, 'v2', `${ns}/s${OBJECTS - 1}`), { k0: 'scale-value-0', k1: 'scale-value-1', k2: 'scale-value-2' });

  // the window is made of passes, not of seconds: every object's first re-check after Ready, then 3 more
  const paths = Array.from({ length: OBJECTS }, (_, i) => `${mount}/${ns}/s${i}`);
  await waitForRecheckPasses(audit, audit.mark(), ns, paths, 1);
  const mark = audit.mark();
  const decryptsBefore = op.kmsDecrypts();
  const versionsBefore = await resourceVersions();
  await waitForRecheckPasses(audit, mark, ns, paths, 3);
  const { passes, stray } = recheckPasses(audit.since(mark), ns);
  const total = [...passes.values()].reduce((a, b) => a + b, 0);
  t.log(`steady state: ${total} re-check passes of ${OBJECTS} objects, ${total * 2} Vault reads (Vault's audit log), ${op.kmsDecrypts() - decryptsBefore} KMS decrypts, no writes`);
  t.deepEqual(stray, [], 'nothing but whole passes of exactly two reads (mount lookup + data); no Vault write');
  // Vault's values have the digests of what each ciphertext decrypted to at the first sync
  t.is(op.kmsDecrypts(), decryptsBefore, 'no KMS decrypt');
  t.deepEqual(await resourceVersions(), versionsBefore, 'no object (or status) written');
});

async function resourceVersions(): Promise<string[]> {
  const list = (await objects.custom.listNamespacedCustomObject({ group: 'vault.autopilot.dev', version: 'v1alpha1', namespace: ns, plural: 'kmsvaultsecrets' })) as {
    items: Array<{ metadata: { name: string; resourceVersion: string } }>;
  };
  return list.items.map((o) => `${o.metadata.name}@${o.metadata.resourceVersion}`).sort();
}
