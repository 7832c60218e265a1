import test from 'ava';
import type { V1CustomResourceDefinition } from '@kubernetes/client-node';
import { humanize, shortDescription, specDescriptors, statusDescriptors } from '../../../operator/deploy/descriptors.js';

function aCrd(spec: object, status: object = {}): V1CustomResourceDefinition {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: 'things.example.dev' },
    spec: {
      group: 'example.dev',
      names: { kind: 'Thing', plural: 'things' },
      scope: 'Namespaced',
      versions: [
        { name: 'v1old', served: true, storage: false, schema: { openAPIV3Schema: { type: 'object', properties: {} } } },
        { name: 'v1', served: true, storage: true, schema: { openAPIV3Schema: { type: 'object', properties: { spec: { type: 'object', properties: spec }, status: { type: 'object', properties: status } } } as never } },
      ],
    },
  };
}

test('humanize splits camelCase and keeps acronyms', (t) => {
  t.is(humanize('KMSVaultSecret'), 'KMS Vault Secret');
  t.is(humanize('PartialKMSVaultSecret'), 'Partial KMS Vault Secret');
  t.is(humanize('kvSettings'), 'KV Settings');
  t.is(humanize('engineVersion'), 'Engine Version');
  t.is(humanize('existingTlsSecretName'), 'Existing TLS Secret Name');
  t.is(humanize('size'), 'Size');
});

test('shortDescription flattens whitespace and cuts long text at a sentence end', (t) => {
  t.is(shortDescription('  a\n  b ', 'x'), 'a b');
  t.is(shortDescription(undefined, 'Fallback'), 'Fallback');
  const long = `${'First sentence is here and it is long enough. '.repeat(5)}${'word '.repeat(80)}`;
  const cut = shortDescription(long, 'x');
  t.true(cut.length <= 300);
  t.true(cut.endsWith('.'));
});

test('spec descriptors come from the storage version, two levels deep, typed by schema', (t) => {
  const crd = aCrd({
    size: { type: 'integer', description: 'Number of pods.' },
    enabled: { type: 'boolean' },
    mode: { type: 'string', enum: ['a', 'b'] },
    kvSettings: { type: 'object', description: 'KV.', properties: { engineVersion: { type: 'string', description: 'v1 or v2' }, deeper: { type: 'object', properties: { tooDeep: { type: 'string' } } } } },
  });
  const d = specDescriptors(crd);
  t.deepEqual(d.map((x) => x.path), ['size', 'enabled', 'mode', 'kvSettings', 'kvSettings.engineVersion', 'kvSettings.deeper']);
  const by = Object.fromEntries(d.map((x) => [x.path, x]));
  t.deepEqual(by['size']!['x-descriptors'], ['urn:alm:descriptor:com.tectonic.ui:number']);
  t.deepEqual(by['enabled']!['x-descriptors'], ['urn:alm:descriptor:com.tectonic.ui:booleanSwitch']);
  t.deepEqual(by['mode']!['x-descriptors'], ['urn:alm:descriptor:com.tectonic.ui:select:a', 'urn:alm:descriptor:com.tectonic.ui:select:b']);
  t.deepEqual(by['kvSettings.engineVersion']!['x-descriptors'], ['urn:alm:descriptor:com.tectonic.ui:fieldGroup:kvSettings', 'urn:alm:descriptor:com.tectonic.ui:text']);
  t.is(by['size']!.description, 'Number of pods.');
  t.is(by['enabled']!.description, 'Enabled', 'falls back to the display name');
});

test('status descriptors mark conditions for the console', (t) => {
  const d = statusDescriptors(aCrd({}, { conditions: { type: 'array' }, observedGeneration: { type: 'integer' } }));
  t.deepEqual(d.find((x) => x.path === 'conditions')!['x-descriptors'], ['urn:alm:descriptor:io.kubernetes.conditions']);
  t.is(d.find((x) => x.path === 'observedGeneration')!['x-descriptors'], undefined);
});

test('a spec field the operator writes itself is hidden in the console, without descriptors for its children', (t) => {
  const d = specDescriptors(aCrd({ serviceAccountRoles: { type: 'object', properties: { authPath: { type: 'string' } } }, size: { type: 'integer' } }));
  t.deepEqual(d.find((x) => x.path === 'serviceAccountRoles')!['x-descriptors'], ['urn:alm:descriptor:com.tectonic.ui:hidden']);
  t.false(d.some((x) => x.path.startsWith('serviceAccountRoles.')));
  t.deepEqual(d.find((x) => x.path === 'size')!['x-descriptors'], ['urn:alm:descriptor:com.tectonic.ui:number']);
});
