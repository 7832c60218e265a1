// Transit auto-unseal through another Vault, with TWO real Vault servers: the
// shared dev Vault provides the transit key; a file-storage Vault has
// `seal "transit"` in its configuration. The operator initialises it with
// recovery keys (recovery_shares/threshold: the keys cannot unseal, the seal
// does), configures it, and after a restart the seal unseals it on its own.
// (Bank-Vaults' unsealConfig.vault is another thing: unseal keys kept in
// another Vault's KV; see the README migration table.)
import test from 'ava';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eventually, useTestEnv } from '../../harness/index.js';
import { VaultServer } from '../../harness/vault.js';
import { VaultClient } from '../../../operator/vault/client.js';
import { CRD_FILE, Vaults, startVaultOperator, type RunningVaultOperator } from './helpers.js';

const env = useTestEnv(test, { vault: 'dev', kms: false });
const dir = mkdtempSync(join(tmpdir(), 'transit-unseal-'));
const NAME = 'transit-sealed';
let op: RunningVaultOperator | undefined;
let server: VaultServer | undefined;
let ns: string;
let vaults: Vaults;
let provider: VaultClient;

test.before(async () => {
  await env().applyCrds(CRD_FILE);
  ns = await env().namespace('transit-unseal');
  vaults = new Vaults(env().kubeConfig());
  provider = new VaultClient({ address: env().vault.address, auth: { method: 'token', token: env().vault.rootToken }, timeoutMs: 10_000 });
  // the provider side: a transit mount and key, and a periodic token that may only encrypt/decrypt with it
  const mount = `transit-${ns}`;
  await provider.request('POST', `sys/mounts/${mount}`, { type: 'transit' });
  await provider.request('POST', `${mount}/keys/autounseal`, {});
  await provider.request('PUT', `sys/policies/acl/${mount}`, {
    policy: `path "${mount}/encrypt/autounseal" { capabilities = ["update"] }\npath "${mount}/decrypt/autounseal" { capabilities = ["update"] }\n`,
  });
  const token = await provider.request<{ auth: { client_token: string } }>('POST', 'auth/token/create-orphan', { policies: [mount], period: '24h' });
  const sealToken = token.data.auth.client_token;
  const seal = ['seal "transit" {', `  address    = "${env().vault.address}"`, `  token      = "${sealToken}"`, `  mount_path = "${mount}/"`, '  key_name   = "autounseal"', '}', ''].join('\n');
  server = await VaultServer.create(dir, 'file', seal);
  await server.start();
  op = await startVaultOperator(env(), ns, { sealedRecheckMs: 500 });
});

test.after.always(async () => {
  await op?.stop();
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const sealStatus = () => new VaultClient({ address: server!.address, auth: { method: 'token' }, timeoutMs: 5000 }).sealStatus();

test.serial('initialised with recovery keys, unsealed by its transit seal, configured by the operator', async (t) => {
  const before = await sealStatus();
  t.is(before.type, 'transit');
  t.false(before.initialized);
  await vaults.create({
    apiVersion: 'vault.autopilot.dev/v1alpha1',
    kind: 'Vault',
    metadata: { name: NAME, namespace: ns },
    spec: {
      external: { address: server!.address },
      unsealConfig: { options: { secretShares: 3, secretThreshold: 2 } },
      externalConfig: { policies: [{ name: 'transit-check', rules: 'path "secret/*" { capabilities = ["read"] }' }] },
    },
  });
  await vaults.waitForCondition(ns, NAME, 'Ready', 'True', { timeoutMs: 90_000 });
  const after = await sealStatus();
  t.true(after.initialized);
  t.false(after.sealed);
  t.true(after.recovery_seal, 'recovery keys, not unseal keys');
  const keys = (await vaults.secretData(ns, `${NAME}-unseal-keys`))!;
  t.deepEqual(Object.keys(keys).filter((k) => k.startsWith('vault-unseal-')).sort(), ['vault-unseal-0', 'vault-unseal-1', 'vault-unseal-2'], 'the 3 recovery shares are kept');
  const events = await vaults.events(ns, NAME);
  t.true(events.some((e) => e.reason === 'Initialized' && /3 recovery key shares/.test(e.message ?? '')));
  // the configuration reached the transit-sealed Vault
  t.true((await vaults.get(ns, NAME)).status?.managed?.policies?.includes('transit-check') ?? false);
});

test.serial('restarted, the seal unseals it again on its own', async (t) => {
  await server!.stop();
  await server!.start();
  // nobody but the seal can unseal it (the stored keys are recovery keys): unsealed = the transit provider did it
  const status = await eventually(async () => {
    const st = await sealStatus();
    if (st.sealed) throw new Error('still sealed');
    return st;
  }, { timeoutMs: 60_000 });
  t.true(status.initialized && status.recovery_seal === true);
  await vaults.waitForCondition(ns, NAME, 'Ready', 'True', { timeoutMs: 60_000 });

  const events = await vaults.events(ns, NAME);
  t.false(events.some((e) => /holds no unseal keys/.test(e.message ?? '')), 'never mistaken for missing keys');
});
