// Installed, used, upgraded and uninstalled by the real OLM (v0.38.0, built
// from the Go module proxy by test/olm/build.sh) on the e2e runner's one local
// cluster: OLM's own operators run as pods, the catalog is a file-based
// catalog served by `opm serve` in a pod (CatalogSource by address), bundle
// images come from olm-bundle/bundle.Dockerfile (buildah) and are referenced
// by digest. The second bundle version is made here from the first (version
// bump + `replaces`). Each step asserts what OLM and the operator did; the
// times (unpack, CSV Succeeded, upgrade) are logged.
import { execFile } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import yaml from 'js-yaml';
import { useCluster } from '../harness/cluster.js';
import { eventually } from '../harness/eventually.js';
import { REPO_ROOT } from '../harness/versions.js';
import { generatedFiles, BUNDLE_DIR } from '../../operator/deploy/generate.js';
import { csvName } from '../../operator/deploy/csv.js';
import { SERVICE_REGISTRATION_CLUSTER_ROLE } from '../../operator/api/naming.js';
import { OLM_NAMESPACE, nextBundle, subscription, type CatalogBundle, type Manifest } from '../olm/olm.js';
import { OlmOnCluster } from '../olm/on-cluster.js';
import { validateBundle, writeBundle } from '../olm/validator.js';

const cluster = useCluster(test);

/** execFile with stdin. */
function run(file: string, args: string[], options: { env: NodeJS.ProcessEnv; input: string }): Promise<{ stdout: string }> {
  return new Promise((resolve, reject) => {
    const child = execFile(file, args, { env: options.env, maxBuffer: 4 * 1024 * 1024 }, (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve({ stdout })));
    child.stdin!.end(options.input);
  });
}

const NS = { operator: 'vault-autopilot', vault: 'vault-system', app: 'shop' } as const;
const VERSION = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')).version as string;
/** The next patch release (same operator image; the CSV and its `replaces` are what change). */
const NEXT_VERSION = VERSION.replace(/^(\d+)\.(\d+)\.(\d+).*$/, (_m, a: string, b: string, c: string) => `${a}.${b}.${Number(c) + 1}`);
const KMS_CREDENTIALS = { AWS_ACCESS_KEY_ID: 'local', AWS_SECRET_ACCESS_KEY: 'local' };
const SECRET_VALUE = `olm-e2e-${Date.now().toString(36)}`;
/** A Kubernetes-auth role (in the test Vault's externalConfig) that may write the app namespace's secrets. */
const WRITER = 'olm-e2e-writer';

interface Condition { type: string; status: string; reason?: string; message?: string }
interface Csv { metadata: { name: string }; status?: { phase?: string; reason?: string; message?: string } }
interface Job { metadata: { name: string; creationTimestamp: string }; status?: { succeeded?: number; completionTime?: string; startTime?: string } }
interface Pod { metadata: { name: string; uid: string; annotations?: Record<string, string> }; spec: { containers: { name: string; image: string }[]; initContainers?: { name: string; image: string }[]; volumes?: { name: string; secret?: { secretName: string } }[] }; status?: { phase?: string } }
interface VaultResource { status?: { conditions?: Condition[]; sealed?: boolean; nodes?: { name: string; sealed?: boolean }[] } }

let olm: OlmOnCluster;
const bundles: CatalogBundle[] = [];
const times: Record<string, number> = {};
/** Set by the install test; later steps need it. */
let installed = false;

function ready(conditions: Condition[] | undefined): boolean {
  return conditions?.find((c) => c.type === 'Ready')?.status === 'True';
}

async function csvPhase(name: string): Promise<Csv | undefined> {
  const list = await olm.getJson<{ items: Csv[] }>(['-n', NS.operator, 'get', 'csv']);
  return list.items.find((c) => c.metadata.name === name);
}

async function waitCsvSucceeded(name: string, timeoutMs: number): Promise<void> {
  await eventually(
    async () => {
      const csv = await csvPhase(name);
      if (csv?.status?.phase !== 'Succeeded') throw new Error(`${name}: ${csv?.status?.phase ?? 'absent'} ${csv?.status?.reason ?? ''} ${csv?.status?.message ?? ''}`);
    },
    { timeoutMs, intervalMs: 2000, message: `CSV ${name} Succeeded` },
  );
}

