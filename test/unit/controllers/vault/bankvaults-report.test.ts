// Which Bank-Vaults fields are reported as having no effect, and when the
// Warning Event is due.
import { readFileSync } from 'node:fs';
import test from 'ava';
import yaml from 'js-yaml';
import type { VaultResource } from '../../../../operator/api/vault.js';
import { ignoredFields, ignoredFieldsEvent } from '../../../../operator/controllers/vault/bankvaults-report.js';

const everyField = (yaml.load(readFileSync('test/integration/vault/fixtures/bank-vaults-every-field.yaml', 'utf8')) as VaultResource).spec;

test('a resource with only this operator’s own fields reports nothing', (t) => {
  t.deepEqual(ignoredFields({ size: 3, image: 'hashicorp/vault:1.21.4', externalConfig: { auth: [{ type: 'kubernetes' }] }, resources: { vault: { limits: { memory: '1Gi' } } } }), []);
});

test('Bank-Vaults components that do not exist here are reported, each with a reason', (t) => {
  const fields = ignoredFields(everyField);
  const names = fields.map((f) => f.field);
  for (const field of [
    'spec.bankVaultsImage',
    'spec.bankVaultsVolumeMounts',
    'spec.statsdDisabled',
    'spec.statsdImage',
    'spec.statsdConfig',
    'spec.fluentdEnabled',
    'spec.fluentdImage',
    'spec.fluentdConfLocation',
    'spec.fluentdConfFile',
    'spec.fluentdConfig',
    'spec.vaultConfigurerAnnotations',
    'spec.vaultConfigurerLabels',
    'spec.vaultConfigurerPodSpec',
    'spec.envsConfig',
    'spec.sidecarEnvsConfig',
    'spec.istioEnabled',
    'spec.veleroEnabled',
    'spec.veleroFsfreezeImage',
    'spec.resources.bankVaults',
    'spec.resources.hsmDaemon',
    'spec.resources.prometheusExporter',
    'spec.resources.fluentd',
    'spec.skipEntrypointSetup',
    'spec.unsealConfig.aws.s3Bucket',
    'spec.unsealConfig.google',
    'spec.unsealConfig.hsm',
    'spec.externalConfig.purgeUnmanagedConfig',
    'spec.externalConfig.auth[path=ldap].usersOrGroupsKey',
  ]) {
    t.true(names.includes(field), field);
  }
  t.false(names.includes('spec.externalConfig.auth[path=people].users'), 'userpass users are applied (as users/<name>)');
  for (const applied of ['auth[path=ldap].groups', 'auth[path=github].map', 'auth[path=aws].crossaccountrole']) {
    t.false(names.includes(`spec.externalConfig.${applied}`), `${applied} is applied`);
  }
  for (const honoured of ['spec.watchedSecretsLabels', 'spec.watchedSecretsAnnotations', 'spec.caNamespaces']) t.false(names.includes(honoured), honoured);
  t.true(fields.every((f) => f.reason.length > 20), 'every line says why');
  t.is(new Set(names).size, names.length, 'each field once');
});

test('auth extras on a type Bank-Vaults did not read them for are reported, naming the types', (t) => {
  const fields = ignoredFields({ externalConfig: { auth: [{ type: 'kubernetes', groups: { a: {} }, map: { teams: { x: 'p' } } }, { type: 'okta', users: { bob: {} }, groups: { g: {} } }] } });
  t.deepEqual(fields.map((f) => f.field), ['spec.externalConfig.auth[path=kubernetes].groups', 'spec.externalConfig.auth[path=kubernetes].map']);
  t.regex(fields[0]!.reason, /ldap, okta/);
  t.regex(fields[1]!.reason, /github/);
});

test('fields with values that ask for nothing are not reported', (t) => {
  // statsd off, fluentd off, the default config path: what happens here anyway
  t.deepEqual(ignoredFields({ statsdDisabled: true, fluentdEnabled: false, istioEnabled: false, configPath: '/vault/config/', secretInitsConfig: [] }), []);
  t.deepEqual(
    ignoredFields({ configPath: '/etc/vault' }).map((f) => f.field),
    ['spec.configPath'],
  );
  t.deepEqual(ignoredFields({ externalConfig: { secrets: [{ type: 'kv', local: false, seal_wrap: false }] } }), []);
});

test('the event is due when the list changes, not on every reconcile', (t) => {
  const first = ignoredFields({ statsdImage: 'x', bankVaultsImage: 'y' });
  const message = ignoredFieldsEvent(undefined, first);
  t.regex(message!, /^2 fields of this resource have no effect here/);
  t.regex(message!, /spec\.bankVaultsImage, spec\.statsdImage/);
  t.is(ignoredFieldsEvent(first, ignoredFields({ statsdImage: 'x', bankVaultsImage: 'y' })), undefined);
  t.regex(ignoredFieldsEvent(first, ignoredFields({ statsdImage: 'x' }))!, /^1 field of this resource has no effect/);
  t.is(ignoredFieldsEvent(first, []), undefined, 'nothing to warn about once the fields are gone');
});

test('secretNamespace: the own namespace is honoured, another one is reported', (t) => {
  t.deepEqual(ignoredFields({ unsealConfig: { kubernetes: { secretNamespace: 'team-a' } } }, 'team-a'), []);
  const other = ignoredFields({ unsealConfig: { kubernetes: { secretNamespace: 'default' } } }, 'team-a');
  t.deepEqual(other.map((f) => f.field), ['spec.unsealConfig.kubernetes.secretNamespace']);
  t.regex(other[0]!.reason, /another namespace/);
});

test('serviceMonitorEnabled is reported only while the ServiceMonitor CRD is missing', (t) => {
  t.deepEqual(ignoredFields({ serviceMonitorEnabled: true }, 'ns', { serviceMonitorApiMissing: false }), []);
  const missing = ignoredFields({ serviceMonitorEnabled: true }, 'ns', { serviceMonitorApiMissing: true });
  t.deepEqual(missing.map((f) => f.field), ['spec.serviceMonitorEnabled']);
  t.regex(missing[0]!.reason, /CRD/);
  t.deepEqual(ignoredFields({ serviceMonitorEnabled: false }, 'ns', { serviceMonitorApiMissing: true }), []);
});

test('caNamespaces is reported only with the namespaces that got no copy, and why', (t) => {
  t.deepEqual(ignoredFields({ caNamespaces: ['apps'] }, 'ns', {}), []);
  const refused = ignoredFields({ caNamespaces: ['apps'] }, 'ns', { caNamespacesRefused: 'no CA copy in apps: spec.selfService.namespaces does not admit it' });
  t.deepEqual(refused, [{ field: 'spec.caNamespaces', reason: 'no CA copy in apps: spec.selfService.namespaces does not admit it' }]);
  t.deepEqual(ignoredFields({}, 'ns', { caNamespacesRefused: 'stale' }), [], 'not once the field is gone');
});
