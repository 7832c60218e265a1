// The pure builders behind the OLM e2e test (test/olm/olm.ts): the next
// release's bundle made from this one, the file-based catalog and the
// Subscription. The next bundle is judged by the real validators too.
import { rmSync } from 'node:fs';
import test from 'ava';
import yaml from 'js-yaml';
import { generatedFiles } from '../../../operator/deploy/generate.js';
import type { ClusterServiceVersion } from '../../../operator/deploy/csv.js';
import { catalogServer, fileBasedCatalog, nextBundle, subscription, OLM_IMAGE } from '../../olm/olm.js';
import { validateBundle, writeBundle } from '../../olm/validator.js';

const files = generatedFiles('bundle', {});
const csvPath = [...files.keys()].find((p) => p.endsWith('.clusterserviceversion.yaml'))!;
type Csv = ClusterServiceVersion & { spec: { replaces?: string } };

test('nextBundle: new CSV name and version, replaces the current one, nothing else changed', (t) => {
  const next = nextBundle(files, '9.8.7');
  const before = yaml.load(files.get(csvPath)!) as Csv;
  const after = yaml.load(next.get(csvPath)!) as Csv;
  t.is(after.metadata.name, 'vault-autopilot.v9.8.7');
  t.is(after.spec.version, '9.8.7');
  t.is(after.spec.replaces, before.metadata.name);
  t.deepEqual(after.spec.install, before.spec.install);
  t.deepEqual({ ...after.spec, version: before.spec.version, replaces: undefined }, { ...before.spec, replaces: undefined });
  for (const [path, content] of files) if (path !== csvPath) t.is(next.get(path), content, path);
});

test('nextBundle output passes the operator-framework validators', (t) => {
  const dir = writeBundle(nextBundle(files, '9.8.7'));
  try {
    const run = validateBundle(dir);
    t.is(run.status, 0, run.stdout + run.stderr);
    t.regex(run.stdout, /bundle vault-autopilot\.v9\.8\.7 .*: 0 errors, 0 warnings/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('fileBasedCatalog: package with default channel, channel entries with replaces, bundles by digest', (t) => {
  const digest = `localhost/b@sha256:${'a'.repeat(64)}`;
  const text = fileBasedCatalog([
    { rendered: { schema: 'olm.bundle', name: 'vault-autopilot.v1.0.0', package: 'vault-autopilot', image: '' }, image: digest },
    { rendered: { schema: 'olm.bundle', name: 'vault-autopilot.v1.1.0', package: 'vault-autopilot', image: '' }, image: digest, replaces: 'vault-autopilot.v1.0.0' },
  ]);
  const docs = yaml.loadAll(text) as Record<string, unknown>[];
  t.deepEqual(docs[0], { schema: 'olm.package', name: 'vault-autopilot', defaultChannel: 'stable' });
  t.deepEqual(docs[1], {
    schema: 'olm.channel', package: 'vault-autopilot', name: 'stable',
    entries: [{ name: 'vault-autopilot.v1.0.0' }, { name: 'vault-autopilot.v1.1.0', replaces: 'vault-autopilot.v1.0.0' }],
  });
  t.is(docs[2]!['image'], digest);
  t.is(docs.length, 4);
});

test('catalogServer: the CatalogSource points at the Service, and nothing is ever pulled', (t) => {
  const objects = catalogServer('---\n{}\n');
  const source = objects.find((o) => o.kind === 'CatalogSource') as { spec: { address: string; sourceType: string } };
  const service = objects.find((o) => o.kind === 'Service')!;
  t.is(source.spec.sourceType, 'grpc');
  t.is(source.spec.address, `${service.metadata!.name}.${service.metadata!.namespace}.svc:50051`);
  const deployment = objects.find((o) => o.kind === 'Deployment') as { spec: { template: { spec: { containers: { image: string; imagePullPolicy: string }[] } } } };
  for (const c of deployment.spec.template.spec.containers) {
    t.is(c.image, OLM_IMAGE);
    t.is(c.imagePullPolicy, 'Never');
  }
});

test('subscription: an all-namespaces OperatorGroup and an automatic Subscription with the envFrom config', (t) => {
  const [group, sub] = subscription('ops', [{ secretRef: { name: 'aws-kms' } }]) as [{ spec: Record<string, unknown> }, { spec: Record<string, unknown> }];
  t.deepEqual(group.spec, {});
  t.is(sub.spec['installPlanApproval'], 'Automatic');
  t.deepEqual(sub.spec['config'], { envFrom: [{ secretRef: { name: 'aws-kms' } }] });
});