async function operatorPods(): Promise<Pod[]> {
  const pods = await olm.getJson<{ items: (Pod & { metadata: { deletionTimestamp?: string } })[] }>(['-n', NS.operator, 'get', 'pods', '-l', 'app.kubernetes.io/name=vault-autopilot']);
  return pods.items.filter((p) => !p.metadata.deletionTimestamp && p.status?.phase === 'Running');
}

/** A Vault CLI command in the Vault pod, as the operator (its token from the Secret, on stdin). */
async function vaultCli(args: string): Promise<string> {
  const token = Buffer.from((await olm.getJson<{ data: { token: string } }>(['-n', NS.vault, 'get', 'secret', 'vault-operator-token'])).data.token, 'base64').toString();
  return olm.k(['-n', NS.vault, 'exec', '-i', 'vault-0', '-c', 'vault', '--', 'sh', '-c', `read -r VAULT_TOKEN; export VAULT_TOKEN; vault ${args}`], `${token}\n`);
}

/** A Vault CLI command in the Vault pod after a Kubernetes-auth login as `writer` of the app namespace (its token on stdin). */
async function vaultAsWriter(args: string): Promise<string> {
  const jwt = (await olm.k(['-n', NS.app, 'create', 'token', 'writer'])).trim();
  return olm.k(['-n', NS.vault, 'exec', '-i', 'vault-0', '-c', 'vault', '--', 'sh', '-c',
    `read -r JWT; VAULT_TOKEN=$(vault write -field=token auth/kubernetes/login role=${WRITER} jwt="$JWT") || exit 1; export VAULT_TOKEN; vault ${args}`], `${jwt}\n`);
}

async function vaultResource(): Promise<VaultResource> {
  return olm.getJson<VaultResource>(['-n', NS.vault, 'get', 'vault', 'vault']);
}

/** The sample's managed Vault with one peer, one key share, and a role that may write the app namespace's secrets. */
function testVault(): Manifest {
  type Config = { secrets?: { path: string }[]; policies?: unknown[]; auth?: { type: string; roles?: unknown[] }[] };
  const docs = yaml.loadAll(readFileSync(join(REPO_ROOT, 'samples', 'vault-managed.yaml'), 'utf8')) as (Manifest & { spec: { externalConfig: Config } })[];
  const sample = docs.find((d) => d.kind === 'Vault')!;
  const spec = { ...structuredClone(sample.spec), size: 1, unsealConfig: { options: { secretShares: 1, secretThreshold: 1 } } };
  const config = spec.externalConfig;
  if (!config.secrets?.some((m) => m.path === 'secret')) (config.secrets ??= []).push({ type: 'kv', path: 'secret', options: { version: '2' } } as { path: string });
  (config.policies ??= []).push({ name: WRITER, rules: `path "secret/data/${NS.app}/*" { capabilities = ["create", "update", "read"] }` });
  (config.auth!.find((a) => a.type === 'kubernetes')!.roles ??= []).push({
    name: WRITER, bound_service_account_names: ['writer'], bound_service_account_namespaces: [NS.app], token_policies: [WRITER], token_ttl: '10m',
  });
  return { ...sample, metadata: { name: 'vault', namespace: NS.vault }, spec };
}

function namespace(name: string): Manifest {
  return { apiVersion: 'v1', kind: 'Namespace', metadata: { name } };
}

function annotatedPod(annotations: Record<string, string>, image: string): string {
  return yaml.dump({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'olm-webhook-probe', namespace: NS.app, annotations },
    spec: { serviceAccountName: 'orders', containers: [{ name: 'app', image, imagePullPolicy: 'Never', command: ['sleep', '3600'] }] },
  });
}

test.before(async () => {
  olm = new OlmOnCluster(cluster());
  // Only one copy of the operator per cluster: a kubectl install left by another file would fight this one.
  const existing = await olm.k(['get', 'deployments', '-A', '-l', 'app.kubernetes.io/name=vault-autopilot', '-o', 'name']);
  if (existing.trim()) throw new Error(`vault-autopilot is already installed (${existing.trim()}); the OLM test needs a cluster without it`);
});

test.after.always(async () => {
  if (!olm) return;
  // Leave the cluster as found, for the files after this one.
  await olm.removeEverything([NS.app, NS.vault, NS.operator]);
  olm.dispose();
});

