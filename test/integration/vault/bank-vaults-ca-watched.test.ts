// caNamespaces and watchedSecretsLabels/Annotations, in Bank-Vaults' shapes,
// against the REAL apiserver (created with fieldValidation=Strict; no kubelet,
// so the pods never run): the CA copy appears only in namespaces the Vault's
// selfService admits, never over a Secret the operator did not make, follows
// the list and goes with the Vault; a change of a watched Secret rolls the
// StatefulSet's pod template, a change of another Secret does not.
import test from 'ava';
import { AppsV1Api, CoreV1Api, CustomObjectsApi } from '@kubernetes/client-node';
import { API_GROUP, API_VERSION } from '../../../operator/api/naming.js';
import { VAULT_PLURAL, type VaultResource } from '../../../operator/api/vault.js';
import { WATCHED_SECRETS_ANNOTATION } from '../../../operator/controllers/vault/watched-secrets.js';
import { eventually, WITHIN, useTestEnv } from '../../harness/index.js';
import { CRD_FILE, Vaults, startVaultOperator, type RunningVaultOperator } from './helpers.js';

const env = useTestEnv(test, { vault: false, kms: false });
const NAME = 'bv-ca';
let op: RunningVaultOperator;
let ns: string;
let admitted: string;
let denied: string;
let foreign: string;
let vaults: Vaults;
let core: CoreV1Api;
let apps: AppsV1Api;

