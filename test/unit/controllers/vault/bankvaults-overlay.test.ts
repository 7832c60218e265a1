// Bank-Vaults' fields laid over the desired managed objects.
import { readFileSync } from 'node:fs';
import test from 'ava';
import yaml from 'js-yaml';
import type { V1Ingress, V1Service, V1StatefulSet } from '@kubernetes/client-node';
import type { VaultResource } from '../../../../operator/api/vault.js';
import { bankVaultsAffinity, clientServicePorts, mergeFill, mergeOverride, obsoleteObjects, vaultContainerEnv, vaultContainerResources } from '../../../../operator/controllers/vault/bankvaults-overlay.js';
import { desiredObjects, desiredStatefulSet } from '../../../../operator/controllers/vault/desired-objects.js';
import { ignoredFields } from '../../../../operator/controllers/vault/bankvaults-report.js';
import { aVault } from './builders.js';

test('resources: Bank-Vaults resources.vault and the earlier flat form both size the Vault container', (t) => {
  t.deepEqual(vaultContainerResources({ resources: { vault: { limits: { memory: '1Gi' } }, bankVaults: { limits: { cpu: '1' } } } }), { limits: { memory: '1Gi' } });
  t.deepEqual(vaultContainerResources({ resources: { requests: { cpu: '250m' } } }), { requests: { cpu: '250m' } });
  t.is(vaultContainerResources({ resources: { bankVaults: { limits: { cpu: '1' } } } }), undefined, 'only other components: nothing for Vault');
  t.is(vaultContainerResources({}), undefined);
  const sts = desiredStatefulSet(aVault({ resources: { vault: { requests: { memory: '256Mi' } }, fluentd: { requests: { cpu: '1' } } } }));
  t.deepEqual(sts.spec!.template.spec!.containers[0]!.resources, { requests: { memory: '256Mi' } });
});

const everyField = (): VaultResource => {
  const doc = yaml.load(readFileSync('test/integration/vault/fixtures/bank-vaults-every-field.yaml', 'utf8')) as VaultResource;
  return { ...doc, metadata: { name: 'every-field', namespace: 'bv', uid: 'u-1', generation: 1 } };
};
const byKind = (vault: VaultResource) => {
  const objects = desiredObjects(vault);
  return {
    sts: objects.find((o) => o.kind === 'StatefulSet') as V1StatefulSet,
    client: objects.find((o) => o.kind === 'Service' && o.metadata!.name === 'every-field') as V1Service,
    peers: objects.find((o) => o.kind === 'Service' && o.metadata!.name === 'every-field-internal') as V1Service,
    ingress: objects.find((o) => o.kind === 'Ingress') as V1Ingress | undefined,
    secret: objects.find((o) => o.kind === 'Secret')!,
  };
};

test('pod fields: volumes, mounts, env, init/extra containers, security context, pod and container snippets', (t) => {
  const { sts } = byKind(everyField());
  const pod = sts.spec!.template.spec!;
  const vault = pod.containers[0]!;
  t.is(vault.name, 'vault');
  t.deepEqual(pod.volumes!.map((v) => v.name), ['config', 'tls', 'gcp-credentials', 'plugins', 'extra-config']);
  t.deepEqual(vault.volumeMounts!.map((m) => [m.name, m.mountPath]), [
    ['config', '/vault/config'],
    ['tls', '/vault/tls'],
    ['data', '/vault/data'],
    ['gcp-credentials', '/etc/gcp/service-account.json'],
    ['vault-raft', '/vault/file'],
    ['plugins', '/vault/plugins'],
    ['extra-config', '/vault/extra'],
  ]);
  t.is(vault.volumeMounts!.find((m) => m.name === 'gcp-credentials')!.subPath, 'service-account.json');
  const env = Object.fromEntries(vault.env!.map((e) => [e.name, e.value]));
  t.is(env['GOOGLE_APPLICATION_CREDENTIALS'], '/etc/gcp/service-account.json');
  t.is(env['VAULT_LOG_FORMAT'], 'json');
  t.is(env['VAULT_LOG_LEVEL'], 'debug');
  t.false('AWS_REGION' in env, 'envsConfig went to Bank-Vaults components, not to Vault');
  t.deepEqual(pod.initContainers!.map((c) => c.name), ['fetch-plugins']);
  t.deepEqual(pod.containers.map((c) => c.name), ['vault', 'log-shipper']);
  t.deepEqual(pod.securityContext, { runAsUser: 100, runAsGroup: 1000, fsGroup: 1000, runAsNonRoot: true });
  t.is(pod.priorityClassName, 'vault-critical');
  t.is(pod.terminationGracePeriodSeconds, 45);
  t.is(vault.livenessProbe!.httpGet!.path, '/v1/sys/health?standbyok=true');
  t.deepEqual(vault.lifecycle!.preStop!.exec!.command, ['sh', '-c', 'sleep 5']);
  t.deepEqual(vault.resources, { requests: { cpu: '100m', memory: '128Mi' }, limits: { memory: '512Mi' } });
  t.deepEqual(vault.ports!.map((p) => [p.name, p.containerPort]), [['api', 8200], ['cluster', 8201], ['metrics', 9091]]);
  // spec.affinity wins over the deprecated podAntiAffinity / nodeAffinity
  t.is(pod.affinity!.podAntiAffinity!.preferredDuringSchedulingIgnoredDuringExecution![0]!.podAffinityTerm.topologyKey, 'topology.kubernetes.io/zone');
});

