// The OLM bundle as `operator-sdk bundle validate --select-optional
// suite=operatorframework` sees it: the real operator-framework validators
// (test/olm/validate, Go; built and cached by test/olm/build.sh -- a test
// fails if it cannot run them), shown able to fail on broken copies; then the
// project's own rules on top (names, emails/URLs, icon, removed APIs, CRD
// descriptors, no CRD-writing RBAC, alm-examples against their CRDs).
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import test from 'ava';
import yaml from 'js-yaml';
import type { KubernetesObject, V1CustomResourceDefinition, V1PolicyRule } from '@kubernetes/client-node';
import { BUNDLE_DIR, generatedFiles, REPO_ROOT } from '../../../operator/deploy/generate.js';
import { BUNDLE_ANNOTATIONS } from '../../../operator/deploy/bundle.js';
import { crdValidator, errorsText, kubernetesAjv } from './helpers/schema.js';
import { validateBundle, writeBundle } from '../../olm/validator.js';
import type { ClusterServiceVersion } from '../../../operator/deploy/csv.js';
import { operatorPermissions, policyRules, Scope } from '../../../operator/deploy/rbac.js';
import { InstallMode } from '../../../operator/deploy/install-settings.js';

const files = generatedFiles('bundle', {});
const csvPath = [...files.keys()].find((p) => p.endsWith('.clusterserviceversion.yaml'))!;
const csv = yaml.load(files.get(csvPath)!) as ClusterServiceVersion;
const manifests = [...files].filter(([p]) => p.startsWith('manifests/')).map(([p, c]) => ({ path: p, object: yaml.load(c) as KubernetesObject }));
const crds = manifests.filter((m) => m.object.kind === 'CustomResourceDefinition').map((m) => m.object as V1CustomResourceDefinition);

const SEMVER = /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?$/;
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const CAPABILITIES = ['Basic Install', 'Seamless Upgrades', 'Full Lifecycle', 'Deep Insights', 'Auto Pilot'];
// operator-framework/api pkg/validation/internal/operatorhub.go validCategories
const CATEGORIES = ['AI/Machine Learning', 'Application Runtime', 'Big Data', 'Cloud Provider', 'Developer Tools', 'Database',
  'Integration & Delivery', 'Logging & Tracing', 'Monitoring', 'Modernization & Migration', 'Networking', 'OpenShift Optional',
  'Security', 'Storage', 'Streaming & Messaging', 'Drivers and plugins'];
const ICON_MEDIATYPES = ['image/gif', 'image/jpeg', 'image/png', 'image/svg+xml'];
const BUNDLE_KINDS = ['ClusterServiceVersion', 'CustomResourceDefinition', 'Secret', 'ConfigMap', 'ClusterRole', 'ClusterRoleBinding',
  'Role', 'RoleBinding', 'ServiceAccount', 'Service', 'PrometheusRule', 'ServiceMonitor', 'PodMonitor', 'PodDisruptionBudget',
  'PriorityClass', 'VerticalPodAutoscaler', 'NetworkPolicy'];
/** group/version -> the Kubernetes minor that removed it (operator-sdk's deprecated-API check). */
const REMOVED_APIS: Record<string, number> = {
  'apiextensions.k8s.io/v1beta1': 22, 'admissionregistration.k8s.io/v1beta1': 22, 'rbac.authorization.k8s.io/v1beta1': 22,
  'scheduling.k8s.io/v1beta1': 22, 'coordination.k8s.io/v1beta1': 22, 'apiregistration.k8s.io/v1beta1': 22,
  'policy/v1beta1': 25, 'batch/v1beta1': 25, 'discovery.k8s.io/v1beta1': 25, 'events.k8s.io/v1beta1': 25,
  'autoscaling/v2beta1': 25, 'autoscaling/v2beta2': 26, 'flowcontrol.apiserver.k8s.io/v1beta1': 26,
  'flowcontrol.apiserver.k8s.io/v1beta2': 29, 'storage.k8s.io/v1beta1': 27,
};

function validUrl(text: string): boolean {
  try {
    const url = new URL(text);
    return url.protocol === 'https:' || url.protocol === 'http:';
  } catch {
    return false;
  }
}

