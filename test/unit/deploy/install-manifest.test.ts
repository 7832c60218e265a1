// install.yaml: what `kubectl apply` gets, checked object by object and
// against the operator's own settings parsers (so the two cannot drift).
import test from 'ava';
import yaml from 'js-yaml';
import type { KubernetesObject, V1Deployment, V1MutatingWebhookConfiguration, V1Service } from '@kubernetes/client-node';
import { generatedFiles } from '../../../operator/deploy/generate.js';
import { installObjects } from '../../../operator/deploy/install-manifest.js';
import { defaultInstallSettings, InstallMode, NAME, PORT } from '../../../operator/deploy/install-settings.js';
import { SUPPORTED_ARCHITECTURES } from '../../../operator/deploy/deployment.js';
import { parseWebhookSettings, WEBHOOK_PATH } from '../../../operator/webhook/settings.js';
import { parseOperatorSettings } from '../../../operator/settings.js';
import { parseVaultControllerSettings } from '../../../operator/controllers/vault/settings.js';
import { parseServiceAccountSettings } from '../../../operator/controllers/serviceaccount/settings.js';
import { parseKmsVaultSecretSettings } from '../../../operator/controllers/kmsvaultsecret/settings.js';

const text = generatedFiles('install-manifest', {}).get('install.yaml')!;
const objects = yaml.loadAll(text) as KubernetesObject[];
const byKind = <T extends KubernetesObject>(kind: string): T[] => objects.filter((o) => o.kind === kind) as T[];
const deployment = byKind<V1Deployment>('Deployment')[0]!;
const container = deployment.spec!.template.spec!.containers[0]!;
const namespace = byKind('Namespace')[0]!.metadata!.name!;

/** The environment the container sees (fieldRef values resolved as the kubelet would). */
function containerEnv(): Record<string, string> {
  return Object.fromEntries((container.env ?? []).map((e) => [e.name, e.value ?? (e.valueFrom?.fieldRef?.fieldPath === 'metadata.namespace' ? namespace : 'pod-0')]));
}

test('apply order: Namespace first, CRDs before anything else, webhook configuration last', (t) => {
  const kinds = objects.map((o) => o.kind);
  t.is(kinds[0], 'Namespace');
  const lastCrd = kinds.lastIndexOf('CustomResourceDefinition');
  t.true(lastCrd > 0);
  t.true(kinds.slice(1, lastCrd + 1).every((k) => k === 'CustomResourceDefinition'));
  t.is(kinds.at(-1), 'MutatingWebhookConfiguration');
  t.true(kinds.indexOf('ServiceAccount') < kinds.indexOf('Deployment'));
  t.deepEqual(byKind('CustomResourceDefinition').map((c) => c.metadata?.name).sort(),
    ['kmsvaultsecrets.vault.autopilot.dev', 'partialkmsvaultsecrets.vault.autopilot.dev', 'vaults.vault.autopilot.dev']);
});

test('every namespaced object is in the operator namespace; cluster-scoped ones have none', (t) => {
  const clusterScoped = ['Namespace', 'CustomResourceDefinition', 'ClusterRole', 'ClusterRoleBinding', 'MutatingWebhookConfiguration'];
  for (const o of objects) {
    if (clusterScoped.includes(o.kind!)) t.is(o.metadata?.namespace, undefined, `${o.kind}`);
    else t.is(o.metadata?.namespace, namespace, `${o.kind}/${o.metadata?.name}`);
  }
});

