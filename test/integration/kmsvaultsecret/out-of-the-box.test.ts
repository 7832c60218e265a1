// KMSVaultSecret with nothing configured beyond the install: no
// VAULT_AUTOPILOT_VAULT_ADDR, no hand-made policy, role, mount or CA. A
// `Vault` resource (external mode, a REAL uninitialised Vault) is initialised
// by the Vault controller, which also keeps a least-privilege login for
// KMSVaultSecrets; the KMS controller finds that Vault (the default one, or
// spec.vaultRef), logs in as the operator's ServiceAccount (Vault reviews the
// real token with the real apiserver) and writes the secret. Before that, the
// object says why it waits.
import test from 'ava';
import { CoreV1Api, RbacAuthorizationV1Api } from '@kubernetes/client-node';
import { KmsVaultSecretReason, NAMESPACE_CONTEXT_KEY, type KMSVaultSecretSpec } from '../../../operator/api/kmsvaultsecret.js';
import { registerKmsVaultSecretController } from '../../../operator/controllers/kmsvaultsecret/controller.js';
import { defaultKmsVaultSecretSettings, PathPolicy } from '../../../operator/controllers/kmsvaultsecret/settings.js';
import { VaultTargets } from '../../../operator/controllers/kmsvaultsecret/vault-target.js';
import { registerVaultController } from '../../../operator/controllers/vault/controller.js';
import { KMS_AUTH_ROLE, KMS_POLICY_NAME, KMS_ROLE_ID, kmsPolicyRules } from '../../../operator/controllers/vault/kms-identity.js';
import { AutopilotOperator, createLogger } from '../../../operator/framework/index.js';
import { AwsKms } from '../../../operator/kms/aws-kms.js';
import { VaultClient } from '../../../operator/vault/client.js';
import { startServers, eventually, WITHIN, type Servers } from '../../harness/index.js';
import { CRD_FILE as VAULT_CRD, LogCapture, testSettings, Vaults } from '../vault/helpers.js';
import { CRD_FILES, KMS_CREDENTIALS, Objects, sealValue } from './helpers.js';
import { HARNESS_VAULT_TRUST } from '../../support/external-vault.js';

const OPERATOR_SA = 'vault-autopilot';
const plaintexts: string[] = [];
let servers: Servers;
let operator: AutopilotOperator;
let kms: AwsKms;
let logs: LogCapture;
let vaultNs: string;
let tenant: string;
let vaults: Vaults;
let objects: Objects;
let operatorJwt: () => Promise<string>;
let rootToken = '';

const rootClient = () => new VaultClient({ address: servers.vault.address, auth: { method: 'token', token: rootToken }, timeoutMs: 3000 });

test.before(async () => {
  servers = await startServers({ vault: 'file', kms: true });
  const env = servers.env;
  await env.applyCrds(VAULT_CRD, ...CRD_FILES);
  vaultNs = await env.namespace('oob-vault');
  tenant = await env.namespace('oob-shop');
  vaults = new Vaults(env.kubeConfig());
  objects = new Objects(env.kubeConfig());
  // what install.yaml gives the operator: its ServiceAccount (whose tokens Vault may review)
  const kc = env.kubeConfig();
  const core = kc.makeApiClient(CoreV1Api);
  await core.createNamespacedServiceAccount({ namespace: vaultNs, body: { metadata: { name: OPERATOR_SA } } });
  await kc.makeApiClient(RbacAuthorizationV1Api).createClusterRoleBinding({
    body: {
      metadata: { name: `${vaultNs}-operator-auth-delegator` },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'system:auth-delegator' },
      subjects: [{ kind: 'ServiceAccount', name: OPERATOR_SA, namespace: vaultNs }],
    },
  });
  operatorJwt = async () =>
    (await core.createNamespacedServiceAccountToken({ name: OPERATOR_SA, namespace: vaultNs, body: { spec: { audiences: [], expirationSeconds: 3600 } } })).status!.token;

  logs = new LogCapture();
  operator = new AutopilotOperator({ kubeConfig: kc, logger: createLogger({ stream: logs, level: 'debug' }), backoff: { baseMs: 300, maxMs: 3000 }, shutdownTimeoutMs: 5000 });
  kms = new AwsKms({ region: env.kms.region, endpoint: env.kms.endpoint, credentials: KMS_CREDENTIALS, maxAttempts: 1 });
  // exactly what main.ts wires when VAULT_AUTOPILOT_VAULT_ADDR is unset
  await registerVaultController(operator, {
    settings: testSettings(env, { sealedRecheckMs: 500, operatorServiceAccount: { name: OPERATOR_SA, namespace: vaultNs } }),
    kms: () => kms,
    operatorJwt,
    kmsIdentity: { pathPolicy: PathPolicy.Namespace },
  });
  await registerKmsVaultSecretController(operator, {
    targets: new VaultTargets({ operatorJwt, trust: HARNESS_VAULT_TRUST }),
    decryptor: kms,
    settings: { ...defaultKmsVaultSecretSettings, defaultVault: { namespace: vaultNs, name: 'vault' }, kms: { allowedKeyIds: [] } },
  });
  await operator.start();
  await operator.waitForSync();
});

