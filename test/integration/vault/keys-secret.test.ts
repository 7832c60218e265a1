// README promises about the keys Secret, against real Vault servers (file
// storage) and the real apiserver: keys already in the Secret while the Vault
// answers uninitialised -> no sys/init, Initialized=False InitFailed, the old
// keys untouched; an initialised, sealed Vault whose Secret has no keys ->
// Unsealed=False UnsealKeysMissing with ONE Warning Event however often it is
// re-checked.
import test from 'ava';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { useTestEnv, eventually, WITHIN } from '../../harness/index.js';
import { VaultServer } from '../../harness/vault.js';
import { VaultClient } from '../../../operator/vault/client.js';
import { CRD_FILE, Vaults, startVaultOperator, type RunningVaultOperator } from './helpers.js';

const env = useTestEnv(test, { vault: false, kms: true });
const dir = mkdtempSync(join(tmpdir(), 'keys-secret-'));
const servers: VaultServer[] = [];
let op: RunningVaultOperator | undefined;
let ns: string;
let vaults: Vaults;

test.before(async () => {
  await env().applyCrds(CRD_FILE);
  ns = await env().namespace('keys-secret');
  vaults = new Vaults(env().kubeConfig());
  op = await startVaultOperator(env(), ns, { sealedRecheckMs: 300 });
});

test.after.always(async () => {
  await op?.stop();
  for (const s of servers) await s.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function freshVault(label: string): Promise<VaultServer> {
  const vdir = join(dir, label);
  mkdirSync(vdir, { recursive: true });
  const server = await VaultServer.create(vdir, 'file');
  servers.push(server);
  await server.start();
  return server;
}

async function createVault(name: string, address: string): Promise<void> {
  await vaults.create({
    apiVersion: 'vault.autopilot.dev/v1alpha1',
    kind: 'Vault',
    metadata: { name, namespace: ns },
    spec: { external: { address }, unsealConfig: { options: { secretShares: 1, secretThreshold: 1 } } },
  });
}

async function createKeysSecret(vault: string, data: Record<string, string>): Promise<void> {
  await vaults.core.createNamespacedSecret({
    namespace: ns,
    body: { metadata: { name: `${vault}-unseal-keys`, labels: { 'vault.autopilot.dev/unseal-keys-of': vault } }, type: 'Opaque', stringData: data },
  });
}

test.serial('keys already in the Secret but the Vault answers uninitialised: no sys/init, InitFailed, the old keys kept', async (t) => {
  const server = await freshVault('refuse');
  await createKeysSecret('refuse', { 'vault-unseal-0': 'an-older-vaults-key-share' });
  await createVault('refuse', server.address);
  const condition = await vaults.waitForCondition(ns, 'refuse', 'Initialized', 'False', { reason: 'InitFailed' });
  t.regex(condition.message ?? '', /already holds unseal keys; the operator will not overwrite them/);
  // a later pass refuses again (it is not a one-off): the condition stays and Vault is still not initialised
  const seen = op!.reconciles();
  op!.operator.enqueue('Vault', ns, 'refuse');
  await eventually(async () => {
    if (op!.reconciles() <= seen) throw new Error('not reconciled again yet');
  }, WITHIN.reconcile);
  const init = await new VaultClient({ address: server.address, auth: { method: 'token' } }).request<{ initialized: boolean }>('GET', 'sys/init', undefined, { token: null });
  t.false(init.data.initialized, 'Vault was never initialised');
  t.deepEqual(await vaults.secretData(ns, 'refuse-unseal-keys'), { 'vault-unseal-0': 'an-older-vaults-key-share' }, 'the old keys are untouched');
  t.is((await vaults.condition(ns, 'refuse', 'Initialized'))?.reason, 'InitFailed');
});

test.serial('an initialised, sealed Vault whose keys Secret holds no keys: Unsealed=False UnsealKeysMissing, one Warning Event', async (t) => {
  const server = await freshVault('missing');
  // initialised by someone else; its keys are not given to the operator
  const client = new VaultClient({ address: server.address, auth: { method: 'token' } });
  await client.request('PUT', 'sys/init', { secret_shares: 1, secret_threshold: 1 }, { token: null });
  t.true((await client.sealStatus()).sealed);
  await createKeysSecret('missing', {});
  await createVault('missing', server.address);
  const condition = await vaults.waitForCondition(ns, 'missing', 'Unsealed', 'False', { reason: 'UnsealKeysMissing' });
  t.regex(condition.message ?? '', /holds no unseal keys/);
  // re-checked every 300 ms: five more passes, still one Event (not one per pass, not bumped)
  const seen = op!.reconciles();
  await eventually(async () => {
    if (op!.reconciles() < seen + 5) throw new Error(`${op!.reconciles() - seen} passes so far`);
  }, WITHIN.reconcile);
  const warnings = (await vaults.events(ns, 'missing')).filter((e) => e.type === 'Warning' && /holds no unseal keys/.test(e.message ?? ''));
  t.is(warnings.length, 1, warnings.map((e) => e.message).join(' | '));
  t.is(warnings[0]?.count ?? 1, 1, 'the Event was not repeated');
  t.true((await client.sealStatus()).sealed, 'still sealed: nothing to unseal it with');
});
