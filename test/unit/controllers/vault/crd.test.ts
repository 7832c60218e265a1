// The TypeScript types of the Vault resource against crds/vault.yaml (the
// source of truth), and the samples against the schema.
import { readFileSync } from 'node:fs';
import test from 'ava';
import { Ajv } from 'ajv';
import yaml from 'js-yaml';
import { sampleOf } from '../../../support/samples.js';
import type { AuthMethodSpec, ExternalConfig, SecretEngineSpec, UnsealConfig, VaultSpec, VaultStatus } from '../../../../operator/api/vault.js';

type Schema = { type?: string; properties?: Record<string, Schema>; items?: Schema; required?: string[]; [k: string]: unknown };
const crd = yaml.load(readFileSync('crds/vault.yaml', 'utf8')) as { spec: { versions: Array<{ schema: { openAPIV3Schema: Schema } }> } };
const root = crd.spec.versions[0]!.schema.openAPIV3Schema;
const spec = root.properties!.spec!;

// Record<keyof T, true>: the compiler fails when a field is added to a type and not here.
const specKeys: Record<keyof VaultSpec, true> = {
  size: true, image: true, config: true, externalConfig: true, unsealConfig: true, existingTlsSecretName: true, tlsAdditionalHosts: true,
  tlsExpiryThreshold: true, serviceType: true, resources: true, nodeSelector: true, tolerations: true, affinity: true, volumeClaimTemplates: true,
  serviceAccount: true, annotations: true, vaultLabels: true, external: true, deleteUnsealKeysOnDelete: true,
  vaultAnnotations: true, vaultPodSpec: true, vaultContainerSpec: true, vaultContainers: true, vaultInitContainers: true, volumes: true,
  volumeMounts: true, vaultEnvsConfig: true, secretInitsConfig: true, envsConfig: true, sidecarEnvsConfig: true, credentialsConfig: true,
  securityContext: true, platformManagedSecurityContext: true, skipVaultContainerCapabilities: true, skipEntrypointSetup: true,
  loadBalancerIP: true, servicePorts: true, serviceRegistrationEnabled: true, raftLeaderAddress: true, raftLeaderApiSchemeOverride: true,
  podAntiAffinity: true, nodeAffinity: true, ingress: true, serviceMonitorEnabled: true, caNamespaces: true, configPath: true,
  bankVaultsImage: true, bankVaultsVolumeMounts: true, vaultConfigurerAnnotations: true, vaultConfigurerLabels: true, vaultConfigurerPodSpec: true,
  statsdDisabled: true, statsdImage: true, statsdConfig: true, fluentdEnabled: true, fluentdImage: true, fluentdConfLocation: true,
  fluentdConfFile: true, fluentdConfig: true, istioEnabled: true, veleroEnabled: true, veleroFsfreezeImage: true, watchedSecretsLabels: true,
  watchedSecretsAnnotations: true, selfService: true, serviceAccountRoles: true,
};
const externalConfigKeys: Record<keyof ExternalConfig, true> = {
  policies: true, auth: true, secrets: true, audit: true, startupSecrets: true, groups: true, 'group-aliases': true, plugins: true, purgeUnmanagedConfig: true,
};
const authKeys: Record<keyof AuthMethodSpec, true> = {
  type: true, path: true, description: true, config: true, options: true, roles: true, users: true, groups: true, usersOrGroupsKey: true, map: true, crossaccountrole: true,
};
const secretKeys: Record<keyof SecretEngineSpec, true> = {
  type: true, path: true, description: true, options: true, config: true, configuration: true, plugin_name: true, local: true, seal_wrap: true, max_versions: true,
};
const unsealKeys: Record<keyof UnsealConfig, true> = { options: true, kubernetes: true, aws: true, google: true, alibaba: true, azure: true, oci: true, vault: true, hsm: true };
const statusKeys: Record<keyof VaultStatus, true> = {
  observedGeneration: true, conditions: true, mode: true, nodes: true, leader: true, sealed: true, initialized: true, managed: true, tlsNotAfter: true, externalAddress: true, keyStore: true, raftLeaderAddress: true, caCopies: true, ignoredFields: true, configDigest: true,
};

const names = (s: Schema | undefined) => Object.keys(s?.properties ?? {}).sort();

test('spec, externalConfig, auth, unsealConfig and status fields match the TypeScript types', (t) => {
  t.deepEqual(names(spec), Object.keys(specKeys).sort());
  t.deepEqual(names(spec.properties!.externalConfig), Object.keys(externalConfigKeys).sort());
  t.deepEqual(names(spec.properties!.externalConfig!.properties!.auth!.items), Object.keys(authKeys).sort());
  t.deepEqual(names(spec.properties!.externalConfig!.properties!.secrets!.items), Object.keys(secretKeys).sort());
  t.deepEqual(names(spec.properties!.unsealConfig), Object.keys(unsealKeys).sort());
  t.deepEqual(names(root.properties!.status), Object.keys(statusKeys).sort());
});

test('list-map keys are required, as server-side apply needs', (t) => {
  const ec = spec.properties!.externalConfig!.properties!;
  t.is(ec.policies!['x-kubernetes-list-type'], 'map');
  t.deepEqual(ec.policies!['x-kubernetes-list-map-keys'], ['name']);
  t.true(ec.policies!.items!.required!.includes('name'));
  // path defaults to '' (= the type, as in Bank-Vaults): a list-map key must be required or defaulted
  t.deepEqual(ec.auth!['x-kubernetes-list-map-keys'], ['type', 'path']);
  t.true(ec.auth!.items!.required!.includes('type'));
  t.is(ec.auth!.items!.properties!.path!['default'], '');
  const roles = ec.auth!.items!.properties!.roles!;
  t.deepEqual(roles['x-kubernetes-list-map-keys'], ['name']);
  t.true(roles.items!.required!.includes('name'));
  t.true(roles.items!['x-kubernetes-preserve-unknown-fields'] as boolean);
  // secrets likewise, and configuration.roles keyed by name: the ServiceAccount manager owns its database roles there
  t.deepEqual(ec.secrets!['x-kubernetes-list-map-keys'], ['type', 'path']);
  t.is(ec.secrets!.items!.properties!.path!['default'], '');
  const dbRoles = ec.secrets!.items!.properties!.configuration!.properties!.roles!;
  t.deepEqual(dbRoles['x-kubernetes-list-map-keys'], ['name']);
  t.true(dbRoles.items!.required!.includes('name'));
  const offers = spec.properties!.selfService!.properties!.databaseConnections!;
  t.deepEqual(offers['x-kubernetes-list-map-keys'], ['connection']);
  t.deepEqual(offers.items!.required, ['connection', 'namespaces', 'templates']);
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
  t.true(validate({ apiVersion: 'vault.autopilot.dev/v1alpha1', kind: 'Vault', metadata: {}, spec: { externalConfig: { auth: [{ type: 'kubernetes' }] } } }));
  t.false(validate({ apiVersion: 'vault.autopilot.dev/v1alpha1', kind: 'Vault', metadata: {}, spec: { externalConfig: { auth: [{ path: 'kubernetes' }] } } }));
});
