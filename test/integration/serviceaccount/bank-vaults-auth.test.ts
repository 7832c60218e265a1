// A migrated Bank-Vaults `Vault` writes its Kubernetes auth method without a
// path (`{type: kubernetes}`: mounted at `kubernetes`). The ServiceAccount
// controller's roles go to that same mount: they must join that entry (the
// CRD refuses a second entry for one mount path), on the real apiserver and a
// Vault of this file's own (the mount is `auth/kubernetes`, which the shared
// Vault's other users may not expect).
import { readFileSync } from 'node:fs';
import test from 'ava';
import { serviceAccountRoleName } from '../../../operator/api/naming.js';
import { eventually, startServers, useTestEnv, type Servers } from '../../harness/index.js';
import { Cluster, startOperator, VAULT_CRD, type RunningOperator } from './helpers.js';
import { tokenSecretLabels } from '../../support/external-vault.js';

const env = useTestEnv(test);
const AUTO = 'vault.autopilot.dev/auto-configure';
let vault: Servers;
let cluster: Cluster;
let ns: string;
let op: RunningOperator | undefined;

async function vaultGet(path: string): Promise<{ status: number; json: Record<string, any> }> {
  const res = await fetch(`${vault.vault.address}/v1/${path}`, {
    method: path.endsWith('/role') ? 'LIST' : 'GET',
    headers: { 'x-vault-token': vault.env.vault.rootToken },
  });
  const text = await res.text();
  return { status: res.status, json: text ? (JSON.parse(text) as Record<string, any>) : {} };
}

async function roles(): Promise<string[]> {
  const res = await vaultGet('auth/kubernetes/role');
  return res.status === 200 ? ((res.json.data?.keys as string[]) ?? []).sort() : [];
}

test.before(async () => {
  vault = await startServers({ apiserver: false, kms: false });
  await env().applyCrds(VAULT_CRD);
  cluster = new Cluster(env());
  ns = await env().namespace('sa-bv-auth');
  await cluster.kube.core.createNamespacedSecret({
    namespace: ns,
    body: { metadata: { name: 'root-token', labels: tokenSecretLabels('vault') }, stringData: { token: vault.env.vault.rootToken } },
  });
  // Bank-Vaults' shape: no `path`; written with fieldValidation=Strict
  await cluster.kube.raw.request({
    method: 'POST',
    path: `${cluster.vaultPath(ns)}?fieldValidation=Strict`,
    body: {
      apiVersion: 'vault.autopilot.dev/v1alpha1',
      kind: 'Vault',
      metadata: { name: 'vault', namespace: ns },
      spec: {
        external: { address: vault.vault.address, auth: { method: 'token', tokenSecretRef: { name: 'root-token', key: 'token' } } },
        externalConfig: {
          auth: [
            {
              type: 'kubernetes',
              config: { kubernetes_host: env().apiserverUrl, kubernetes_ca_cert: readFileSync(env().apiserverCaFile, 'utf8') },
              roles: [{ name: 'hand-written', bound_service_account_names: ['x'], bound_service_account_namespaces: ['x'] }],
            },
          ],
        },
      },
    },
  });
  op = await startOperator(env(), { namespace: ns, env: { VAULT_AUTOPILOT_TARGET_VAULT: `${ns}/vault` }, vaultController: true });
});

test.after.always(async () => {
  await op?.stop();
  await vault?.stopAll();
});

test.serial('an annotated ServiceAccount joins the pathless kubernetes entry: one entry, both roles, in the resource and in Vault', async (t) => {
  const role = serviceAccountRoleName(ns, 'web');
  await cluster.createServiceAccount(ns, 'web', { [AUTO]: 'true' });
  await eventually(
    async () => {
      const found = await roles();
      if (!found.includes(role) || !found.includes('hand-written')) throw new Error(`roles in Vault: ${found.join(',')}`);
    },
    { timeoutMs: 60_000, intervalMs: 250 },
  );
  const auth = (await cluster.externalConfig(ns, 'vault')).auth ?? [];
  t.is(auth.length, 1, 'one auth entry for the one mount');
  t.is(auth[0]?.type, 'kubernetes');
  t.falsy(auth[0]?.path, 'the entry keeps the path it was written with (none)');
  t.deepEqual((auth[0]?.roles ?? []).map((r) => r.name).sort(), ['hand-written', role]);
  const bound = await vaultGet(`auth/kubernetes/role/${role}`);
  t.deepEqual(bound.json.data?.bound_service_account_names, ['web']);
  t.deepEqual(bound.json.data?.bound_service_account_namespaces, [ns]);
  const refused = (await cluster.events(ns, 'web')).filter((e) => e.type === 'Warning');
  t.deepEqual(refused.map((e) => `${e.reason}: ${e.message}`), [], 'no Warning on the ServiceAccount');
});

test.serial('un-annotated: its role leaves the entry and Vault; the hand-written role and the pathless entry stay', async (t) => {
  const role = serviceAccountRoleName(ns, 'web');
  await cluster.annotate(ns, 'web', { [AUTO]: null });
  await eventually(
    async () => {
      const found = await roles();
      if (found.includes(role)) throw new Error(`role still in Vault: ${found.join(',')}`);
    },
    { timeoutMs: 60_000, intervalMs: 250 },
  );
  const auth = (await cluster.externalConfig(ns, 'vault')).auth ?? [];
  t.is(auth.length, 1);
  t.falsy(auth[0]?.path);
  t.deepEqual((auth[0]?.roles ?? []).map((r) => r.name), ['hand-written']);
  t.deepEqual(await roles(), ['hand-written']);
});