const isNotFound = (err: unknown) => (err as { code?: number }).code === 404;
async function secretOrUndefined(namespace: string, name: string) {
  try {
    return await core.readNamespacedSecret({ name, namespace });
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}
const template = async () => (await apps.readNamespacedStatefulSet({ name: NAME, namespace: ns })).spec!.template.metadata!.annotations ?? {};

test.before(async () => {
  await env().applyCrds(CRD_FILE);
  core = env().kubeConfig().makeApiClient(CoreV1Api);
  apps = env().kubeConfig().makeApiClient(AppsV1Api);
  vaults = new Vaults(env().kubeConfig());
  ns = await env().namespace('bv-ca');
  [admitted, denied, foreign] = await Promise.all([env().namespace('bv-ca-app'), env().namespace('bv-ca-denied'), env().namespace('bv-ca-foreign')]);
  // the Vault admits namespaces labelled for it (as a platform team would label tenant namespaces)
  const label = `ca-of-${ns}`.slice(0, 63);
  for (const n of [admitted, foreign]) {
    await core.patchNamespace({ name: n, body: [{ op: 'add', path: '/metadata/labels/vault-client', value: label }] });
  }
  // someone else's Secret of the copy's name (e.g. Bank-Vaults' copy): never taken over
  await core.createNamespacedSecret({ namespace: foreign, body: { metadata: { name: `${NAME}-tls` }, stringData: { 'ca.crt': 'not ours' } } });
  await core.createNamespacedSecret({ namespace: ns, body: { metadata: { name: 'gcp-creds', labels: { 'vault.example/restart': 'on-change' } }, stringData: { key: 'v1' } } });
  await core.createNamespacedSecret({ namespace: ns, body: { metadata: { name: 'oidc-client', annotations: { 'vault.example/watch': 'true' } }, stringData: { id: 'a' } } });
  await core.createNamespacedSecret({ namespace: ns, body: { metadata: { name: 'unrelated' }, stringData: { x: '1' } } });
  // the platform lets this Vault's namespace keep its CA elsewhere (VAULT_AUTOPILOT_CA_COPY_FROM_NAMESPACES)
  op = await startVaultOperator(env(), ns, { caCopyFromNamespaces: [ns] });
  const vault: VaultResource = {
    apiVersion: `${API_GROUP}/${API_VERSION}`,
    kind: 'Vault',
    metadata: { name: NAME, namespace: ns },
    spec: {
      size: 1,
      caNamespaces: [admitted, denied, foreign, 'no-such-namespace'],
      watchedSecretsLabels: [{ 'vault.example/restart': 'on-change' }],
      watchedSecretsAnnotations: [{ 'vault.example/watch': 'true' }],
      selfService: { namespaces: { from: 'Selector', selector: { matchLabels: { 'vault-client': label } } } },
    },
  };
  // Bank-Vaults' shapes, and nothing unknown: the apiserver refuses unknown fields under Strict
  await vaults.create(vault, { strict: true });
});

test.after.always(async () => {
  await op?.stop();
});

test.serial('caNamespaces: the CA copy lands in the admitted namespace only; the others are reported with the reason', async (t) => {
  const copy = await eventually(async () => {
    const s = await secretOrUndefined(admitted, `${NAME}-tls`);
    if (!s) throw new Error('no copy yet');
    return s;
  }, { timeoutMs: 30_000 });
  const own = await core.readNamespacedSecret({ name: `${NAME}-tls`, namespace: ns });
  t.deepEqual(Object.keys(copy.data!), ['ca.crt'], 'only the CA certificate, never the serving key');
  t.is(copy.data!['ca.crt'], own.data!['ca.crt'], "the Vault's CA");
  t.is(copy.type, 'Opaque');
  t.is(await secretOrUndefined(denied, `${NAME}-tls`), undefined, 'not admitted by selfService: no copy');
  t.is(Buffer.from((await core.readNamespacedSecret({ name: `${NAME}-tls`, namespace: foreign })).data!['ca.crt']!, 'base64').toString(), 'not ours');
  const status = await eventually(async () => {
    const s = (await vaults.get(ns, NAME)).status;
    if (!s?.ignoredFields?.some((f) => f.field === 'spec.caNamespaces')) throw new Error('not reported yet');
    return s;
  }, WITHIN.reconcile);
  const reason = status.ignoredFields!.find((f) => f.field === 'spec.caNamespaces')!.reason;
  t.regex(reason, new RegExp(`${denied}: spec\\.selfService\\.namespaces does not admit it`));
  t.regex(reason, new RegExp(`${foreign}: a Secret of that name exists`));
  t.false(reason.includes('no-such-namespace'), 'a missing namespace is skipped, as in Bank-Vaults');
  t.deepEqual(status.caCopies, [admitted]);
});

test.serial("a tenant's Vault (its namespace not listed by the platform) copies nowhere, even admitting every namespace", async (t) => {
  const tenantNs = await env().namespace('bv-ca-tenant');
  const tenantOp = await startVaultOperator(env(), tenantNs); // no VAULT_AUTOPILOT_CA_COPY_FROM_NAMESPACES
  try {
    await env()
      .kubeConfig()
      .makeApiClient(CustomObjectsApi)
      .createNamespacedCustomObject({
        group: API_GROUP, version: API_VERSION, namespace: tenantNs, plural: VAULT_PLURAL, fieldValidation: 'Strict',
        body: { apiVersion: `${API_GROUP}/${API_VERSION}`, kind: 'Vault', metadata: { name: 'squat', namespace: tenantNs }, spec: { caNamespaces: ['*'], selfService: { namespaces: { from: 'All' } } } },
      });
    const reason = await eventually(async () => {
      const r = (await vaults.get(tenantNs, 'squat')).status?.ignoredFields?.find((f) => f.field === 'spec.caNamespaces')?.reason;
      if (!r) throw new Error('not reported yet');
      return r;
    }, { timeoutMs: 30_000 });
    t.regex(reason, /VAULT_AUTOPILOT_CA_COPY_FROM_NAMESPACES/);
    for (const n of [ns, admitted, denied, foreign]) t.is(await secretOrUndefined(n, 'squat-tls'), undefined, n);
    t.is((await vaults.get(tenantNs, 'squat')).status?.caCopies, undefined);
    const squatSecrets = tenantOp.kubeWrites.filter((w) => / secrets \S*squat-tls$/.test(w));
    t.true(squatSecrets.every((w) => w.includes(` secrets ${tenantNs}/`)), `only its own TLS Secret: ${squatSecrets.join(', ')}`);
    t.is(squatSecrets.filter((w) => w.startsWith('CREATE ')).length, 1, 'created once');
  } finally {
    await tenantOp.stop();
  }
});

test.serial('caNamespaces "*": every namespace the Vault admits; dropping the field deletes the copy', async (t) => {
  await core.deleteNamespacedSecret({ name: `${NAME}-tls`, namespace: foreign });
  await vaults.patchSpec(ns, NAME, { caNamespaces: ['*'] });
  await eventually(async () => {
    if (!(await secretOrUndefined(foreign, `${NAME}-tls`))) throw new Error('no copy in the freed namespace yet');
  }, { timeoutMs: 30_000 });
  await eventually(async () => {
    const copies = (await vaults.get(ns, NAME)).status!.caCopies;
    if (JSON.stringify(copies) !== JSON.stringify([admitted, foreign].sort())) throw new Error(`caCopies ${JSON.stringify(copies)}`);
  }, WITHIN.reconcile);
  t.pass('status.caCopies names both');
  t.is(await secretOrUndefined(denied, `${NAME}-tls`), undefined);
  await vaults.patchSpec(ns, NAME, { caNamespaces: null });
  await eventually(async () => {
    if (await secretOrUndefined(admitted, `${NAME}-tls`)) throw new Error('copy still there');
    if (await secretOrUndefined(foreign, `${NAME}-tls`)) throw new Error('copy still there');
  }, { timeoutMs: 30_000 });
  const status = (await eventually(async () => {
    const s = (await vaults.get(ns, NAME)).status!;
    if (s.caCopies || s.ignoredFields?.some((f) => f.field === 'spec.caNamespaces')) throw new Error('status not updated yet');
    return s;
  }, WITHIN.reconcile))!;
  t.is(status.caCopies, undefined);
  t.true((await secretOrUndefined(ns, `${NAME}-tls`)) !== undefined, "the Vault's own TLS Secret stays");
});

test.serial('watchedSecretsLabels/Annotations: a watched Secret that changes rolls the pod template; another does not', async (t) => {
  const first = await eventually(async () => {
    const sum = (await template())[WATCHED_SECRETS_ANNOTATION];
    if (!sum) throw new Error('no checksum yet');
    return sum;
  }, WITHIN.reconcile);
  t.regex(first, /^[0-9a-f]{16}$/);
  const configChecksum = (await template())['vault.autopilot.dev/config-checksum'];
  // an unwatched Secret changes: nothing moves
  await core.patchNamespacedSecret({ name: 'unrelated', namespace: ns, body: [{ op: 'replace', path: '/data/x', value: Buffer.from('2').toString('base64') }] });
  const writes = op.kubeWrites.length;
  const passes = op.reconciles();
  op.operator.enqueue('Vault', ns, NAME);
  await eventually(async () => {
    if (op.reconciles() < passes + 2) throw new Error('waiting for reconciles');
  }, WITHIN.reconcile);
  t.is((await template())[WATCHED_SECRETS_ANNOTATION], first);
  t.false(op.kubeWrites.slice(writes).some((w) => w.includes(' statefulsets ')), op.kubeWrites.slice(writes).join('\n'));
  // a label-watched Secret changes: the template's checksum moves (the StatefulSet rolls the pods)
  await core.patchNamespacedSecret({ name: 'gcp-creds', namespace: ns, body: [{ op: 'replace', path: '/data/key', value: Buffer.from('v2').toString('base64') }] });
  op.operator.enqueue('Vault', ns, NAME);
  const second = await eventually(async () => {
    const sum = (await template())[WATCHED_SECRETS_ANNOTATION];
    if (sum === first) throw new Error('not rolled yet');
    return sum!;
  }, WITHIN.reconcile);
  // an annotation-watched one too
  await core.patchNamespacedSecret({ name: 'oidc-client', namespace: ns, body: [{ op: 'replace', path: '/data/id', value: Buffer.from('b').toString('base64') }] });
  op.operator.enqueue('Vault', ns, NAME);
  await eventually(async () => {
    if ((await template())[WATCHED_SECRETS_ANNOTATION] === second) throw new Error('not rolled yet');
  }, WITHIN.reconcile);
  t.is((await template())['vault.autopilot.dev/config-checksum'], configChecksum, 'only the watched-secrets checksum moved');
  t.false(JSON.stringify(await template()).includes(Buffer.from('v2').toString('base64')), 'no Secret data in the template');
});

test.serial('deleting the Vault deletes its CA copies, and only those', async (t) => {
  await core.createNamespacedSecret({ namespace: denied, body: { metadata: { name: `${NAME}-tls` }, stringData: { 'ca.crt': 'someone else' } } });
  await vaults.patchSpec(ns, NAME, { caNamespaces: [admitted, denied] });
  await eventually(async () => {
    const s = (await vaults.get(ns, NAME)).status;
    if (JSON.stringify(s?.caCopies) !== JSON.stringify([admitted])) throw new Error(`caCopies ${JSON.stringify(s?.caCopies)}`);
  }, { timeoutMs: 30_000 });
  await vaults.delete(ns, NAME);
  await eventually(async () => {
    try {
      await vaults.get(ns, NAME);
    } catch (err) {
      if (isNotFound(err)) return;
      throw err;
    }
    throw new Error('Vault still there (finalizer)');
  }, { timeoutMs: 30_000 });
  t.is(await secretOrUndefined(admitted, `${NAME}-tls`), undefined);
  t.truthy(await secretOrUndefined(denied, `${NAME}-tls`), 'a Secret it did not make stays');
});