test.serial('OLM v0.38.0 runs on the cluster: CRDs, olm-operator, catalog-operator', async (t) => {
  t.timeout(15 * 60_000);
  const started = Date.now();
  await olm.installOlm();
  times['olm up'] = Date.now() - started;
  const crds = (await olm.k(['get', 'crd', '-o', 'name'])).split('\n').filter((n) => n.endsWith('.operators.coreos.com'));
  t.true(crds.length >= 8, crds.join(', '));
  for (const name of ['olm-operator', 'catalog-operator']) {
    const d = await olm.getJson<{ status?: { readyReplicas?: number } }>(['-n', OLM_NAMESPACE, 'get', 'deployment', name]);
    t.is(d.status?.readyReplicas, 1, name);
  }
});

test.serial('the bundle from olm-bundle/ is served by opm from a file-based catalog', async (t) => {
  t.timeout(10 * 60_000);
  // olm-bundle/ is what `make bundle` writes (make bundle-check): build the image from exactly those files
  const files = generatedFiles('bundle', {});
  for (const [path, content] of files) t.is(readFileSync(join(BUNDLE_DIR, path), 'utf8'), content, `olm-bundle/${path} is current`);
  bundles.push(await olm.bundle(files, VERSION));
  t.regex(bundles[0]!.image, /@sha256:[0-9a-f]{64}$/);
  t.is(bundles[0]!.rendered['name'], csvName(VERSION));
  const catalog = await olm.serveCatalog(bundles);
  t.regex(catalog, new RegExp(`name: ${csvName(VERSION).replace(/\./g, '\\.')}`));
});

test.serial('OperatorGroup + automatic Subscription: bundle unpacked, CSV Succeeded with the real operator image', async (t) => {
  t.timeout(15 * 60_000);
  const info = cluster();
  await olm.apply([namespace(NS.operator)]);
  // KMS credentials for the operator (local-kms), given the OLM way: a Secret and the Subscription's config.envFrom
  await olm.apply([{
    apiVersion: 'v1', kind: 'Secret', metadata: { name: 'aws-kms', namespace: NS.operator },
    stringData: { ...KMS_CREDENTIALS, AWS_REGION: info.kms?.region ?? 'us-east-1', VAULT_AUTOPILOT_KMS_ENDPOINT: info.kmsEndpoint },
  }]);
  const started = Date.now();
  await olm.apply(subscription(NS.operator, [{ secretRef: { name: 'aws-kms' } }]));
  await waitCsvSucceeded(csvName(VERSION), 12 * 60_000);
  times['subscription -> CSV Succeeded'] = Date.now() - started;
  installed = true;

  const jobs = await olm.getJson<{ items: Job[] }>(['-n', OLM_NAMESPACE, 'get', 'jobs']);
  const unpack = jobs.items.find((j) => j.status?.succeeded === 1);
  t.truthy(unpack, 'a bundle unpack Job completed');
  times['bundle unpack job'] = Date.parse(unpack!.status!.completionTime!) - Date.parse(unpack!.status!.startTime!);

  const sub = await olm.getJson<{ status?: { installedCSV?: string; state?: string } }>(['-n', NS.operator, 'get', 'subscription', 'vault-autopilot']);
  t.is(sub.status?.installedCSV, csvName(VERSION));
  const deployment = await olm.getJson<{ spec: { template: { spec: { containers: { envFrom?: unknown[] }[] } } } }>(['-n', NS.operator, 'get', 'deployment', 'vault-autopilot']);
  t.deepEqual(deployment.spec.template.spec.containers[0]!.envFrom, [{ secretRef: { name: 'aws-kms' } }], "the Subscription's config reaches the operator");
  const pods = await operatorPods();
  t.true(pods.length >= 1);
  t.is(pods[0]!.spec.containers[0]!.image, info.images.operator, 'the real operator image, as imported by the cluster harness');
  // OLM issued the webhook certificate and mounts it where the operator reads it
  t.true(pods[0]!.spec.volumes?.some((v) => v.secret?.secretName === 'vault-autopilot-service-cert'), 'OLM cert volume');
  const service = await olm.getJson<{ spec: { ports: { port: number }[] } }>(['-n', NS.operator, 'get', 'service', 'vault-autopilot-service']);
  t.is(service.spec.ports[0]!.port, 443);
  const hooks = await olm.getJson<{ items: { metadata: { name: string }; webhooks: { clientConfig: { caBundle?: string; service?: { name: string } } }[] }[] }>(
    ['get', 'mutatingwebhookconfigurations', '-l', `olm.owner=${csvName(VERSION)}`],
  );
  t.is(hooks.items.length, 1);
  t.truthy(hooks.items[0]!.webhooks[0]!.clientConfig.caBundle, 'OLM injected its CA');
  t.is(hooks.items[0]!.webhooks[0]!.clientConfig.service?.name, 'vault-autopilot-service');
  t.log(`times: ${JSON.stringify(times)}`);
});