test.after.always(async () => {
  await operator?.stop();
  kms?.destroy();
  await servers?.stopAll();
});

/** The platform's Vaults serve the tenant's namespace (by its name label, as samples/vault-managed.yaml does for shop). */
const servesTenant = () => ({ namespaces: { from: 'Selector' as const, selector: { matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'In' as const, values: [tenant] }] } } });

async function spec(path: string, extra: Partial<KMSVaultSecretSpec> = {}): Promise<KMSVaultSecretSpec> {
  const value = `pw-${Math.random().toString(36).slice(2)}`;
  plaintexts.push(value);
  // bound to the tenant's namespace, as `seal --namespace` does
  const secretContext = { [NAMESPACE_CONTEXT_KEY]: tenant };
  return { path, kvSettings: { engineVersion: 'v2' }, secretContext, secrets: [{ key: 'DB_PASSWORD', encryptedSecret: await sealValue(servers.env, value, secretContext) }], ...extra };
}

test.serial('before any Vault exists the object says so (no status is never the answer)', async (t) => {
  await objects.create(tenant, 'db', await spec(`secret/${tenant}/orders/db`));
  const obj = await objects.waitReady(tenant, 'db', 'False', KmsVaultSecretReason.VaultNotFound);
  const ready = obj.status!.conditions!.find((c) => c.type === 'Ready')!;
  t.regex(ready.message, new RegExp(`Vault resource ${vaultNs}/vault does not exist`));
});

test.serial('the default Vault comes up: the secret lands with the login the Vault controller made, nothing set by hand', async (t) => {
  await vaults.create({
    apiVersion: 'vault.autopilot.dev/v1alpha1',
    kind: 'Vault',
    metadata: { name: 'vault', namespace: vaultNs },
    spec: {
      external: { address: servers.vault.address },
      unsealConfig: { options: { secretShares: 3, secretThreshold: 2, storeRootToken: true } },
      externalConfig: { secrets: [{ type: 'kv', path: 'secret', options: { version: '2' } }] },
      selfService: servesTenant(),
    },
  });
  const started = Date.now();
  await vaults.waitForCondition(vaultNs, 'vault', 'Ready', 'True', { timeoutMs: 60_000, intervalMs: 50 } as never);
  const ready = Date.now();
  const obj = await objects.waitReady(tenant, 'db', 'True', KmsVaultSecretReason.Synced);
  t.log(`Vault created -> Ready: ${ready - started} ms; Ready -> KMSVaultSecret Synced: ${Date.now() - ready} ms`);
  t.true(Date.now() - ready < 5000, 'the waiting object is synced when its Vault becomes usable, not at its next 10 s look');
  t.is(obj.status!.vault, `${vaultNs}/vault`);
  const managed = (await vaults.get(vaultNs, 'vault')).status!.managed!;
  t.true(managed.roles!.includes(KMS_ROLE_ID) && managed.policies!.includes(KMS_POLICY_NAME), 'the KMS login is recorded as managed');

  rootToken = (await vaults.secretData(vaultNs, 'vault-unseal-keys'))!['vault-root']!;
  const stored = await rootClient().request<{ data: { data: Record<string, string> } }>('GET', `secret/data/${tenant}/orders/db`);
  t.deepEqual(stored.data.data.data, { DB_PASSWORD: plaintexts[0] });
});

