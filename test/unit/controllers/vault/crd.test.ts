// The TypeScript types of the Vault resource against crds/vault.yaml (the
// source of truth), and the samples against the schema.
import { readFileSync } from 'node:fs';
import test from 'ava';
import { Ajv } from 'ajv';
import yaml from 'js-yaml';
import { sampleOf } from '../../../support/samples.js';
import type { AuthMethodSpec, ExternalConfig, UnsealConfig, VaultSpec, VaultStatus } from '../../../../operator/api/vault.js';

type Schema = { type?: string; properties?: Record<string, Schema>; items?: Schema; required?: string[]; [k: string]: unknown };
const crd = yaml.load(readFileSync('crds/vault.yaml', 'utf8')) as { spec: { versions: Array<{ schema: { openAPIV3Schema: Schema } }> } };
const root = crd.spec.versions[0]!.schema.openAPIV3Schema;
const spec = root.properties!.spec!;

// Record<keyof T, true>: the compiler fails when a field is added to a type and not here.
const specKeys: Record<keyof VaultSpec, true> = {
  size: true, image: true, config: true, externalConfig: true, unsealConfig: true, existingTlsSecretName: true, tlsAdditionalHosts: true,
  tlsExpiryThreshold: true, serviceType: true, resources: true, nodeSelector: true, tolerations: true, affinity: true, volumeClaimTemplates: true,
  serviceAccount: true, annotations: true, vaultLabels: true, external: true, deleteUnsealKeysOnDelete: true,
};
const externalConfigKeys: Record<keyof ExternalConfig, true> = { policies: true, auth: true, secrets: true, audit: true };
const authKeys: Record<keyof AuthMethodSpec, true> = { type: true, path: true, description: true, config: true, options: true, roles: true };
const unsealKeys: Record<keyof UnsealConfig, true> = { options: true, kubernetes: true, aws: true };
const statusKeys: Record<keyof VaultStatus, true> = {
  observedGeneration: true, conditions: true, mode: true, nodes: true, leader: true, sealed: true, initialized: true, managed: true, tlsNotAfter: true,
};

const names = (s: Schema | undefined) => Object.keys(s?.properties ?? {}).sort();

test('spec, externalConfig, auth, unsealConfig and status fields match the TypeScript types', (t) => {
  t.deepEqual(names(spec), Object.keys(specKeys).sort());
  t.deepEqual(names(spec.properties!.externalConfig), Object.keys(externalConfigKeys).sort());
  t.deepEqual(names(spec.properties!.externalConfig!.properties!.auth!.items), Object.keys(authKeys).sort());
  t.deepEqual(names(spec.properties!.unsealConfig), Object.keys(unsealKeys).sort());
  t.deepEqual(names(root.properties!.status), Object.keys(statusKeys).sort());
});

test('list-map keys are required, as server-side apply needs', (t) => {
  const ec = spec.properties!.externalConfig!.properties!;
  t.is(ec.policies!['x-kubernetes-list-type'], 'map');
  t.deepEqual(ec.policies!['x-kubernetes-list-map-keys'], ['name']);
  t.true(ec.policies!.items!.required!.includes('name'));
  t.deepEqual(ec.auth!['x-kubernetes-list-map-keys'], ['path']);
  t.true(ec.auth!.items!.required!.includes('path'));
  const roles = ec.auth!.items!.properties!.roles!;
  t.deepEqual(roles['x-kubernetes-list-map-keys'], ['name']);
  t.true(roles.items!.required!.includes('name'));
  t.true(roles.items!['x-kubernetes-preserve-unknown-fields'] as boolean);
});

/** The schema as plain JSON Schema (drop the Kubernetes extensions ajv does not know). */
function plain(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(plain);
  if (!schema || typeof schema !== 'object') return schema;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(schema)) if (!k.startsWith('x-kubernetes-')) out[k] = k === 'properties' ? Object.fromEntries(Object.entries(v as object).map(([p, s]) => [p, plain(s)])) : plain(v);
  return out;
}

test('every sample validates against the schema, a bad one does not', (t) => {
  const ajv = new Ajv({ strict: false, validateFormats: false });
  const validate = ajv.compile(plain(root) as object);
  for (const file of ['samples/vault-managed.yaml', 'samples/vault-external.yaml']) {
    const doc = sampleOf(file, 'Vault');
    t.true(validate(doc), `${file}: ${ajv.errorsText(validate.errors)}`);
  }
  t.false(validate({ apiVersion: 'vault.autopilot.dev/v1alpha1', kind: 'Vault', metadata: {}, spec: { externalConfig: { auth: [{ type: 'kubernetes' }] } } }));
});