test.serial('a managed Vault becomes Ready under the OLM-installed operator', async (t) => {
  t.timeout(15 * 60_000);
  if (!installed) return t.fail('not installed');
  await olm.apply([namespace(NS.vault)]);
  const started = Date.now();
  await olm.apply([testVault()]);
  await eventually(
    async () => {
      const v = await vaultResource();
      if (!ready(v.status?.conditions)) throw new Error(JSON.stringify(v.status?.conditions ?? []));
    },
    { timeoutMs: 12 * 60_000, intervalMs: 3000, message: 'Vault Ready' },
  );
  times['Vault Ready'] = Date.now() - started;
  const v = await vaultResource();
  t.false(v.status?.nodes?.[0]?.sealed ?? true, 'unsealed');
});

test.serial("the webhook, served with OLM's certificate, mutates an annotated pod and denies a bad annotation", async (t) => {
  t.timeout(5 * 60_000);
  if (!installed) return t.fail('not installed');
  await olm.apply([namespace(NS.app)]);
  await olm.k(['-n', NS.app, 'apply', '-f', join(REPO_ROOT, 'samples', 'serviceaccount.yaml')]);
  const mutated = await eventually(
    async () => JSON.parse(await olm.k(['create', '--dry-run=server', '-o', 'json', '-f', '-'], annotatedPod({
      'vault.autopilot.dev/agent-inject': 'true',
      'vault.autopilot.dev/agent-inject-secret-db': `secret/data/${NS.app}/orders/db`,
    }, cluster().images.app))) as Pod,
    { timeoutMs: 60_000, intervalMs: 2000, message: 'dry-run pod create through the webhook' },
  );
  const names = [...(mutated.spec.initContainers ?? []), ...mutated.spec.containers].map((c) => c.name);
  t.true(names.length > 1, `containers after the webhook: ${names.join(', ')}`);
  t.is(mutated.metadata.annotations?.['vault.autopilot.dev/agent-inject-status'], 'injected');
  const denied = await olm.k(['create', '--dry-run=server', '-o', 'json', '-f', '-'], annotatedPod({
    'vault.autopilot.dev/agent-inject': 'true',
    'vault.autopilot.dev/agent-inject-bogus': 'x',
  }, cluster().images.app)).then(() => '', (e: Error) => e.message);
  t.regex(denied, /denied the request/);
  t.regex(denied, /agent-inject-bogus/);
});

test.serial('self-service under OLM: an annotated ServiceAccount gets its role and policy in Vault', async (t) => {
  t.timeout(10 * 60_000);
  if (!installed) return t.fail('not installed');
  const role = await eventually(async () => JSON.parse(await vaultCli(`read -format=json auth/kubernetes/role/sa.${NS.app}.orders`)) as { data: { bound_service_account_names: string[]; bound_service_account_namespaces: string[]; token_policies: string[] } }, {
    timeoutMs: 180_000, intervalMs: 3000, message: 'ServiceAccount role in Vault',
  });
  t.deepEqual(role.data.bound_service_account_names, ['orders']);
  t.deepEqual(role.data.bound_service_account_namespaces, [NS.app]);
  t.true(role.data.token_policies.includes(`sa.${NS.app}.orders`));
  t.regex(await vaultCli(`policy read sa.${NS.app}.orders`), new RegExp(`secret/data/${NS.app}/orders/`));
  // a secret kept there (the upgrade must not lose it), written through a role of the Vault's externalConfig
  await olm.apply([{ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'writer', namespace: NS.app } }]);
  await vaultAsWriter(`kv put secret/${NS.app}/orders/db password=${SECRET_VALUE}`);
  t.is((await vaultAsWriter(`kv get -field=password secret/${NS.app}/orders/db`)).trim(), SECRET_VALUE);
});

