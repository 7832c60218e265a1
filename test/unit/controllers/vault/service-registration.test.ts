// serviceRegistrationEnabled: when it applies (HA storage, as Bank-Vaults), the stanza, and what is reported.
import test from 'ava';
import type { VaultResource } from '../../../../operator/api/vault.js';
import { hasHaStorage, serviceRegistrationReport, withServiceRegistration } from '../../../../operator/controllers/vault/service-registration.js';

const vault = (spec: VaultResource['spec']): VaultResource => ({ apiVersion: 'vault.autopilot.dev/v1alpha1', kind: 'Vault', metadata: { name: 'v', namespace: 'ns' }, spec });

test('HA storage: Raft and Consul always, the others with ha_enabled, or an ha_storage stanza', (t) => {
  t.true(hasHaStorage({ storage: { raft: { path: '/d' } } }));
  t.true(hasHaStorage({ storage: { consul: {} } }));
  t.false(hasHaStorage({ storage: { postgresql: {} } }));
  t.true(hasHaStorage({ storage: { postgresql: { ha_enabled: 'true' } } }));
  t.false(hasHaStorage({ storage: { file: { path: '/d' } } }));
  t.false(hasHaStorage({ storage: { raft: null, file: { path: '/d' } } }), 'a Raft default removed with null');
  t.true(hasHaStorage({ storage: { s3: {} }, ha_storage: { raft: {} } }));
});

test('the stanza names the Vault namespace; spec.config’s own stanza wins; off or non-HA adds nothing', (t) => {
  const raft = { storage: { raft: {} } };
  t.deepEqual(withServiceRegistration(vault({ serviceRegistrationEnabled: true }), raft)['service_registration'], { kubernetes: { namespace: 'ns' } });
  const own = { ...raft, service_registration: { kubernetes: { namespace: 'elsewhere' } } };
  t.is(withServiceRegistration(vault({ serviceRegistrationEnabled: true }), own), own);
  t.is(withServiceRegistration(vault({}), raft), raft);
  const file = { storage: { file: {} } };
  t.is(withServiceRegistration(vault({ serviceRegistrationEnabled: true }), file), file);
});

test('reported: non-HA storage, external mode, a ServiceAccount the operator did not create', (t) => {
  t.is(serviceRegistrationReport(vault({ serviceRegistrationEnabled: true }), undefined, { storage: { raft: {} } }), undefined);
  t.regex(serviceRegistrationReport(vault({ serviceRegistrationEnabled: true }), undefined, { storage: { file: {} } })!, /HA storage/);
  t.regex(serviceRegistrationReport(vault({ serviceRegistrationEnabled: true, external: { address: 'https://v:8200' } }), undefined)!, /external/);
  t.regex(serviceRegistrationReport(vault({ serviceRegistrationEnabled: true }), 'shared', { storage: { raft: {} } })!, /ServiceAccount shared .*\(RoleBinding\)/);
  t.is(serviceRegistrationReport(vault({}), 'shared', { storage: { file: {} } }), undefined);
});
