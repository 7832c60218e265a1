// The checked-in olm-bundle/ is exactly what the generators write today, and
// the comparison itself notices differing, missing and stale files.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { differences, generatedFiles, settingsFor } from '../../../operator/deploy/generate.js';
import { InstallMode } from '../../../operator/deploy/install-settings.js';

test('regenerating the bundle and install.yaml gives no diff (run `make bundle install-manifest` if this fails)', (t) => {
  const problems = differences(generatedFiles('all', {}), 'all');
  t.deepEqual(problems, []);
});

test('differences reports differing, missing and stale files', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'bundle-'));
  try {
    mkdirSync(join(dir, 'manifests'));
    writeFileSync(join(dir, 'manifests', 'a.yaml'), 'old');
    writeFileSync(join(dir, 'manifests', 'left-over.yaml'), 'x');
    const files = new Map([['manifests/a.yaml', 'new'], ['metadata/annotations.yaml', 'y']]);
    t.deepEqual(differences(files, 'bundle', dir).sort(), ['differs: manifests/a.yaml', 'missing: metadata/annotations.yaml', 'stale: manifests/left-over.yaml']);
    writeFileSync(join(dir, 'manifests', 'a.yaml'), 'new');
    rmSync(join(dir, 'manifests', 'left-over.yaml'));
    mkdirSync(join(dir, 'metadata'));
    writeFileSync(join(dir, 'metadata', 'annotations.yaml'), 'y');
    t.deepEqual(differences(files, 'bundle', dir), []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('IMAGE pins the operator image; NAMESPACE moves the kubectl install only', (t) => {
  const env = { IMAGE: 'registry.local/va@sha256:' + 'a'.repeat(64), NAMESPACE: 'ops' };
  t.is(settingsFor(InstallMode.Kubectl, env).image, env.IMAGE);
  t.is(settingsFor(InstallMode.Kubectl, env).namespace, 'ops');
  t.not(settingsFor(InstallMode.Olm, env).namespace, 'ops');
  const install = generatedFiles('install-manifest', env).get('install.yaml')!;
  t.true(install.includes(`image: ${env.IMAGE}`));
  t.true(install.includes('namespace: ops'));
});
