// The TypeScript types of KMSVaultSecret/PartialKMSVaultSecret against
// crds/ (the source of truth), kubectl-facing metadata, and the sample
// against the schema.
import { readFileSync } from 'node:fs';
import test from 'ava';
import { Ajv } from 'ajv';
import yaml from 'js-yaml';
import type {
  KMSVaultSecretSpec,
  KMSVaultSecretStatus,
  KvSettings,
  PartialKMSVaultSecretSpec,
  SecretEntry,
} from '../../../../operator/api/kmsvaultsecret.js';

type Schema = { type?: string; description?: string; properties?: Record<string, Schema>; items?: Schema; additionalProperties?: Schema | boolean; [k: string]: unknown };
interface Crd {
  spec: {
    names: { kind: string; plural: string; shortNames?: string[] };
    versions: Array<{ name: string; subresources?: { status?: object }; additionalPrinterColumns?: Array<{ name: string; jsonPath: string }>; schema: { openAPIV3Schema: Schema } }>;
  };
}
const load = (file: string) => yaml.load(readFileSync(file, 'utf8')) as Crd;
const full = load('crds/kmsvaultsecret.yaml');
const partial = load('crds/partialkmsvaultsecret.yaml');
const root = full.spec.versions[0]!.schema.openAPIV3Schema;
const spec = root.properties!.spec!;
const partialSpec = partial.spec.versions[0]!.schema.openAPIV3Schema.properties!.spec!;

// Record<keyof T, true>: the compiler fails when a field is added to a type and not here.
const specKeys: Record<keyof KMSVaultSecretSpec, true> = { path: true, kvSettings: true, secrets: true, secretContext: true, includeSecrets: true, deletionPolicy: true, vaultRef: true };
const kvKeys: Record<keyof KvSettings, true> = { engineVersion: true, casIndex: true };
const entryKeys: Record<keyof SecretEntry, true> = { key: true, encryptedSecret: true, secretContext: true, emptySecret: true };
const partialKeys: Record<keyof PartialKMSVaultSecretSpec, true> = { secrets: true, secretContext: true };
const statusKeys: Record<keyof KMSVaultSecretStatus, true> = {
  observedGeneration: true, conditions: true, lastSyncTime: true, vaultPath: true, vaultMount: true, engineVersion: true, keys: true, vault: true,
};
const names = (s: Schema | undefined) => Object.keys(s?.properties ?? {}).sort();

test('fields match the TypeScript types (kms-vault-operator names)', (t) => {
  t.deepEqual(names(spec), Object.keys(specKeys).sort());
  t.deepEqual(names(spec.properties!.kvSettings), Object.keys(kvKeys).sort());
  t.deepEqual(names(spec.properties!.secrets!.items), Object.keys(entryKeys).sort());
  t.deepEqual(names(partialSpec), Object.keys(partialKeys).sort());
  t.deepEqual(names(partialSpec.properties!.secrets!.items), Object.keys(entryKeys).sort());
  t.deepEqual(names(root.properties!.status), Object.keys(statusKeys).sort());
});

test('kubectl: short names, status subresource, printer columns, secrets keyed by key', (t) => {
  t.deepEqual(full.spec.names.shortNames, ['kmsvs']);
  t.deepEqual(partial.spec.names.shortNames, ['pkmsvs']);
  const v = full.spec.versions[0]!;
  t.truthy(v.subresources?.status);
  t.deepEqual(
    v.additionalPrinterColumns!.map((c) => c.name),
    ['Path', 'Engine', 'Ready', 'Reason', 'Age'],
  );
  for (const s of [spec, partialSpec]) {
    t.is(s.properties!.secrets!['x-kubernetes-list-type'], 'map');
    t.deepEqual(s.properties!.secrets!['x-kubernetes-list-map-keys'], ['key']);
    t.deepEqual(s.properties!.secrets!.items!.required, ['key']);
  }
});

test('every field has a description (kubectl explain)', (t) => {
  const missing: string[] = [];
  const walk = (s: Schema, path: string) => {
    if (!s.description && !/\.(apiVersion|kind|metadata)$/.test(path) && !path.endsWith('[]') && !path.endsWith('{}')) missing.push(path);
    for (const [k, child] of Object.entries(s.properties ?? {})) walk(child, `${path}.${k}`);
    if (s.items) walk(s.items, `${path}[]`);
  };
  walk(root, 'KMSVaultSecret');
  walk(partial.spec.versions[0]!.schema.openAPIV3Schema, 'PartialKMSVaultSecret');
  t.deepEqual(missing, []);
});

/** The schema as plain JSON Schema (drop the Kubernetes extensions ajv does not know). */
function plain(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(plain);
  if (!schema || typeof schema !== 'object') return schema;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(schema)) {
    if (k.startsWith('x-kubernetes-')) continue;
    out[k] = k === 'properties' ? Object.fromEntries(Object.entries(v as object).map(([p, s]) => [p, plain(s)])) : plain(v);
  }
  return out;
}

test('the sample validates against the schemas; a broken copy does not', (t) => {
  const ajv = new Ajv({ strict: false, validateFormats: false });
  const validateFull = ajv.compile(plain(root) as object);
  const validatePartial = ajv.compile(plain(partial.spec.versions[0]!.schema.openAPIV3Schema) as object);
  const all = yaml.loadAll(readFileSync('samples/kmsvaultsecret.yaml', 'utf8')) as Array<{ kind: string; spec: Record<string, unknown> }>;
  t.deepEqual(all.map((d) => d.kind), ['Namespace', 'KMSVaultSecret', 'PartialKMSVaultSecret'], 'the sample creates its namespace');
  const docs = all.slice(1);
  t.true(validateFull(docs[0]), JSON.stringify(validateFull.errors));
  t.true(validatePartial(docs[1]), JSON.stringify(validatePartial.errors));
  const broken = structuredClone(docs[0]!);
  (broken.spec.kvSettings as Record<string, unknown>).engineVersion = 'v3';
  t.false(validateFull(broken));
});