test('the Deployment runs non-root with a read-only root filesystem, probes and Raspberry-Pi-sized resources', (t) => {
  const pod = deployment.spec!.template.spec!;
  t.true(pod.securityContext?.runAsNonRoot);
  t.is(pod.securityContext?.runAsUser, 65532);
  t.is(container.securityContext?.readOnlyRootFilesystem, true);
  t.is(container.securityContext?.allowPrivilegeEscalation, false);
  t.deepEqual(container.securityContext?.capabilities?.drop, ['ALL']);
  t.is(container.livenessProbe?.httpGet?.path, '/healthz');
  t.is(container.readinessProbe?.httpGet?.path, '/readyz');
  const healthPort = container.ports?.find((p) => p.name === container.readinessProbe?.httpGet?.port);
  t.is(healthPort?.containerPort, PORT.health);
  const mebibytes = (q: string) => Number(/^(\d+)Mi$/.exec(q)![1]);
  t.true(mebibytes(container.resources!.limits!['memory']!) <= 512, 'fits a Raspberry Pi 4 next to its workloads');
  t.true(mebibytes(container.resources!.requests!['memory']!) <= mebibytes(container.resources!.limits!['memory']!));
  const heap = /--max-old-space-size=(\d+)/.exec(containerEnv()['NODE_OPTIONS'] ?? '');
  t.truthy(heap);
  t.true(Number(heap![1]) < mebibytes(container.resources!.limits!['memory']!), 'V8 heap below the container limit');
  t.is(pod.serviceAccountName, NAME.serviceAccount);
});

test('the Deployment schedules on arm64 and amd64 Linux nodes and mounts an emptyDir on /tmp', (t) => {
  const pod = deployment.spec!.template.spec!;
  const terms = pod.affinity!.nodeAffinity!.requiredDuringSchedulingIgnoredDuringExecution!.nodeSelectorTerms;
  const arch = terms[0]!.matchExpressions!.find((e) => e.key === 'kubernetes.io/arch')!;
  t.is(arch.operator, 'In');
  t.deepEqual([...arch.values!].sort(), [...SUPPORTED_ARCHITECTURES].sort());
  t.deepEqual([...arch.values!].sort(), ['amd64', 'arm64']);
  const tmp = container.volumeMounts!.find((m) => m.mountPath === '/tmp')!;
  t.truthy(pod.volumes!.find((v) => v.name === tmp.name)!.emptyDir);
});

test("the container's environment parses with the webhook's own settings parser into a consistent self-managed setup", (t) => {
  const settings = parseWebhookSettings(containerEnv());
  t.true(settings.selfManagedCerts);
  t.false(settings.manageConfiguration);
  t.is(settings.operatorNamespace, namespace);
  t.true(settings.skipNamespaces.includes(namespace));
  t.true((container.ports ?? []).some((p) => p.name === 'webhook' && p.containerPort === settings.port));
  const service = byKind<V1Service>('Service').find((s) => s.metadata?.name === settings.serviceName);
  t.truthy(service, `the Service ${settings.serviceName} the certificate is issued for exists`);
  t.is(service!.spec!.ports![0]!.port, settings.servicePort);
  t.is(service!.spec!.ports![0]!.targetPort, 'webhook');
  t.deepEqual(service!.spec!.selector, deployment.spec!.selector.matchLabels);
  const configuration = byKind<V1MutatingWebhookConfiguration>('MutatingWebhookConfiguration')[0]!;
  t.is(configuration.metadata?.name, settings.configurationName);
  const webhook = configuration.webhooks![0]!;
  t.is(webhook.failurePolicy, settings.failurePolicy);
});

test('the webhook configuration: pods CREATE only, explicit failurePolicy, no side effects, no caBundle, system and own namespaces excluded', (t) => {
  const webhook = byKind<V1MutatingWebhookConfiguration>('MutatingWebhookConfiguration')[0]!.webhooks![0]!;
  t.deepEqual(webhook.rules, [{ apiGroups: [''], apiVersions: ['v1'], resources: ['pods'], operations: ['CREATE'], scope: 'Namespaced' }]);
  t.true(['Fail', 'Ignore'].includes(webhook.failurePolicy!));
  t.true(['None', 'NoneOnDryRun'].includes(webhook.sideEffects));
  t.deepEqual(webhook.admissionReviewVersions, ['v1']);
  t.is(webhook.clientConfig.caBundle, undefined);
  t.deepEqual(webhook.clientConfig.service, { namespace, name: NAME.webhookService, path: WEBHOOK_PATH, port: PORT.webhookService });
  const excluded = webhook.namespaceSelector!.matchExpressions!.find((e) => e.key === 'kubernetes.io/metadata.name' && e.operator === 'NotIn')!.values!;
  for (const ns of ['kube-system', namespace]) t.true(excluded.includes(ns), ns);
});

