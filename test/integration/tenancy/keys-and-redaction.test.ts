// Issue 11, acted out by a tenant holding `edit` in namespace A only
// (impersonation through the apiserver's RBAC):
// - unseal-key ciphertext copied from namespace B's keys Secret into a keys
//   Secret of A, under every encryption context the tenant can name, is never
//   decrypted for A's Vault (a listening "Vault" of the tenant's receives no
//   key); keys bound to A still are (the control);
// - values the tenant chooses (a tokenSecretRef token, startupSecrets values
//   from a Secret, unseal keys, a hand-made operator token) are redacted in
//   the lines of the tenant's own Vault resource only: choosing `namespace`
//   or `controller` leaves every other log line intact and valid JSON.
// Nothing outside A may change.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { NAMESPACE_CONTEXT_KEY } from '../../../operator/api/kmsvaultsecret.js';
import type { VaultResource } from '../../../operator/api/vault.js';
import type { KubeClients } from '../../../operator/framework/kube.js';
import { REDACTED, redactText } from '../../../operator/framework/logger.js';
import { AwsKms } from '../../../operator/kms/aws-kms.js';
import type { EncryptionContext } from '../../../operator/kms/decryptor.js';
import { VaultClient } from '../../../operator/vault/client.js';
import { kmsContext } from '../../../operator/vault/unseal.js';
import { eventually, WITHIN } from '../../harness/index.js';
import { VaultServer } from '../../harness/vault.js';
import { tokenSecretLabels } from '../../support/external-vault.js';
import { describeChanges, diffSnapshots, snapshotOutside, useTenantEnv, type Snapshot, type Tenant } from '../../support/tenant.js';
import { VaultListener } from '../../support/vault-listener.js';
import { startVaultOperator, type RunningVaultOperator, type Vaults } from '../vault/helpers.js';
import { vaultIn, vaultTenant } from './helpers.js';

const { env } = useTenantEnv(test);

let tenant: Tenant;
let admin: KubeClients;
let asTenant: Vaults;
let asAdmin: Vaults;
let op: RunningVaultOperator;
let before: Snapshot;
let teamB = '';
let dir = '';
let ownVault: VaultServer; // a Vault the tenant runs and holds the root token of
const catcher = new VaultListener(); // the tenant's "Vault" that copied keys would be sent to
const control = new VaultListener(); // the tenant's Vault whose keys are bound to A
let catcherAddress = '';
let controlAddress = '';
/** Plaintext unseal keys of namespace B's Secrets: must never reach the catcher. */
const teamBKeys: string[] = [];
/** B's keys Secrets, by how they were encrypted. */
const copied: Record<'operator' | 'bankVaults' | 'bankVaultsContext', Record<string, string>> = { operator: {}, bankVaults: {}, bankVaultsContext: {} };
const ns = () => tenant.namespace;

const vault = (name: string, spec: VaultResource['spec']): VaultResource => vaultIn(ns(), name, spec);
const kmsUnseal = (kmsEncryptionContext?: string): VaultResource['spec']['unsealConfig'] => ({
  aws: { kmsKeyId: env().kms.keyAlias, kmsRegion: env().kms.region, ...(kmsEncryptionContext ? { kmsEncryptionContext } : {}) },
});

async function encryptKeys(kms: AwsKms, prefix: string, context: EncryptionContext | undefined): Promise<Record<string, string>> {
  const data: Record<string, string> = {};
  for (let i = 0; i < 2; i++) {
    const plain = `${prefix}-share-${i}-${Math.random().toString(36).slice(2, 12)}`;
    if (prefix.startsWith('team-b')) teamBKeys.push(plain);
    const out = await kms.encrypt({ keyId: env().kms.keyAlias, plaintext: Buffer.from(plain), ...(context ? { context } : {}) });
    data[`vault-unseal-${i}`] = Buffer.from(out.ciphertext).toString('base64');
  }
  return data;
}

