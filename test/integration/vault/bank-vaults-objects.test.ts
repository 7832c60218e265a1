// A Vault in Bank-Vaults' shapes, every field used, reconciled by the operator
// against the REAL apiserver (no kubelet: pods never run): the honoured fields
// show up in the StatefulSet, Services and Ingress the apiserver accepted, the
// others in status.ignoredFields and one Warning Event.
import { readFileSync } from 'node:fs';
import test from 'ava';
import { ApiextensionsV1Api, AppsV1Api, CoreV1Api, KubernetesObjectApi, NetworkingV1Api, type KubernetesObject } from '@kubernetes/client-node';
import yaml from 'js-yaml';
import type { VaultResource } from '../../../operator/api/vault.js';
import { eventually, eventuallyGone, WITHIN, useTestEnv } from '../../harness/index.js';
import { CRD_FILE, Vaults, startVaultOperator, type RunningVaultOperator } from './helpers.js';

const env = useTestEnv(test, { vault: false, kms: false });
const NAME = 'every-field';
let op: RunningVaultOperator;
let ns: string;
let vaults: Vaults;
let apps: AppsV1Api;
let core: CoreV1Api;
let networking: NetworkingV1Api;

const SERVICE_MONITOR_CRD = 'servicemonitors.monitoring.coreos.com';

/** The report test needs a cluster without the Prometheus Operator: another file of the shared run may have left its CRD. */
async function withoutServiceMonitorCrd(): Promise<void> {
  const crds = env().kubeConfig().makeApiClient(ApiextensionsV1Api);
  await crds.deleteCustomResourceDefinition({ name: SERVICE_MONITOR_CRD }).catch((err: { code?: number }) => {
    if (err.code !== 404) throw err;
  });
  await eventually(async () => {
    const gone = await crds.readCustomResourceDefinition({ name: SERVICE_MONITOR_CRD }).then(() => false, (err: { code?: number }) => err.code === 404);
    if (!gone) throw new Error(`${SERVICE_MONITOR_CRD} still there`);
  }, WITHIN.reconcile);
}

test.before(async () => {
  await env().applyCrds(CRD_FILE);
  await withoutServiceMonitorCrd();
  ns = await env().namespace('bv-objects');
  vaults = new Vaults(env().kubeConfig());
  apps = env().kubeConfig().makeApiClient(AppsV1Api);
  core = env().kubeConfig().makeApiClient(CoreV1Api);
  networking = env().kubeConfig().makeApiClient(NetworkingV1Api);
  op = await startVaultOperator(env(), ns);
  const doc = yaml.load(readFileSync('test/integration/vault/fixtures/bank-vaults-every-field.yaml', 'utf8')) as VaultResource;
  // the generated TLS (the fixture names a Secret that does not exist here)
  delete doc.spec.existingTlsSecretName;
  await vaults.create({ ...doc, metadata: { name: NAME, namespace: ns } });
});

test.after.always(async () => {
  await op?.stop();
});

const sts = () => apps.readNamespacedStatefulSet({ name: NAME, namespace: ns });
/** The pods never answer here, so the controller re-checks every second: wait for `n` more reconciles. */
async function passes(n: number): Promise<void> {
  const start = op.reconciles();
  await eventually(async () => {
    if (op.reconciles() < start + n) throw new Error(`reconciles ${op.reconciles() - start}`);
  }, WITHIN.reconcile);
}