test('bindings point at the operator ServiceAccount in its namespace', (t) => {
  for (const b of [...byKind<KubernetesObject & { subjects: { kind: string; name: string; namespace: string }[] }>('ClusterRoleBinding'), ...byKind<KubernetesObject & { subjects: { kind: string; name: string; namespace: string }[] }>('RoleBinding')]) {
    t.deepEqual(b.subjects, [{ kind: 'ServiceAccount', name: NAME.serviceAccount, namespace }]);
  }
});

test('installObjects refuses the OLM mode (OLM creates the webhook objects itself)', (t) => {
  t.throws(() => installObjects(defaultInstallSettings(InstallMode.Olm, '1.0.0'), []));
});

test("every lifecycle's settings parser accepts the Deployment's environment, and the health port matches the probes", (t) => {
  const env = containerEnv();
  const operator = parseOperatorSettings(env);
  t.is(operator.healthPort, PORT.health);
  t.is(container.ports?.find((p) => p.name === 'health')?.containerPort, operator.healthPort);
  t.notThrows(() => parseVaultControllerSettings(env, () => 'ca'));
  t.notThrows(() => parseServiceAccountSettings(env));
  t.notThrows(() => parseKmsVaultSecretSettings(env));
  t.notThrows(() => parseWebhookSettings(env));
  // and a broken value is caught by the same parsers
  t.throws(() => parseWebhookSettings({ ...env, VAULT_AUTOPILOT_WEBHOOK_FAILURE_POLICY: 'Sometimes' }));
});

test('availability: two replicas spread over nodes, a PodDisruptionBudget keeping one, leader election on', (t) => {
  const objects = installObjects(defaultInstallSettings(InstallMode.Kubectl, '1.2.3'), []);
  const deployment = objects.find((o) => o.kind === 'Deployment') as V1Deployment;
  t.is(deployment.spec!.replicas, 2);
  t.deepEqual(deployment.spec!.strategy?.rollingUpdate, { maxSurge: 1, maxUnavailable: 0 });
  const anti = deployment.spec!.template.spec!.affinity!.podAntiAffinity!.preferredDuringSchedulingIgnoredDuringExecution![0]!;
  t.is(anti.podAffinityTerm.topologyKey, 'kubernetes.io/hostname');
  t.deepEqual(anti.podAffinityTerm.labelSelector?.matchLabels, deployment.spec!.selector.matchLabels);
  const pdb = objects.find((o) => o.kind === 'PodDisruptionBudget') as KubernetesObject & { spec: { minAvailable: number; selector: { matchLabels: Record<string, string> } } };
  t.is(pdb.spec.minAvailable, 1);
  t.deepEqual(pdb.spec.selector.matchLabels, deployment.spec!.selector.matchLabels);
  const env = Object.fromEntries((deployment.spec!.template.spec!.containers[0]!.env ?? []).filter((e) => e.value !== undefined).map((e) => [e.name, e.value!]));
  const operator = parseOperatorSettings({ ...env, POD_NAMESPACE: 'vault-autopilot', POD_NAME: 'p' });
  t.is(operator.leaderElection?.namespace, 'vault-autopilot');
});