test.before(async () => {
  const e = env();
  ({ tenant, admin, asTenant, asAdmin } = await vaultTenant(e, 'keys'));
  catcherAddress = await catcher.start();
  controlAddress = await control.start();
  dir = mkdtempSync(join(tmpdir(), 'tenancy-keys-'));
  ownVault = await VaultServer.create(dir, 'dev');
  await ownVault.start();

  // team B's keys Secrets, as the operator and as Bank-Vaults store them (B is a listed legacy namespace: its own Vault reads them)
  teamB = await e.namespace('team-b');
  const kms = new AwsKms({ region: e.kms.region, endpoint: e.kms.endpoint, credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
  copied.operator = await encryptKeys(kms, 'team-b-operator', kmsContext(teamB, 'vault'));
  copied.bankVaults = await encryptKeys(kms, 'team-b-bank-vaults', undefined);
  copied.bankVaultsContext = await encryptKeys(kms, 'team-b-bank-vaults-ctx', { app: 'vault' });
  kms.destroy();
  for (const [name, data] of Object.entries(copied)) {
    await admin.core.createNamespacedSecret({ namespace: teamB, body: { metadata: { name: `${name.toLowerCase()}-unseal-keys` }, data } });
  }

  op = await startVaultOperator(e, ns(), {
    namespace: undefined, // every namespace: A and B
    resyncPeriodMs: 2000, // B's Vault below logs a line every 2 s
    externalVaults: { allowed: [catcherAddress, controlAddress, ownVault.address], allowHttp: true },
    legacyNamespaces: [teamB],
  });
  // another team's Vault resource, refused for its own reason: its lines must stay untouched by A's values
  await asAdmin.create({ ...vault('other', { external: { address: 'http://127.0.0.1:1' } }), metadata: { name: 'other', namespace: teamB } });
  await asAdmin.waitForCondition(teamB, 'other', 'Ready', 'False', { reason: 'ExternalAddressNotAllowed' });
  before = await snapshotOutside(e, ns());
});

test.after.always(async () => {
  await op?.stop();
  await catcher.stop();
  await control.stop();
  await ownVault?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test.serial("namespace B's unseal-key ciphertext copied into A: not decrypted for A's Vault, whatever context the tenant names", async (t) => {
  const esc = (text: string) => text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  const attempts: Array<{ name: string; data: Record<string, string>; context?: string; message: RegExp }> = [
    // Bank-Vaults' keys (no context): would decrypt anywhere but for the binding
    { name: 'copy-bv', data: copied.bankVaults, message: new RegExp(`not bound to a namespace.*contains ${esc(NAMESPACE_CONTEXT_KEY)}=${ns()} .*lists "${ns()}"`) },
    { name: 'copy-bv-ctx', data: copied.bankVaultsContext, context: 'app=vault', message: /Nothing was decrypted with kmsEncryptionContext "app=vault"/ },
    // the operator's own ciphertext of B's Vault, its context named by hand
    { name: 'copy-own', data: copied.operator, context: `vault.autopilot.dev/vault=${teamB}/vault`, message: /not bound to a namespace/ },
    { name: 'copy-claim', data: copied.operator, context: `vault.autopilot.dev/vault=${teamB}/vault,${NAMESPACE_CONTEXT_KEY}=${teamB}`, message: new RegExp(`names namespace "${teamB}", not "${ns()}"`) },
    // bound to A on paper: KMS itself refuses, since B's keys were not encrypted so
    { name: 'copy-relabel', data: copied.operator, context: `vault.autopilot.dev/vault=${teamB}/vault,${NAMESPACE_CONTEXT_KEY}=${ns()}`, message: /nor with kmsEncryptionContext .*encrypted for another Vault or with another context/ },
  ];
  for (const a of attempts) {
    await tenant.kube.core.createNamespacedSecret({ namespace: ns(), body: { metadata: { name: `${a.name}-unseal-keys` }, data: a.data } });
    await asTenant.create(vault(a.name, { external: { address: catcherAddress }, unsealConfig: kmsUnseal(a.context) }));
  }
  for (const a of attempts) {
    const c = await asAdmin.waitForCondition(ns(), a.name, 'Ready', 'False', { reason: 'UnsealKeysNotBound' });
    t.regex(c.message, new RegExp(`^Secret ${a.name}-unseal-keys: the unseal keys do not decrypt with this Vault's own encryption context ${esc(`(vault.autopilot.dev/vault=${ns()}/${a.name})`)}`));
    t.regex(c.message, a.message, a.name);
    t.regex(c.message, /Nothing was sent to Vault$/);
  }
  const event = (await asAdmin.events(ns(), 'copy-bv')).find((e) => e.reason === 'Refused');
  t.regex(event?.message ?? '', /VAULT_AUTOPILOT_KMS_LEGACY_NAMESPACES/, 'a Warning Event says it too');
  // the catcher was asked for its seal status, never given a key or a token
  t.true(catcher.requests.length > 0, 'the operator did look at the tenant\'s Vault');
  t.deepEqual(catcher.requests.filter((r) => !r.startsWith('GET /v1/sys/seal-status ')), []);
  for (const key of teamBKeys) t.false(catcher.requests.some((r) => r.includes(key)), 'no key of B reached the tenant');
});

test.serial('control: keys encrypted bound to A (kmsEncryptionContext with the namespace) are decrypted and sent to the tenant\'s Vault', async (t) => {
  const kms = new AwsKms({ region: env().kms.region, endpoint: env().kms.endpoint, credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
  const data: Record<string, string> = {};
  const plain = `team-a-share-${Math.random().toString(36).slice(2, 12)}`;
  data['vault-unseal-0'] = Buffer.from((await kms.encrypt({ keyId: env().kms.keyAlias, plaintext: Buffer.from(plain), context: { app: 'vault', [NAMESPACE_CONTEXT_KEY]: ns() } })).ciphertext).toString('base64');
  kms.destroy();
  await tenant.kube.core.createNamespacedSecret({ namespace: ns(), body: { metadata: { name: 'own-unseal-keys' }, data } });
  await asTenant.create(vault('own', { external: { address: controlAddress }, unsealConfig: kmsUnseal(`app=vault,${NAMESPACE_CONTEXT_KEY}=${ns()}`) }));
  await eventually(async () => {
    if (!control.requests.some((r) => r.startsWith('PUT /v1/sys/unseal ') && r.includes(plain))) throw new Error('no unseal request with the key yet');
  }, WITHIN.reconcile);
  // the stand-in stays sealed: the condition says so, and names no key
  const c = await asAdmin.waitForCondition(ns(), 'own', 'Unsealed', 'False', { reason: 'Sealed' });
  t.false(c.message.includes(plain));
});

test.serial('values the tenant chooses are redacted in their own Vault\'s lines only: "namespace", "controller", "timestamp" leave other lines intact', async (t) => {
  const chosen = { quote: '"', word: 'vault', ns: 'namespace', ctl: 'controller', ts: 'timestamp', json: '"message":"' };
  await tenant.kube.core.createNamespacedSecret({ namespace: ns(), body: { metadata: { name: 'chosen' }, stringData: chosen } });
  // startupSecrets from a Secret, through a token the tenant labelled: their own Vault, their own values
  await tenant.kube.core.createNamespacedSecret({ namespace: ns(), body: { metadata: { name: 'mine-token', labels: tokenSecretLabels('mine') }, stringData: { token: ownVault.rootToken } } });
  await asTenant.create(
    vault('mine', {
      external: { address: ownVault.address, auth: { method: 'token', tokenSecretRef: { name: 'mine-token' } } },
      externalConfig: {
        secrets: [{ type: 'kv', path: 'secret', options: { version: 2 } }],
        startupSecrets: [{ type: 'kv', path: 'secret/data/chosen', data: { secretKeyRef: Object.keys(chosen).map((key) => ({ name: 'chosen', key })) } }],
      },
    }),
  );
  // a token that is a common word (login refused), and unseal keys and an operator token made by hand
  await tenant.kube.core.createNamespacedSecret({ namespace: ns(), body: { metadata: { name: 'word-token', labels: tokenSecretLabels('word') }, stringData: { token: 'controller' } } });
  await asTenant.create(vault('word', { external: { address: ownVault.address, auth: { method: 'token', tokenSecretRef: { name: 'word-token' } } } }));
  await tenant.kube.core.createNamespacedSecret({ namespace: ns(), body: { metadata: { name: 'plain-unseal-keys' }, stringData: { 'vault-unseal-0': 'timestamp', 'vault-root': 'namespace' } } });
  await tenant.kube.core.createNamespacedSecret({ namespace: ns(), body: { metadata: { name: 'handmade-operator-token' }, stringData: { token: 'timestamp' } } });
  await asTenant.create(vault('plain', { external: { address: catcherAddress } }));
  await asTenant.create(vault('handmade', { external: { address: ownVault.address } }));

  const own = new VaultClient({ address: ownVault.address, auth: { method: 'token', token: ownVault.rootToken }, timeoutMs: 5000 });
  const written = await eventually(async () => {
    const res = await own.request<{ data: { data: Record<string, string> } }>('GET', 'secret/data/chosen', undefined, { allowStatus: [404] });
    if (res.status === 404) throw new Error('startup secret not written yet');
    return res.data.data.data;
  }, WITHIN.reconcile);
  t.deepEqual(written, chosen, 'the values were read from the Secret (and so registered for redaction)');
  await asAdmin.waitForCondition(ns(), 'word', 'Configured', 'False', { reason: 'NotAuthorized' });
  await eventually(async () => {
    if (!catcher.requests.some((r) => r.startsWith('PUT /v1/sys/unseal ') && r.includes('timestamp'))) throw new Error('plain keys not read yet');
  }, WITHIN.reconcile);
  await asAdmin.waitForCondition(ns(), 'handmade', 'Configured', 'False', { reason: 'NotAuthorized' });

  // registered for A's Vault resources only: nothing global
  for (const word of ['namespace', 'controller', 'timestamp', '"message":"']) t.is(redactText(`x ${word} x`), `x ${word} x`, `${word} is not redacted outside A`);
  t.is(redactText('namespace', `Vault/${ns()}/mine`), REDACTED, 'but is in the lines of the Vault that read it');
  // B's Vault is reconciled every 2 s: wait for two of its lines written after all of that
  const mark = op.logs.lines.length;
  await eventually(async () => {
    const later = op.logs.lines.slice(mark).filter((l) => l.includes(`"${teamB}"`));
    if (later.length < 2) throw new Error('no line about B\'s Vault yet');
  }, WITHIN.reconcile);
  const lines = op.logs.lines.flatMap((chunk) => chunk.split('\n').filter(Boolean));
  const parsed = lines.map((l) => JSON.parse(l) as Record<string, unknown>); // every line is one JSON object
  const aboutB = parsed.filter((l) => l.namespace === teamB);
  t.true(aboutB.length >= 2);
  for (const l of aboutB) {
    t.is(l.controller, 'Vault');
    t.is(l.name, 'other');
    t.truthy(l.timestamp);
  }
  // (in A's own lines even the key "namespace" may be redacted: they are told apart by A's name in a value)
  const outsideA = lines.filter((l) => !l.includes(ns()));
  t.true(outsideA.length > aboutB.length);
  t.deepEqual(outsideA.filter((l) => l.includes(REDACTED)), [], 'no line outside A is redacted at all');
  t.true(
    parsed.some((l) => l.name === 'mine' && Object.values(l).includes(ns())),
    'the tenant\'s own Vault logged too',
  );
});

test.serial('after every attempt: nothing outside namespace A changed (Kubernetes objects, cluster RBAC, Vault)', async (t) => {
  const changes = diffSnapshots(before, await snapshotOutside(env(), ns()));
  t.deepEqual(changes, [], describeChanges(changes));
});