test('labels and annotations: vaultLabels/vaultAnnotations on pods, StatefulSet and Services; annotations everywhere; selectors untouched', (t) => {
  const { sts, client, peers, secret } = byKind(everyField());
  const podMeta = sts.spec!.template.metadata!;
  t.is(podMeta.labels!['team.example/tier'], 'secrets');
  t.is(podMeta.annotations!['team.example/scrape'], 'true');
  t.is(podMeta.annotations!['team.example/owner'], 'payments');
  t.truthy(podMeta.annotations!['vault.autopilot.dev/config-checksum']);
  for (const o of [sts, client, peers]) {
    t.is(o.metadata!.labels!['team.example/tier'], 'secrets', o.kind);
    t.is(o.metadata!.annotations!['team.example/scrape'], 'true', o.kind);
    t.is(o.metadata!.annotations!['team.example/owner'], 'payments', o.kind);
  }
  t.is(secret.metadata!.annotations!['team.example/owner'], 'payments');
  t.deepEqual(sts.spec!.selector.matchLabels, { 'app.kubernetes.io/name': 'vault', 'app.kubernetes.io/instance': 'every-field' });
  // a user label cannot take over the operator's own labels
  const hijack = everyField();
  hijack.spec.vaultLabels = { 'app.kubernetes.io/instance': 'other' };
  t.is(byKind(hijack).sts.spec!.template.metadata!.labels!['app.kubernetes.io/instance'], 'every-field');
});

test('Service fields: type, loadBalancerIP, servicePorts; the peer Service keeps its ports', (t) => {
  const { client, peers } = byKind(everyField());
  t.is(client.spec!.type, 'LoadBalancer');
  t.is(client.spec!.loadBalancerIP, '10.88.0.200');
  t.deepEqual(client.spec!.ports!.map((p) => [p.name, p.port]), [['api-port', 8200], ['cluster-port', 8201], ['metrics', 9091]]);
  t.deepEqual(peers.spec!.ports!.map((p) => [p.name, p.port]), [['api', 8200], ['cluster', 8201]]);
  // only extra ports listed: the API and cluster ports stay
  t.deepEqual(clientServicePorts({ servicePorts: { metrics: 9091 } }, [{ name: 'api', port: 8200 }, { name: 'cluster', port: 8201 }]).map((p) => p.port), [8200, 8201, 9091]);
});

test('ingress: an Ingress named like the Vault, owned by it; none (and marked obsolete) without the field', (t) => {
  const vault = everyField();
  const { ingress } = byKind(vault);
  t.is(ingress!.metadata!.name, 'every-field');
  t.is(ingress!.metadata!.annotations!['nginx.ingress.kubernetes.io/backend-protocol'], 'HTTPS');
  t.is(ingress!.metadata!.ownerReferences![0]!.uid, 'u-1');
  t.is(ingress!.spec!.rules![0]!.host, 'vault.example.test');
  t.deepEqual(obsoleteObjects(vault), []);
  delete vault.spec.ingress;
  t.is(byKind(vault).ingress, undefined);
  t.deepEqual(obsoleteObjects(vault), [{ apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', name: 'every-field', namespace: 'bv' }]);
});

test('podAntiAffinity and nodeAffinity apply when affinity is not set; platformManagedSecurityContext removes both security contexts', (t) => {
  const vault = everyField();
  delete vault.spec.affinity;
  const pod = byKind(vault).sts.spec!.template.spec!;
  t.is(pod.affinity!.podAntiAffinity!.requiredDuringSchedulingIgnoredDuringExecution![0]!.topologyKey, 'kubernetes.io/hostname');
  t.deepEqual(pod.affinity!.nodeAffinity!.requiredDuringSchedulingIgnoredDuringExecution!.nodeSelectorTerms[0]!.matchExpressions![0]!.values, ['linux']);
  // without either, the operator's default (preferred spread across nodes) stays
  const fallback = { podAntiAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [] } };
  t.is(bankVaultsAffinity({}, {}, fallback), fallback);
  const platform = everyField();
  platform.spec.platformManagedSecurityContext = true;
  const p = byKind(platform).sts.spec!.template.spec!;
  t.is(p.securityContext, undefined);
  t.is(p.containers[0]!.securityContext, undefined);
});

test('merges: container snippets override and append; pod snippets fill and append', (t) => {
  t.deepEqual(mergeOverride({ a: 1, l: [1], o: { x: 1, y: 1 } }, { a: 2, l: [2], o: { y: 2 } }), { a: 2, l: [1, 2], o: { x: 1, y: 2 } });
  t.deepEqual(mergeFill({ a: 1, l: [1], o: { x: 1 } }, { a: 2, b: 3, l: [2], o: { x: 2, z: 3 } }), { a: 1, b: 3, l: [1, 2], o: { x: 1, z: 3 } });
  t.deepEqual(
    vaultContainerEnv({ vaultEnvsConfig: [{ name: 'VAULT_JSON_LOG', value: 'true' }, { name: 'KEEP', value: '1' }] }).map((e) => e.name),
    ['SECRET_INIT_JSON_LOG', 'KEEP'],
  );
});

test('vaultPodSpec overrides of Bank-Vaults containers (no image) are not added, and are reported', (t) => {
  const vault = aVault({ vaultPodSpec: { containers: [{ name: 'bank-vaults', resources: { limits: { cpu: '1' } } }, { name: 'extra', image: 'example.test/x:1' }] } });
  const pod = desiredStatefulSet(vault);
  const overlaid = byKind(vault).sts.spec!.template.spec!;
  t.deepEqual(overlaid.containers.map((c) => c.name), ['vault', 'extra']);
  t.is(pod.spec!.template.spec!.containers[0]!.name, 'vault');
  t.deepEqual(ignoredFields(vault.spec).map((f) => f.field), ['spec.vaultPodSpec.containers[name=bank-vaults]']);
});
