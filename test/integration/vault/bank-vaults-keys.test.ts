// Unseal keys that Bank-Vaults stored are read: a REAL Vault initialised
// outside the operator, its keys in Bank-Vaults' Secret layout, KMS-encrypted
// (local-kms) WITHOUT an encryption context, as Bank-Vaults' aws-kms mode
// leaves them. The migrated resource (secretNamespace = its own namespace)
// unseals it without a manual step.
import test from 'ava';
import { AwsKms } from '../../../operator/kms/aws-kms.js';
import { VaultClient } from '../../../operator/vault/client.js';
import { startServers, eventually, type Servers } from '../../harness/index.js';
import { CRD_FILE, Vaults, startVaultOperator, type RunningVaultOperator } from './helpers.js';

let servers: Servers;
let op: RunningVaultOperator;
let ns: string;
let vaults: Vaults;
const NAME = 'migrated';

test.before(async () => {
  servers = await startServers({ vault: 'file', kms: true });
  await servers.env.applyCrds(CRD_FILE);
  ns = await servers.env.namespace('bv-keys');
  vaults = new Vaults(servers.env.kubeConfig());
  // Bank-Vaults' keys carry no namespace: read only because the platform lists this namespace as legacy (trust.ts unsealKeyContexts)
  op = await startVaultOperator(servers.env, ns, { sealedRecheckMs: 500, resyncPeriodMs: 2000, legacyNamespaces: [ns] });
});

test.after.always(async () => {
  await op?.stop();
  await servers?.stopAll();
});

test.serial('a Vault Bank-Vaults initialised (KMS ciphertext, no context) is unsealed by the migrated resource', async (t) => {
  const vault = new VaultClient({ address: servers.vault.address, auth: { method: 'token' }, timeoutMs: 5000 });
  const init = await vault.request<{ keys: string[]; root_token: string }>('PUT', 'sys/init', { secret_shares: 3, secret_threshold: 2 }, { token: null });
  t.true((await vault.sealStatus()).sealed);
  const kmsEnv = servers.env.kms;
  const kms = new AwsKms({ region: kmsEnv.region, endpoint: kmsEnv.endpoint, credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
  const encrypt = async (text: string) => Buffer.from((await kms.encrypt({ keyId: kmsEnv.keyAlias, plaintext: Buffer.from(text) })).ciphertext).toString('base64');
  const data: Record<string, string> = { 'vault-root': await encrypt(init.data.root_token) };
  for (const [i, key] of init.data.keys.entries()) data[`vault-unseal-${i}`] = await encrypt(key);
  kms.destroy();
  await vaults.core.createNamespacedSecret({ namespace: ns, body: { metadata: { name: `${NAME}-unseal-keys` }, data } });

  await vaults.create({
    apiVersion: 'vault.autopilot.dev/v1alpha1',
    kind: 'Vault',
    metadata: { name: NAME, namespace: ns },
    spec: {
      external: { address: servers.vault.address },
      unsealConfig: {
        options: { preFlightChecks: true, storeRootToken: true },
        kubernetes: { secretNamespace: ns },
        aws: { kmsKeyId: kmsEnv.keyAlias, kmsRegion: kmsEnv.region },
      },
    },
  });
  await vaults.waitForCondition(ns, NAME, 'Unsealed', 'True', { timeoutMs: 60_000 });
  t.false((await vault.sealStatus()).sealed);
  // it was not initialised again: the stored root token still works, and became the way the operator got its own token
  await vaults.waitForCondition(ns, NAME, 'Ready', 'True', { timeoutMs: 30_000 });
  const self = await new VaultClient({ address: servers.vault.address, auth: { method: 'token', token: init.data.root_token } }).request<{ data: { policies: string[] } }>('GET', 'auth/token/lookup-self');
  t.deepEqual(self.data.data.policies, ['root']);
  t.truthy((await vaults.secretData(ns, `${NAME}-operator-token`))?.token);
  const status = (await vaults.get(ns, NAME)).status!;
  t.is(status.ignoredFields, undefined, 'secretNamespace = own namespace and preFlightChecks are honoured, nothing reported');
  // no key or token in the operator's logs
  for (const value of [init.data.root_token, ...init.data.keys]) t.false(op.logs.text().includes(value));
});

test.serial('sealed again (restart): unsealed again from the same Bank-Vaults ciphertext', async (t) => {
  await servers.vault.stop();
  await servers.vault.start();
  const vault = new VaultClient({ address: servers.vault.address, auth: { method: 'token' }, timeoutMs: 5000 });
  await eventually(async () => {
    if ((await vault.sealStatus()).sealed) throw new Error('still sealed');
  }, { timeoutMs: 30_000 });
  await vaults.waitForCondition(ns, NAME, 'Ready', 'True');
  t.false((await vault.sealStatus()).sealed);
});
