// The OLM bundle and install.yaml as the real kube-apiserver judges them: the
// ClusterServiceVersion CRD (operator-framework/api, printed by the Go-built
// bundle validator from the module it is built on; the test fails if that
// cannot be built) is registered and the generated CSV is created --
// structural schema, CEL rules and all -- and every alm-example is accepted
// by its CRD (dry run).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import yaml from 'js-yaml';
import { CustomObjectsApi, KubernetesObjectApi, loadAllYaml, PatchStrategy, type KubernetesObject } from '@kubernetes/client-node';
import { eventually, useTestEnv } from '../../harness/index.js';
import { generatedFiles } from '../../../operator/deploy/generate.js';
import type { ClusterServiceVersion } from '../../../operator/deploy/csv.js';
import { csvCrdYaml } from '../../olm/validator.js';

const env = useTestEnv(test, { vault: false, kms: false });
const files = generatedFiles('all', {});
const csvText = [...files].find(([p]) => p.endsWith('.clusterserviceversion.yaml'))![1];

test.serial('the apiserver accepts the generated ClusterServiceVersion under the CSV CRD', async (t) => {
  const e = env();
  const crdDir = mkdtempSync(join(tmpdir(), 'va-csv-crd-'));
  try {
    writeFileSync(join(crdDir, 'clusterserviceversions.yaml'), csvCrdYaml());
    await e.applyCrds(join(crdDir, 'clusterserviceversions.yaml'));
  } finally {
    rmSync(crdDir, { recursive: true, force: true });
  }
  const ns = await e.namespace('va-csv');
  const csv = yaml.load(csvText) as ClusterServiceVersion;
  const api = e.kubeConfig().makeApiClient(CustomObjectsApi);
  const ref = { group: 'operators.coreos.com', version: 'v1alpha1', plural: 'clusterserviceversions', namespace: ns };
  await eventually(() => api.listNamespacedCustomObject(ref), { timeoutMs: 30_000 });
  const created = (await api.createNamespacedCustomObject({ ...ref, body: csv })) as ClusterServiceVersion;
  t.is(created.metadata.name, csv.metadata.name);
  t.is(created.spec.version, csv.spec.version);
  // Pruning would silently drop fields the schema does not know: what we wrote is what is stored.
  t.deepEqual(created.spec.install, csv.spec.install);
  t.deepEqual(created.spec.webhookdefinitions, csv.spec.webhookdefinitions);
  t.deepEqual(created.spec.customresourcedefinitions, csv.spec.customresourcedefinitions);
  // And the apiserver does reject a broken one.
  const broken = structuredClone(csv) as unknown as { metadata: { name: string }; spec: Record<string, unknown> };
  broken.metadata.name = 'broken.v0.0.1';
  broken.spec['installModes'] = [{ type: 'AllNamespaces', supported: 'yes' }];
  await t.throwsAsync(api.createNamespacedCustomObject({ ...ref, body: broken }));
});

test.serial('every alm-example (samples/) is accepted by its CRD, and install.yaml by the apiserver (server-side dry run)', async (t) => {
  const e = env();
  const ns = await e.namespace('va-examples');
  const objects = e.kubeConfig().makeApiClient(KubernetesObjectApi);
  // CRDs first, for real (the examples need them); the rest as a dry run.
  const install = loadAllYaml(files.get('install.yaml')!).filter((o): o is KubernetesObject => o != null);
  for (const crd of install.filter((o) => o.kind === 'CustomResourceDefinition')) {
    await objects.patch(crd, undefined, undefined, 'vault-autopilot-bundle-test', true, PatchStrategy.ServerSideApply);
  }
  const api = e.kubeConfig().makeApiClient(CustomObjectsApi);
  await eventually(() => api.listNamespacedCustomObject({ group: 'vault.autopilot.dev', version: 'v1alpha1', plural: 'vaults', namespace: ns }), { timeoutMs: 30_000 });
  for (const obj of install.filter((o) => o.kind !== 'CustomResourceDefinition')) {
    const inNs = obj.metadata?.namespace ? { ...obj, metadata: { ...obj.metadata, namespace: ns } } : obj;
    if (obj.kind === 'Namespace') continue;
    await t.notThrowsAsync(objects.create(inNs, undefined, 'All'), `${obj.kind}/${obj.metadata?.name}`);
  }
  const csv = yaml.load(csvText) as ClusterServiceVersion & { metadata: { annotations: Record<string, string> } };
  const examples = JSON.parse(csv.metadata.annotations['alm-examples']!) as KubernetesObject[];
  t.true(examples.length >= 3);
  for (const example of examples) {
    const body = { ...example, metadata: { ...example.metadata, namespace: ns } };
    await t.notThrowsAsync(objects.create(body, undefined, 'All'), `${example.kind}/${example.metadata?.name}`);
  }
});
