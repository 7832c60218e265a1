// README: "status.managed ... is written before new entries are created, so a
// crash between a Vault write and the status write cannot leave an entry the
// operator forgets", and it "survives operator restarts". Against the real
// Vault and apiserver: the policy write is held at a proxy in front of Vault
// while the test reads the record; then a NEW operator removes the entry once
// the spec drops it (a hand-made policy stays: only recorded entries go).
import test from 'ava';
import { useTestEnv, eventually, WITHIN } from '../../harness/index.js';
import { startFaultProxy, type FaultProxy, type Verdict } from '../../harness/fault-proxy.js';
import { VaultClient } from '../../../operator/vault/client.js';
import { CRD_FILE, Vaults, startVaultOperator, type RunningVaultOperator } from './helpers.js';

const env = useTestEnv(test, { vault: 'dev', kms: false });
const NAME = 'record';
const POLICY = `recorded-${Date.now().toString(36)}`;
const HAND_MADE = `hand-made-${Date.now().toString(36)}`;
let op: RunningVaultOperator | undefined;
let proxy: FaultProxy | undefined;
let ns: string;
let vaults: Vaults;

test.before(async () => {
  await env().applyCrds(CRD_FILE);
  ns = await env().namespace('vault-record');
  vaults = new Vaults(env().kubeConfig());
  op = await startVaultOperator(env(), ns);
});

test.after.always(async () => {
  await op?.stop();
  await proxy?.close();
});

test.serial('status.managed names the policy before Vault has it, and a restarted operator still removes it', async (t) => {
  const root = new VaultClient({ address: env().vault.address, auth: { method: 'token', token: env().vault.rootToken } });
  const policyStatus = async (name: string) => (await root.request('GET', `sys/policies/acl/${name}`, undefined, { allowStatus: [404] })).status;
  await root.request('PUT', `sys/policies/acl/${HAND_MADE}`, { policy: 'path "hand/*" { capabilities = ["read"] }' });
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  let held = false;
  proxy = await startFaultProxy(env().vault.address, {
    hooks: {
      onRequest: async (req): Promise<Verdict> => {
        if (req.method !== 'GET' && req.url.split('?')[0] === `/v1/sys/policies/acl/${POLICY}`) {
          held = true;
          await gate;
        }
        return 'pass';
      },
    },
  });
  await vaults.core.createNamespacedSecret({
    namespace: ns,
    body: { metadata: { name: 'record-token', labels: { 'vault.autopilot.dev/vault-token-for': NAME } }, stringData: { token: env().vault.rootToken } },
  });
  await vaults.create({
    apiVersion: 'vault.autopilot.dev/v1alpha1',
    kind: 'Vault',
    metadata: { name: NAME, namespace: ns },
    spec: {
      external: { address: proxy.url, auth: { method: 'token', tokenSecretRef: { name: 'record-token', key: 'token' } } },
      externalConfig: { policies: [{ name: POLICY, rules: 'path "recorded/*" { capabilities = ["read"] }' }] },
    },
  });
  await eventually(async () => {
    if (!held) throw new Error('the policy write has not reached Vault yet');
  }, { timeoutMs: 60_000 });
  // the write is on its way and held: the record already names it; Vault does not have it
  t.true(((await vaults.get(ns, NAME)).status?.managed?.policies ?? []).includes(POLICY), 'recorded before the Vault write');
  t.is(await policyStatus(POLICY), 404, 'Vault does not have it yet');
  release();
  await vaults.waitForCondition(ns, NAME, 'Ready', 'True', { timeoutMs: 60_000 });
  t.is(await policyStatus(POLICY), 200);

  // a new operator (nothing in memory) removes what the record names once the spec drops it
  await op!.stop();
  op = await startVaultOperator(env(), ns);
  await vaults.patchSpec(ns, NAME, { externalConfig: { policies: [] } });
  await eventually(async () => {
    if ((await policyStatus(POLICY)) !== 404) throw new Error('still in Vault');
  }, WITHIN.reconcile);
  t.is(await policyStatus(HAND_MADE), 200, 'a policy made by hand is never touched');
  await eventually(async () => {
    if (((await vaults.get(ns, NAME)).status?.managed?.policies ?? []).includes(POLICY)) throw new Error('still in the record');
  }, WITHIN.reconcile);
  t.pass('gone from the record too (after Vault)');
  await vaults.delete(ns, NAME);
  await root.request('DELETE', `sys/policies/acl/${HAND_MADE}`);
});