test.serial('KMSVaultSecret under OLM: sealed with the CLI, decrypted by the operator (KMS settings from the Subscription config) into Vault', async (t) => {
  t.timeout(5 * 60_000);
  if (!installed) return t.fail('not installed');
  const info = cluster();
  const value = `kms-${SECRET_VALUE}`;
  // `vault-autopilot seal`, as a service owner runs it: the value on stdin, never on the command line
  const tsx = join(REPO_ROOT, 'node_modules', 'tsx', 'dist', 'loader.mjs');
  const { stdout } = await run(process.execPath, ['--import', `file://${tsx}`, join(REPO_ROOT, 'operator', 'main.ts'), 'seal', '--key-id', info.kms!.keyAlias,
    '--path', `secret/${NS.app}/orders/kms`, '--namespace', NS.app, '--from-env-file', '-'], {
    env: { ...process.env, ...KMS_CREDENTIALS, AWS_REGION: info.kms?.region ?? 'us-east-1', VAULT_AUTOPILOT_KMS_ENDPOINT: info.kmsEndpoint },
    input: `password=${value}\n`,
  });
  t.false(stdout.includes(value), 'the sealed manifest does not carry the value');
  const started = Date.now();
  await olm.k(['apply', '-f', '-'], stdout);
  await eventually(async () => {
    const obj = await olm.getJson<{ status?: { conditions?: Condition[] } }>(['-n', NS.app, 'get', 'kmsvaultsecret', 'kms']);
    if (!ready(obj.status?.conditions)) throw new Error(JSON.stringify(obj.status?.conditions ?? []));
  }, { timeoutMs: 120_000, intervalMs: 1000, message: 'KMSVaultSecret Ready' });
  times['KMSVaultSecret applied -> Ready'] = Date.now() - started;
  // read back through a role of the Vault that may read the app namespace (the operator token may not read secrets)
  t.is((await vaultAsWriter(`kv get -field=password secret/${NS.app}/orders/kms`)).trim(), value);
});