test('the operator-framework validators (default + suite=operatorframework) report nothing on the generated bundle', (t) => {
  const dir = writeBundle(files);
  try {
    const run = validateBundle(dir);
    t.log(run.stdout.trim());
    t.is(run.status, 0, run.stdout + run.stderr);
    t.regex(run.stdout, /: 0 errors, 0 warnings /);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the checked-in olm-bundle/ passes the same validators', (t) => {
  const run = validateBundle(BUNDLE_DIR);
  t.is(run.status, 0, run.stdout + run.stderr);
  t.regex(run.stdout, /: 0 errors, 0 warnings /);
});

/** The generated bundle with the CSV (as a plain object) changed by `edit`, validated. */
function validateBrokenCsv(edit: (csv: ClusterServiceVersion) => void) {
  const broken = new Map(files);
  const doc = structuredClone(csv);
  edit(doc);
  broken.set(csvPath, yaml.dump(doc));
  const dir = writeBundle(broken);
  try {
    return validateBundle(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('the validators fail a bundle with errors: bad minKubeVersion, capability, category; an owned CRD missing', (t) => {
  const run = validateBrokenCsv((c) => {
    c.spec.minKubeVersion = 'foo';
    c.metadata.annotations['capabilities'] = 'Bogus';
    c.metadata.annotations['categories'] = 'NotACategory';
    c.spec.customresourcedefinitions.owned.push({
      name: 'ghosts.vault.autopilot.dev', version: 'v1alpha1', kind: 'Ghost', displayName: 'Ghost', description: 'not in the bundle', specDescriptors: [], statusDescriptors: [],
    });
  });
  t.log(run.stdout.trim());
  t.is(run.status, 1);
  t.regex(run.stdout, /ERROR .*minKubeVersion/i);
  t.regex(run.stdout, /ERROR .*capabilit.*Bogus/i);
  t.regex(run.stdout, /ERROR .*categor.*NotACategory/i);
  t.regex(run.stdout, /ERROR .*owned CRD .*Kind=Ghost.* not found in bundle/);
  t.regex(run.stdout, /: [1-9]\d* errors, \d+ warnings /);
});

test('the validators fail a bundle with only warnings (no CPU/memory requests on the operator container)', (t) => {
  const run = validateBrokenCsv((c) => {
    for (const d of c.spec.install.spec.deployments) for (const ctr of d.spec.template.spec!.containers) delete ctr.resources;
  });
  t.log(run.stdout.trim());
  t.is(run.status, 1, 'a warning fails the check too');
  t.regex(run.stdout, /WARNING .*resource/i);
  t.regex(run.stdout, /: 0 errors, [1-9]\d* warnings /);
});

test('the validators fail a bundle whose metadata/annotations.yaml has the wrong media type', (t) => {
  const broken = new Map(files);
  broken.set('metadata/annotations.yaml', broken.get('metadata/annotations.yaml')!.replace('registry+v1', 'plain+v0'));
  const dir = writeBundle(broken);
  try {
    const run = validateBundle(dir);
    t.is(run.status, 1);
    t.regex(run.stdout, /ERROR .*mediatype\.v1 is "plain\+v0"/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('name is <package>.v<semver> and matches spec.version and the bundle package', (t) => {
  t.regex(csv.spec.version, SEMVER);
  t.is(csv.metadata.name, `${BUNDLE_ANNOTATIONS['operators.operatorframework.io.bundle.package.v1']}.v${csv.spec.version}`);
  t.is(csvPath, `manifests/${BUNDLE_ANNOTATIONS['operators.operatorframework.io.bundle.package.v1']}.clusterserviceversion.yaml`);
  t.is(csv.spec.version, JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')).version);
});

test('maintainers have valid emails; links and provider have valid URLs', (t) => {
  t.true(csv.spec.maintainers.length > 0);
  for (const m of csv.spec.maintainers) {
    t.truthy(m.name);
    t.regex(m.email, EMAIL);
  }
  t.true(csv.spec.links.length > 0);
  for (const l of csv.spec.links) t.true(validUrl(l.url), l.url);
  t.truthy(csv.spec.provider.name);
  t.true(validUrl(csv.spec.provider.url));
  t.true(validUrl(csv.metadata.annotations['repository']!));
});

test('one icon with a supported media type whose data decodes to that type', (t) => {
  t.is(csv.spec.icon.length, 1);
  const [icon] = csv.spec.icon;
  t.true(ICON_MEDIATYPES.includes(icon!.mediatype));
  const bytes = Buffer.from(icon!.base64data, 'base64');
  t.is(bytes.toString('base64'), icon!.base64data, 'base64data is canonical base64');
  const svg = bytes.toString('utf8');
  t.regex(svg, /^<svg [^>]*xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
  t.regex(svg, /<\/svg>\s*$/);
  const viewBox = /viewBox="0 0 (\d+) (\d+)"/.exec(svg);
  t.truthy(viewBox);
  t.is(viewBox![1], viewBox![2], 'square icon');
  t.true(bytes.length < 16 * 1024);
});

test('capability level, categories, maturity, description and keywords are valid', (t) => {
  const a = csv.metadata.annotations;
  t.true(CAPABILITIES.includes(a['capabilities']!));
  const categories = a['categories']!.split(',').map((c) => c.trim());
  t.true(categories.length > 0);
  for (const c of categories) t.true(CATEGORIES.includes(c), c);
  t.true(['alpha', 'beta', 'stable', 'deprecated', 'planning', 'pre-alpha', 'mature'].includes(csv.spec.maturity));
  t.true(a['description']!.length > 10);
  t.true(csv.spec.description.length > 100);
  t.true(csv.spec.keywords.length > 0);
  t.truthy(a['containerImage']);
  t.false(Number.isNaN(Date.parse(a['createdAt']!)));
});

test('arch labels for amd64 and arm64 and os linux', (t) => {
  t.is(csv.metadata.labels['operatorframework.io/arch.amd64'], 'supported');
  t.is(csv.metadata.labels['operatorframework.io/arch.arm64'], 'supported');
  t.is(csv.metadata.labels['operatorframework.io/os.linux'], 'supported');
});

test('installModes lists all four types and supports at least one', (t) => {
  t.deepEqual(csv.spec.installModes.map((m) => m.type).sort(), ['AllNamespaces', 'MultiNamespace', 'OwnNamespace', 'SingleNamespace']);
  t.true(csv.spec.installModes.some((m) => m.supported));
});

test('minKubeVersion is semver and no manifest uses an API removed by then', (t) => {
  t.regex(csv.spec.minKubeVersion, SEMVER);
  const minor = Number(csv.spec.minKubeVersion.split('.')[1]);
  const used = [...manifests.map((m) => m.object.apiVersion!), ...csv.spec.webhookdefinitions.flatMap((w) => w.rules.flatMap((r) => (r.apiGroups ?? []).flatMap((g) => (r.apiVersions ?? []).map((v) => (g ? `${g}/${v}` : v)))))];
  for (const apiVersion of used) {
    const removedIn = REMOVED_APIS[apiVersion];
    t.true(removedIn === undefined || removedIn > minor, `${apiVersion} is removed in 1.${removedIn}`);
  }
});

test('CRD validations only use fields the minimum Kubernetes version knows', (t) => {
  const minor = Number(csv.spec.minKubeVersion.split('.')[1]);
  const seen: string[] = [];
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) return node.forEach(walk);
    if (typeof node !== 'object' || node === null) return;
    for (const [k, v] of Object.entries(node)) {
      if (k === 'x-kubernetes-validations') for (const rule of v as Record<string, unknown>[]) seen.push(...Object.keys(rule));
      walk(v);
    }
  };
  crds.forEach(walk);
  // rule/message: 1.25 (on by default); messageExpression 1.27; reason/fieldPath 1.28.
  const since: Record<string, number> = { rule: 25, message: 25, messageExpression: 27, reason: 28, fieldPath: 28, optionalOldSelf: 29 };
  for (const key of new Set(seen)) t.true((since[key] ?? 99) <= minor, `x-kubernetes-validations.${key} needs 1.${since[key]}`);
});

test('every container of every deployment requests CPU and memory and has limits', (t) => {
  const deployments = csv.spec.install.spec.deployments;
  t.true(deployments.length > 0);
  for (const d of deployments) {
    for (const c of [...(d.spec.template.spec?.containers ?? []), ...(d.spec.template.spec?.initContainers ?? [])]) {
      t.truthy(c.resources?.requests?.['cpu'], `${c.name} cpu request`);
      t.truthy(c.resources?.requests?.['memory'], `${c.name} memory request`);
      t.truthy(c.resources?.limits?.['memory'], `${c.name} memory limit`);
    }
  }
});

test('owned CRDs: each has a bundle manifest, a description, a display name, the storage version and descriptors', (t) => {
  const owned = csv.spec.customresourcedefinitions.owned;
  t.is(owned.length, crds.length);
  t.true(owned.length >= 3);
  for (const o of owned) {
    const crd = crds.find((c) => c.metadata?.name === o.name);
    t.truthy(crd, `${o.name} has a CRD manifest`);
    t.is(o.name, `${crd!.spec.names.plural}.${crd!.spec.group}`);
    t.is(o.kind, crd!.spec.names.kind);
    t.is(o.version, crd!.spec.versions.find((v) => v.storage)!.name);
    t.true(o.description.trim().length > 0, `${o.kind} description`);
    t.true(o.displayName.trim().length > 0);
    t.true(o.specDescriptors.length > 0, `${o.kind} specDescriptors`);
    for (const d of [...o.specDescriptors, ...o.statusDescriptors]) t.true(d.description.length > 0 && d.displayName.length > 0, d.path);
  }
});

test('descriptor paths exist in the CRD schemas', (t) => {
  type S = { properties?: Record<string, S> };
  for (const o of csv.spec.customresourcedefinitions.owned) {
    const crd = crds.find((c) => c.metadata?.name === o.name)!;
    const root = crd.spec.versions.find((v) => v.storage)!.schema!.openAPIV3Schema as unknown as S;
    const resolve = (base: string, path: string): boolean => {
      let node: S | undefined = root.properties?.[base];
      for (const part of path.split('.')) node = node?.properties?.[part];
      return node !== undefined;
    };
    for (const d of o.specDescriptors) t.true(resolve('spec', d.path), `spec.${d.path}`);
    for (const d of o.statusDescriptors) t.true(resolve('status', d.path), `status.${d.path}`);
  }
});

test('alm-examples: valid JSON, one example per owned GVK at least, each valid against its CRD schema', (t) => {
  const examples = JSON.parse(csv.metadata.annotations['alm-examples']!) as KubernetesObject[];
  t.true(Array.isArray(examples));
  const ajv = kubernetesAjv();
  for (const o of csv.spec.customresourcedefinitions.owned) {
    const crd = crds.find((c) => c.metadata?.name === o.name)!;
    const gv = `${crd.spec.group}/${o.version}`;
    const mine = examples.filter((e) => e.apiVersion === gv && e.kind === o.kind);
    t.true(mine.length > 0, `no alm-example for ${gv} ${o.kind} (add one to samples/)`);
    const validate = crdValidator(ajv, crd as never);
    for (const e of mine) t.true(validate(e), `${o.kind}/${e.metadata?.name}: ${errorsText(validate)}`);
  }
});

test('no permission lets the operator create or change CRDs, and no wildcards', (t) => {
  const rules: V1PolicyRule[] = [
    ...csv.spec.install.spec.permissions.flatMap((p) => p.rules),
    ...csv.spec.install.spec.clusterPermissions.flatMap((p) => p.rules),
  ];
  t.true(rules.length > 0);
  for (const r of rules) {
    t.false((r.verbs ?? []).includes('*'));
    t.false((r.resources ?? []).includes('*'));
    t.false((r.apiGroups ?? []).includes('*'));
    if ((r.apiGroups ?? []).includes('apiextensions.k8s.io') && (r.resources ?? []).includes('customresourcedefinitions')) {
      for (const verb of ['create', 'update', 'patch', 'delete']) t.false(r.verbs.includes(verb), verb);
    }
  }
  // Under OLM, OLM owns the webhook configuration: the operator gets no access to it.
  t.false(rules.some((r) => (r.resources ?? []).includes('mutatingwebhookconfigurations')));
});

test('webhook definition: deployment exists, no forbidden rules, ports and path set', (t) => {
  t.true(csv.spec.webhookdefinitions.length > 0);
  const deployments = csv.spec.install.spec.deployments.map((d) => d.name);
  for (const w of csv.spec.webhookdefinitions) {
    t.true(deployments.includes(w.deploymentName));
    t.regex(w.generateName, /^[a-z0-9-]+(\.[a-z0-9-]+)+$/, 'fully qualified generateName');
    t.true(['Fail', 'Ignore'].includes(w.failurePolicy));
    t.true(['None', 'NoneOnDryRun'].includes(w.sideEffects));
    t.deepEqual(w.objectSelector.matchExpressions, [
      { key: 'app.kubernetes.io/name', operator: 'NotIn', values: ['vault-autopilot'] },
      // nor are the Vault servers it deploys (a sealed Vault's restart must not wait on the webhook)
      { key: 'app.kubernetes.io/managed-by', operator: 'NotIn', values: ['vault-autopilot'] },
    ]);
    t.is(csv.spec.install.spec.deployments.find((d) => d.name === w.deploymentName)!.spec.template.metadata!.labels!['app.kubernetes.io/name'], 'vault-autopilot',
      "the operator's own pods are not sent to its webhook");
    t.true(w.webhookPath.startsWith('/'));
    const container = csv.spec.install.spec.deployments.find((d) => d.name === w.deploymentName)!.spec.template.spec!.containers[0]!;
    t.true((container.ports ?? []).some((p) => p.containerPort === w.targetPort), 'targetPort is a container port');
    for (const r of w.rules) {
      t.false((r.apiGroups ?? []).includes('*'));
      t.false((r.apiGroups ?? []).includes('operators.coreos.com'));
      t.false((r.apiGroups ?? []).includes('admissionregistration.k8s.io'));
      t.false((r.resources ?? []).includes('*'));
    }
  }
});

test('relatedImages contain the operator image and are unique', (t) => {
  const images = csv.spec.relatedImages;
  t.true(images.some((i) => i.image === csv.metadata.annotations['containerImage']));
  t.is(new Set(images.map((i) => i.name)).size, images.length);
  const container = csv.spec.install.spec.deployments[0]!.spec.template.spec!.containers[0]!;
  t.is(container.image, csv.metadata.annotations['containerImage']);
});

test('manifests/ holds only kinds a registry+v1 bundle may contain', (t) => {
  for (const m of manifests) t.true(BUNDLE_KINDS.includes(m.object.kind!), `${m.path}: ${m.object.kind}`);
});

test('metadata/annotations.yaml: mediatype, paths, package, stable channel as default; bundle.Dockerfile has the same LABELs', (t) => {
  const annotations = (yaml.load(files.get('metadata/annotations.yaml')!) as { annotations: Record<string, string> }).annotations;
  t.is(annotations['operators.operatorframework.io.bundle.mediatype.v1'], 'registry+v1');
  t.is(annotations['operators.operatorframework.io.bundle.manifests.v1'], 'manifests/');
  t.is(annotations['operators.operatorframework.io.bundle.metadata.v1'], 'metadata/');
  t.truthy(annotations['operators.operatorframework.io.bundle.package.v1']);
  const channels = annotations['operators.operatorframework.io.bundle.channels.v1']!.split(',');
  for (const c of channels) t.regex(c, /^(stable|fast|candidate)/);
  const defaultChannel = annotations['operators.operatorframework.io.bundle.channel.default.v1'];
  t.truthy(defaultChannel);
  t.true(channels.includes(defaultChannel!));
  const dockerfile = files.get('bundle.Dockerfile')!;
  t.regex(dockerfile, /^FROM scratch$/m);
  const labels = Object.fromEntries([...dockerfile.matchAll(/^LABEL (\S+)=(\S+)$/gm)].map((m) => [m[1], m[2]]));
  t.deepEqual(labels, annotations);
  t.regex(dockerfile, /^COPY manifests \/manifests\/$/m);
  t.regex(dockerfile, /^COPY metadata \/metadata\/$/m);
});

test('the compressed bundle is under 1 MiB', (t) => {
  const all = Buffer.concat([...files].filter(([p]) => !p.endsWith('Dockerfile')).map(([p, c]) => Buffer.from(`${p}\n${c}`)));
  const size = gzipSync(all).length;
  t.log(`bundle: ${all.length} bytes, ${size} gzipped`);
  t.true(size < 1024 * 1024);
});

test("the deployment runs as the ServiceAccount the CSV's permissions are for, and the OLM set is the kubectl set without the webhook configuration", (t) => {
  const accounts = new Set([...csv.spec.install.spec.clusterPermissions, ...csv.spec.install.spec.permissions].map((p) => p.serviceAccountName));
  for (const d of csv.spec.install.spec.deployments) t.true(accounts.has(d.spec.template.spec!.serviceAccountName!), d.name);
  const kubectlRules = policyRules(operatorPermissions({ mode: InstallMode.Kubectl }), Scope.Cluster);
  const olmRules = csv.spec.install.spec.clusterPermissions.flatMap((p) => p.rules);
  t.deepEqual(olmRules, kubectlRules.filter((r) => !(r.resources ?? []).includes('mutatingwebhookconfigurations')));
  // the namespaced rights are `permissions`: OLM copies them into each target namespace (a ClusterRole only for AllNamespaces)
  const namespaced = csv.spec.install.spec.permissions.flatMap((p) => p.rules);
  t.deepEqual(namespaced, policyRules(operatorPermissions({ mode: InstallMode.Olm }), [Scope.Watched, Scope.OperatorNamespace]));
  for (const r of olmRules) t.false(['secrets', 'statefulsets', 'services', 'serviceaccounts'].some((x) => r.resources!.includes(x)), `${r.resources} is not cluster-wide`);
});

test('every install mode is supported, and the operator reads its target namespaces from OLM\'s annotation', (t) => {
  t.deepEqual(csv.spec.installModes.filter((m) => !m.supported), []);
  const env = csv.spec.install.spec.deployments[0]!.spec.template.spec!.containers[0]!.env ?? [];
  t.deepEqual(env.find((e) => e.name === 'VAULT_AUTOPILOT_WATCH_NAMESPACES')?.valueFrom, { fieldRef: { fieldPath: "metadata.annotations['olm.targetNamespaces']" } });
});
