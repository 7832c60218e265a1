// The real binary entry (operator/main.ts) as a child process, configured
// only through VAULT_AUTOPILOT_* variables: the KMSVaultSecret settings and
// the shared Vault connection settings reach the controller; SIGTERM exits 0.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { eventually, WITHIN, withinResyncs, startOperatorProcess, useTestEnv, type OperatorProcess } from '../../harness/index.js';
import { CRD_FILES, KMS_CREDENTIALS, Objects, sealValue, VaultProbe } from './helpers.js';

const env = useTestEnv(test);
let proc: OperatorProcess;
let objects: Objects;
let probe: VaultProbe;
let ns: string;
let mount: string;
let dir: string;
const plaintexts: string[] = [];

const SYNC_PERIOD_MS = 1000;

test.before(async () => {
  const e = env();
  await e.applyCrds(...CRD_FILES);
  ns = await e.namespace('kmsvs-proc');
  mount = await e.vaultMount('kv-v2');
  objects = new Objects(e.kubeConfig());
  probe = new VaultProbe(e);
  dir = mkdtempSync(join(tmpdir(), 'kmsvs-proc-'));
  writeFileSync(join(dir, 'vault-token'), e.vault.rootToken, { mode: 0o600 });
  proc = await startOperatorProcess({
    entry: 'operator/main.ts',
    env: {
      KUBECONFIG: e.kubeconfigPath,
      VAULT_AUTOPILOT_LIFECYCLES: 'kmsvaultsecret',
      VAULT_AUTOPILOT_HEALTH_PORT: '0',
      VAULT_AUTOPILOT_VAULT_ADDR: e.vault.address,
      VAULT_AUTOPILOT_VAULT_AUTH: 'token',
      VAULT_AUTOPILOT_VAULT_TOKEN_FILE: join(dir, 'vault-token'),
      VAULT_AUTOPILOT_KMS_REGION: e.kms.region,
      // sealed without the namespace binding here (tested in test/integration/tenancy/)
      VAULT_AUTOPILOT_KMS_LEGACY_NAMESPACES: '*',
      VAULT_AUTOPILOT_KMS_ENDPOINT: e.kms.endpoint,
      VAULT_AUTOPILOT_KMS_ALLOWED_KEY_IDS: e.kms.keyAlias,
      VAULT_AUTOPILOT_KMS_SYNC_PERIOD: `${SYNC_PERIOD_MS / 1000}s`,
      VAULT_AUTOPILOT_KMS_PATH_POLICY: 'any',
      AWS_ACCESS_KEY_ID: KMS_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: KMS_CREDENTIALS.secretAccessKey,
    },
  });
  await proc.waitForOutput(/operator started/, WITHIN.start.timeoutMs);
});

test.after.always(async () => {
  await proc?.kill('SIGKILL');
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function value(label: string): string {
  const v = `proc-${label}-${Math.random().toString(36).slice(2, 10)}`;
  plaintexts.push(v);
  return v;
}

test.serial('configured by environment: syncs (path policy "any"), corrects drift every 1s', async (t) => {
  const v = value('a');
  // outside <mount>/<namespace>/: allowed only because VAULT_AUTOPILOT_KMS_PATH_POLICY=any
  await objects.create(ns, 'anywhere', { path: `${mount}/shared/${ns}-app`, kvSettings: { engineVersion: 'v2' }, secrets: [{ key: 'a', encryptedSecret: await sealValue(env(), v) }] });
  await objects.waitReady(ns, 'anywhere', 'True', 'Synced', 60_000);
  t.deepEqual(await probe.read(mount, 'v2', `shared/${ns}-app`), { a: v });
  await probe.write(mount, 'v2', `shared/${ns}-app`, { a: 'by-hand' });
  await eventually(async () => {
    if ((await probe.read(mount, 'v2', `shared/${ns}-app`))?.a !== v) throw new Error('not restored');
  }, withinResyncs(1, SYNC_PERIOD_MS));
});

test.serial('VAULT_AUTOPILOT_KMS_ALLOWED_KEY_IDS (an alias) refuses ciphertext of the other key', async (t) => {
  const foreign = await sealValue(env(), value('b'), undefined, env().kms.otherKeyAlias);
  await objects.create(ns, 'foreign', { path: `${mount}/${ns}/foreign`, kvSettings: { engineVersion: 'v2' }, secrets: [{ key: 'b', encryptedSecret: foreign }] });
  const obj = await objects.waitReady(ns, 'foreign', 'False', 'DecryptionFailed', 60_000);
  t.regex(obj.status!.conditions![0]!.message, /VAULT_AUTOPILOT_KMS_ALLOWED_KEY_IDS/);
  t.false(await probe.metadataExists(mount, `${ns}/foreign`));
});

test.serial('SIGTERM: clean exit 0; the output holds no value and no token', async (t) => {
  const code = await proc.kill('SIGTERM');
  t.is(code, 0);
  const out = proc.output();
  t.regex(out, /secret written to Vault/);
  for (const secret of [...plaintexts, env().vault.rootToken]) t.false(out.includes(secret));
});