test.serial('the StatefulSet the apiserver accepted carries the pod-level fields', async (t) => {
  const set = await eventually(sts, { timeoutMs: 30_000 });
  const pod = set.spec!.template.spec!;
  const vault = pod.containers.find((c) => c.name === 'vault')!;
  t.deepEqual(pod.containers.map((c) => c.name), ['vault', 'log-shipper']);
  t.deepEqual(pod.initContainers!.map((c) => c.name), ['fetch-plugins']);
  t.true(['plugins', 'extra-config', 'gcp-credentials'].every((v) => pod.volumes!.some((x) => x.name === v)));
  t.deepEqual(
    vault.volumeMounts!.filter((m) => ['vault-raft', 'plugins', 'extra-config', 'gcp-credentials'].includes(m.name)).map((m) => m.mountPath),
    ['/etc/gcp/service-account.json', '/vault/file', '/vault/plugins', '/vault/extra'],
  );
  const env = Object.fromEntries(vault.env!.map((e) => [e.name, e.value]));
  t.is(env['VAULT_LOG_LEVEL'], 'debug');
  t.is(env['VAULT_LOG_FORMAT'], 'json');
  t.is(env['GOOGLE_APPLICATION_CREDENTIALS'], '/etc/gcp/service-account.json');
  t.is(pod.priorityClassName, 'vault-critical');
  t.is(pod.terminationGracePeriodSeconds, 45);
  t.is(pod.securityContext!.fsGroup, 1000);
  t.deepEqual(vault.lifecycle!.preStop!.exec!.command, ['sh', '-c', 'sleep 5']);
  t.is(vault.resources!.limits!['memory'], '512Mi');
  t.is(pod.affinity!.podAntiAffinity!.preferredDuringSchedulingIgnoredDuringExecution![0]!.podAffinityTerm.topologyKey, 'topology.kubernetes.io/zone');
  t.is(set.spec!.template.metadata!.labels!['team.example/tier'], 'secrets');
  t.is(set.spec!.template.metadata!.annotations!['team.example/scrape'], 'true');
  t.is(set.metadata!.annotations!['team.example/owner'], 'payments');
  t.deepEqual(set.spec!.volumeClaimTemplates!.map((c) => c.metadata!.name).sort(), ['data', 'vault-raft']);
});

test.serial('the client Service has the type, load balancer IP and ports; the Ingress exists', async (t) => {
  const client = await core.readNamespacedService({ name: NAME, namespace: ns });
  t.is(client.spec!.type, 'LoadBalancer');
  t.is(client.spec!.loadBalancerIP, '10.88.0.200');
  t.deepEqual(client.spec!.ports!.map((p) => [p.name, p.port]), [['api-port', 8200], ['cluster-port', 8201], ['metrics', 9091]]);
  t.is(client.metadata!.labels!['team.example/tier'], 'secrets');
  const ingress = await eventually(() => networking.readNamespacedIngress({ name: NAME, namespace: ns }), WITHIN.reconcile);
  t.is(ingress.metadata!.annotations!['nginx.ingress.kubernetes.io/backend-protocol'], 'HTTPS');
  t.is(ingress.spec!.rules![0]!.host, 'vault.example.test');
  t.is(ingress.metadata!.ownerReferences![0]!.name, NAME);
});

test.serial('fields without effect are in status.ignoredFields, with one Warning Event', async (t) => {
  const status = await eventually(async () => {
    const s = (await vaults.get(ns, NAME)).status;
    if (!s?.ignoredFields?.length) throw new Error('no ignoredFields yet');
    return s;
  }, WITHIN.reconcile);
  const fields = status.ignoredFields!.map((f) => f.field);
  for (const f of ['spec.bankVaultsImage', 'spec.statsdImage', 'spec.fluentdEnabled', 'spec.envsConfig', 'spec.istioEnabled', 'spec.resources.bankVaults']) {
    t.true(fields.includes(f), f);
  }
  // no Prometheus Operator here yet: serviceMonitorEnabled is reported (from the second pass on)
  await eventually(async () => {
    const s = (await vaults.get(ns, NAME)).status!;
    if (!s.ignoredFields?.some((f) => f.field === 'spec.serviceMonitorEnabled' && /ServiceMonitor CRD/.test(f.reason))) throw new Error('not reported yet');
  }, WITHIN.reconcile);
  for (const honoured of ['spec.volumes', 'spec.volumeMounts', 'spec.vaultPodSpec', 'spec.ingress', 'spec.servicePorts', 'spec.vaultAnnotations']) {
    t.false(fields.includes(honoured), honoured);
  }
  await passes(3);
  const warnings = () => vaults.events(ns, NAME).then((all) => all.filter((e) => e.reason === 'FieldsIgnored'));
  const before = await warnings();
  t.true(before.length >= 1 && before.length <= 2, 'one per change of the list (the second: serviceMonitorEnabled once the CRD was found missing)');
  t.true(before.every((w) => w.type === 'Warning' && (w.count ?? 1) === 1));
  t.true(before.some((w) => /spec\.bankVaultsImage/.test(w.message!)));
  await passes(3);
  t.is((await warnings()).length, before.length, 'not repeated on every reconcile');
});