test.serial('the KMS login is least privilege: its policy covers the KV subtrees only', async (t) => {
  const policy = await rootClient().request<{ data: { policy: string } }>('GET', `sys/policies/acl/${KMS_POLICY_NAME}`);
  t.is(policy.data.data.policy, kmsPolicyRules([{ path: 'secret', version: 'v2' }], PathPolicy.Namespace));
  const role = await rootClient().request<{ data: { bound_service_account_names: string[]; bound_service_account_namespaces: string[]; token_policies: string[] } }>(
    'GET',
    `auth/vault-autopilot/role/${KMS_AUTH_ROLE}`,
  );
  t.deepEqual(role.data.data.bound_service_account_names, [OPERATOR_SA]);
  t.deepEqual(role.data.data.bound_service_account_namespaces, [vaultNs]);
  t.deepEqual(role.data.data.token_policies, [KMS_POLICY_NAME]);

  const asKms = new VaultClient({ address: servers.vault.address, auth: { method: 'kubernetes', role: KMS_AUTH_ROLE, mountPath: 'vault-autopilot', jwt: operatorJwt }, timeoutMs: 3000 });
  const denied = async (method: 'GET' | 'POST' | 'LIST', path: string, body?: unknown) => (await asKms.request(method, path, body, { allowStatus: [403] })).status === 403;
  t.true(await denied('POST', 'secret/data/top-level', { data: { a: '1' } }), 'the top level of the mount (outside every namespace)');
  t.true(await denied('GET', 'sys/policies/acl/root'));
  t.true(await denied('POST', 'sys/mounts/other', { type: 'kv' }));
  t.true(await denied('LIST', `secret/metadata/${tenant}`), 'no listing a namespace');
  t.is((await asKms.request('GET', `secret/data/${tenant}/orders/db`)).status, 200, 'its own subtree');
});

test.serial('a mount the Vault resource does not declare is out of reach, and the condition says where to declare it', async (t) => {
  await rootClient().request('POST', 'sys/mounts/undeclared', { type: 'kv', options: { version: '2' } });
  await objects.create(tenant, 'undeclared', await spec(`undeclared/${tenant}/x`));
  const obj = await objects.waitReady(tenant, 'undeclared', 'False', KmsVaultSecretReason.MountMismatch);
  t.regex(obj.status!.conditions![0]!.message, new RegExp(`through Vault ${vaultNs}/vault, KMSVaultSecrets may write only the KV mounts its spec.externalConfig.secrets declares`));
  t.is((await rootClient().request('GET', `undeclared/data/${tenant}/x`, undefined, { allowStatus: [404] })).status, 404, 'nothing written');
});

test.serial('spec.vaultRef: a missing Vault is named; the real one works; deletion cleans up there', async (t) => {
  await objects.create(tenant, 'ref', await spec(`secret/${tenant}/ref`, { vaultRef: { name: 'nope' } }));
  const waiting = await objects.waitReady(tenant, 'ref', 'False', KmsVaultSecretReason.VaultNotFound);
  t.regex(waiting.status!.conditions![0]!.message, new RegExp(`Vault resource ${tenant}/nope does not exist`), "namespace defaults to the object's");
  await objects.updateSpec(tenant, 'ref', (s) => ({ ...s, vaultRef: { name: 'vault', namespace: vaultNs } }));
  const synced = await objects.waitReady(tenant, 'ref', 'True', KmsVaultSecretReason.Synced);
  t.is(synced.status!.vault, `${vaultNs}/vault`);
  t.is((await rootClient().request('GET', `secret/data/${tenant}/ref`, undefined, { allowStatus: [404] })).status, 200);

  await objects.custom.deleteNamespacedCustomObject({ group: 'vault.autopilot.dev', version: 'v1alpha1', namespace: tenant, plural: 'kmsvaultsecrets', name: 'ref' });
  await eventually(async () => {
    if ((await rootClient().request('GET', `secret/metadata/${tenant}/ref`, undefined, { allowStatus: [404] })).status !== 404) throw new Error('still in Vault');
  }, WITHIN.reconcile);
  t.pass();
});

test.serial('a Vault that is not Ready: the object repeats what the Vault says is wrong', async (t) => {
  await vaults.create({
    apiVersion: 'vault.autopilot.dev/v1alpha1',
    kind: 'Vault',
    metadata: { name: 'down', namespace: vaultNs },
    spec: { external: { address: 'http://127.0.0.1:1' }, selfService: servesTenant() },
  });
  await vaults.waitForCondition(vaultNs, 'down', 'Ready', 'False', { timeoutMs: 30_000 });
  await objects.create(tenant, 'down', await spec(`secret/${tenant}/down`, { vaultRef: { name: 'down', namespace: vaultNs } }));
  const obj = await objects.waitReady(tenant, 'down', 'False', KmsVaultSecretReason.VaultNotReady);
  t.regex(obj.status!.conditions![0]!.message, new RegExp(`Vault ${vaultNs}/down is not Ready \\(NotReady: Initialized: .*127\\.0\\.0\\.1:1`));
});

test.serial('no plaintext, token or JWT in logs, events or statuses', async (t) => {
  const events = JSON.stringify(await objects.events(tenant));
  const statuses = objects.statusesSeen.join('\n');
  t.true(plaintexts.length >= 2);
  for (const v of [...plaintexts, rootToken]) {
    t.false(logs.text().includes(v));
    t.false(events.includes(v));
    t.false(statuses.includes(v));
  }
});