test('failurePolicy: Fail for install.yaml (system namespaces excluded), Ignore under OLM (which cannot exclude them); overridable at generation', (t) => {
  const install = yaml.loadAll(generatedFiles('install-manifest', {}).get('install.yaml')!) as KubernetesObject[];
  const config = install.find((o) => o?.kind === 'MutatingWebhookConfiguration') as V1MutatingWebhookConfiguration;
  t.is(config.webhooks![0]!.failurePolicy, 'Fail');
  const excluded = config.webhooks![0]!.namespaceSelector!.matchExpressions![0]!;
  t.deepEqual([excluded.key, excluded.operator], ['kubernetes.io/metadata.name', 'NotIn']);
  for (const ns of ['kube-system', 'kube-public', 'kube-node-lease', 'vault-autopilot']) t.true(excluded.values!.includes(ns), ns);
  const csvText = [...generatedFiles('bundle', {}).entries()].find(([p]) => p.endsWith('clusterserviceversion.yaml'))![1];
  const csv = yaml.load(csvText) as { spec: { webhookdefinitions: Array<{ failurePolicy: string }>; install: { spec: { deployments: Array<{ spec: { replicas: number } }> } } } };
  t.is(csv.spec.webhookdefinitions[0]!.failurePolicy, 'Ignore');
  t.is(csv.spec.install.spec.deployments[0]!.spec.replicas, 2);
  t.true(generatedFiles('bundle', {}).has('manifests/vault-autopilot_policy_v1_poddisruptionbudget.yaml'));
  const overridden = yaml.loadAll(generatedFiles('install-manifest', { WEBHOOK_FAILURE_POLICY: 'Ignore' }).get('install.yaml')!) as KubernetesObject[];
  t.is((overridden.find((o) => o?.kind === 'MutatingWebhookConfiguration') as V1MutatingWebhookConfiguration).webhooks![0]!.failurePolicy, 'Ignore');
  t.throws(() => generatedFiles('install-manifest', { WEBHOOK_FAILURE_POLICY: 'Maybe' }), { message: /Fail or Ignore/ });
});

test('install scope (--watch-namespaces): Roles in the watched namespaces, a ClusterRole without namespaced rights, the setting and webhook selector', (t) => {
  const scopedText = generatedFiles('install-manifest', { WATCH_NAMESPACES: 'vault-system,shop' }).get('install.yaml')!;
  const scoped = yaml.loadAll(scopedText) as KubernetesObject[];
  const roles = scoped.filter((o) => o.kind === 'Role').map((o) => `${o.metadata?.namespace}/${o.metadata?.name}`);
  t.deepEqual(roles, [`${namespace}/${NAME.role}`, `shop/${NAME.watchRole}`, `vault-system/${NAME.watchRole}`]);
  const clusterRules = (scoped.find((o) => o.kind === 'ClusterRole') as { rules: { resources: string[] }[] }).rules;
  t.deepEqual(clusterRules.map((r) => r.resources[0]).sort(), ['clusterrolebindings', 'clusterroles', 'clusterroles', 'mutatingwebhookconfigurations', 'namespaces']);
  const env = (scoped.find((o) => o.kind === 'Deployment') as V1Deployment).spec!.template.spec!.containers[0]!.env!;
  t.is(env.find((e) => e.name === 'VAULT_AUTOPILOT_WATCH_NAMESPACES')?.value, 'shop,vault-system');
  const webhook = (scoped.find((o) => o.kind === 'MutatingWebhookConfiguration') as V1MutatingWebhookConfiguration).webhooks![0]!;
  t.deepEqual(webhook.namespaceSelector!.matchExpressions!.find((e) => e.operator === 'In')?.values, ['shop', 'vault-system']);
  t.regex(scopedText, /Install scope: watches only the namespaces shop, vault-system/);
  // the default install.yaml watches everything
  t.false(text.includes('VAULT_AUTOPILOT_WATCH_NAMESPACES'));
  t.false(objects.some((o) => o.metadata?.name === NAME.watchRole));
});

test("install scope including its own namespace: the webhook keeps the operator's pods out by label", (t) => {
  const scoped = yaml.loadAll(generatedFiles('install-manifest', { WATCH_NAMESPACES: `${namespace},shop` }).get('install.yaml')!) as KubernetesObject[];
  const webhook = (scoped.find((o) => o.kind === 'MutatingWebhookConfiguration') as V1MutatingWebhookConfiguration).webhooks![0]!;
  t.true(webhook.objectSelector!.matchExpressions!.some((e) => e.key === 'app.kubernetes.io/name' && e.operator === 'NotIn' && e.values!.includes(NAME.app)));
  t.false(webhook.namespaceSelector!.matchExpressions!.find((e) => e.operator === 'NotIn')!.values!.includes(namespace));
});