test.serial('upgrade: a bundle that replaces the first moves the CSV; Vault stays unsealed, roles/policies/secrets kept', async (t) => {
  t.timeout(20 * 60_000);
  if (!installed) return t.fail('not installed');
  const next = nextBundle(generatedFiles('bundle', {}), NEXT_VERSION);
  const dir = writeBundle(next);
  try {
    const check = validateBundle(dir);
    t.is(check.status, 0, `the generated next bundle passes the validators: ${check.stdout}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const vaultPodBefore = await olm.getJson<Pod>(['-n', NS.vault, 'get', 'pod', 'vault-0']);
  const operatorBefore = (await operatorPods()).map((p) => p.metadata.uid);
  const policiesBefore = (await vaultCli('policy list')).split('\n').filter(Boolean).sort();

  const nextBundleEntry = await olm.bundle(next, NEXT_VERSION);
  bundles.push({ ...nextBundleEntry, replaces: csvName(VERSION) });
  const started = Date.now();
  await olm.serveCatalog(bundles);
  await waitCsvSucceeded(csvName(NEXT_VERSION), 15 * 60_000);
  times['catalog update -> new CSV Succeeded'] = Date.now() - started;
  await eventually(async () => {
    if (await csvPhase(csvName(VERSION))) throw new Error('old CSV still there');
  }, { timeoutMs: 180_000, intervalMs: 2000, message: 'old CSV removed' });
  times['catalog update -> old CSV gone'] = Date.now() - started;

  const sub = await olm.getJson<{ status?: { installedCSV?: string } }>(['-n', NS.operator, 'get', 'subscription', 'vault-autopilot']);
  t.is(sub.status?.installedCSV, csvName(NEXT_VERSION));
  const operatorAfter = await eventually(async () => {
    const pods = await operatorPods();
    if (!pods.length || pods.some((p) => operatorBefore.includes(p.metadata.uid))) throw new Error('operator pods not replaced yet');
    return pods;
  }, { timeoutMs: 180_000, intervalMs: 2000, message: 'new operator pod' });
  t.true(operatorAfter.length >= 1);

  // The managed Vault was not restarted and stays unsealed; everything in it is kept.
  const vaultPodAfter = await olm.getJson<Pod>(['-n', NS.vault, 'get', 'pod', 'vault-0']);
  t.is(vaultPodAfter.metadata.uid, vaultPodBefore.metadata.uid, 'Vault pod not restarted');
  const status = await eventually(async () => {
    const v = await vaultResource();
    if (!ready(v.status?.conditions)) throw new Error(JSON.stringify(v.status?.conditions));
    return v;
  }, { timeoutMs: 180_000, intervalMs: 3000, message: 'Vault Ready after upgrade' });
  t.false(status.status?.nodes?.[0]?.sealed ?? true);
  t.is(JSON.parse(await vaultCli('status -format=json')).sealed, false);
  t.deepEqual((await vaultCli('policy list')).split('\n').filter(Boolean).sort(), policiesBefore);
  t.regex(await vaultCli(`read -format=json auth/kubernetes/role/sa.${NS.app}.orders`), /"orders"/);
  t.is((await vaultAsWriter(`kv get -field=password secret/${NS.app}/orders/db`)).trim(), SECRET_VALUE);
  t.log(`times: ${JSON.stringify(times)}`);
});

test.serial('uninstall through OLM removes the operator and its webhook; CRDs, resources and Vault data stay', async (t) => {
  t.timeout(10 * 60_000);
  if (!installed) return t.fail('not installed');
  const csv = (await olm.getJson<{ status?: { installedCSV?: string } }>(['-n', NS.operator, 'get', 'subscription', 'vault-autopilot'])).status!.installedCSV!;
  await olm.k(['-n', NS.operator, 'delete', 'subscription', 'vault-autopilot']);
  await olm.k(['-n', NS.operator, 'delete', 'csv', csv]);
  await eventually(async () => {
    if ((await olm.k(['-n', NS.operator, 'get', 'deployment', 'vault-autopilot', '--ignore-not-found', '-o', 'name'])).trim()) throw new Error('deployment still there');
  }, { timeoutMs: 180_000, intervalMs: 2000, message: 'operator Deployment removed' });
  const hooks = await olm.k(['get', 'mutatingwebhookconfigurations', '-l', `olm.owner=${csv}`, '-o', 'name']);
  t.is(hooks.trim(), '', 'webhook configuration removed');
  // OLM labels a ClusterRole shipped in the bundle with olm.owner only, so its CSV cleanup (which selects
  // olm.owner, olm.owner.namespace and olm.owner.kind) keeps it: the README says so, and the running Vaults
  // with serviceRegistrationEnabled still use it through their RoleBindings.
  const left = await olm.k(['get', 'clusterroles,clusterrolebindings', '-l', `olm.owner=${csv}`, '-o', 'name']);
  t.deepEqual(left.trim().split('\n').filter(Boolean), [`clusterrole.rbac.authorization.k8s.io/${SERVICE_REGISTRATION_CLUSTER_ROLE}`], 'cluster RBAC removed but the ClusterRole Vaults use');
  const gone = async (args: string[]) => (await olm.k([...args, '--ignore-not-found', '-o', 'name'])).trim() === '';
  await eventually(async () => {
    for (const args of [['-n', NS.operator, 'get', 'secret', 'vault-autopilot-service-cert'], ['-n', NS.operator, 'get', 'service', 'vault-autopilot-service'], ['-n', NS.operator, 'get', 'serviceaccount', 'vault-autopilot']]) {
      if (!(await gone(args))) throw new Error(`${args.slice(2).join(' ')} still there`);
    }
  }, { timeoutMs: 120_000, intervalMs: 2000, message: 'webhook Secret, Service and ServiceAccount removed' });
  t.pass('webhook certificate Secret, Service and ServiceAccount removed');
  // OLM leaves the webhook's auth-reader RoleBinding in kube-system (the README says so)
  t.false(await gone(['-n', 'kube-system', 'get', 'rolebinding', 'vault-autopilot-service-auth-reader']), 'kube-system RoleBinding left by OLM');
  // What stays: the CRDs (OLM never deletes CRDs), the resources, the Vault pods and their data.
  for (const crd of ['vaults.vault.autopilot.dev', 'kmsvaultsecrets.vault.autopilot.dev']) t.truthy((await olm.k(['get', 'crd', crd, '-o', 'name'])).trim());
  t.truthy((await olm.k(['-n', NS.vault, 'get', 'vault', 'vault', '-o', 'name'])).trim());
  t.truthy((await olm.k(['-n', NS.vault, 'get', 'secret', 'vault-unseal-keys', '-o', 'name'])).trim());
  t.is(JSON.parse(await vaultCli('status -format=json')).sealed, false, 'the running Vault is untouched');
  // annotated ServiceAccounts stay as they were, without a finalizer of the operator (README: Uninstall)
  const account = await olm.getJson<{ metadata: { finalizers?: string[]; annotations?: Record<string, string> } }>(['-n', NS.app, 'get', 'serviceaccount', 'orders']);
  t.is(account.metadata.annotations?.['vault.autopilot.dev/auto-configure'], 'true');
  t.false(account.metadata.finalizers?.includes('vault.autopilot.dev/cleanup') ?? false);
  t.log(`times: ${JSON.stringify(times)}`);
});