test.serial('unsetting ingress deletes the Ingress; an unrelated Ingress of another name stays', async (t) => {
  await networking.createNamespacedIngress({
    namespace: ns,
    body: { metadata: { name: 'someone-elses' }, spec: { defaultBackend: { service: { name: NAME, port: { number: 8200 } } } } },
  });
  await vaults.patchSpec(ns, NAME, { ingress: null });
  await eventually(async () => {
    const list = await networking.listNamespacedIngress({ namespace: ns });
    if (list.items.some((i) => i.metadata!.name === NAME)) throw new Error('Ingress still there');
  }, WITHIN.reconcile);
  const left = await networking.listNamespacedIngress({ namespace: ns });
  t.deepEqual(left.items.map((i) => i.metadata!.name), ['someone-elses']);
});

test.serial('an Ingress of the same name that this Vault does not control is left alone', async (t) => {
  await networking.deleteNamespacedIngress({ name: 'someone-elses', namespace: ns });
  await networking.createNamespacedIngress({
    namespace: ns,
    body: { metadata: { name: NAME }, spec: { defaultBackend: { service: { name: NAME, port: { number: 8200 } } } } },
  });
  const writes = op.kubeWrites.length;
  op.operator.enqueue('Vault', ns, NAME);
  await passes(3);
  t.false(op.kubeWrites.slice(writes).some((w) => w.startsWith('DELETE ingresses')), op.kubeWrites.slice(writes).join('\n'));
  const kept = await networking.readNamespacedIngress({ name: NAME, namespace: ns });
  t.is(kept.metadata!.ownerReferences, undefined);
});

test.serial('serviceMonitorEnabled: once the ServiceMonitor CRD exists, a ServiceMonitor for the client Service; false deletes it', async (t) => {
  await env().applyCrds('test/integration/vault/fixtures/servicemonitor-crd.yaml');
  const objects = KubernetesObjectApi.makeApiClient(env().kubeConfig());
  const read = () => objects.read({ apiVersion: 'monitoring.coreos.com/v1', kind: 'ServiceMonitor', metadata: { name: NAME, namespace: ns } }) as Promise<KubernetesObject & { spec: Record<string, any> }>;
  const monitor = await eventually(read, { timeoutMs: 30_000 });
  t.is(monitor.metadata!.ownerReferences![0]!.name, NAME);
  const endpoint = monitor.spec['endpoints'][0];
  t.is(endpoint.path, '/v1/sys/metrics');
  t.is(endpoint.port, 'api-port', 'the servicePorts name of 8200');
  t.is(endpoint.tlsConfig.ca.secret.name, `${NAME}-tls`);
  // it selects the client Service and not the headless peer Service
  const selector = monitor.spec['selector'].matchLabels as Record<string, string>;
  const matches = async (svc: string) => {
    const labels = (await core.readNamespacedService({ name: svc, namespace: ns })).metadata!.labels!;
    return Object.entries(selector).every(([k, v]) => labels[k] === v);
  };
  t.true(await matches(NAME));
  t.false(await matches(`${NAME}-internal`));
  await eventually(async () => {
    const s = (await vaults.get(ns, NAME)).status!;
    if (s.ignoredFields?.some((f) => f.field === 'spec.serviceMonitorEnabled')) throw new Error('still reported');
  }, WITHIN.reconcile);
  await vaults.patchSpec(ns, NAME, { serviceMonitorEnabled: false });
  await eventuallyGone(read, 'ServiceMonitor', WITHIN.reconcile);
  t.true(op.kubeWrites.includes(`DELETE servicemonitors ${ns}/${NAME}`), op.kubeWrites.join('\n'));
});
