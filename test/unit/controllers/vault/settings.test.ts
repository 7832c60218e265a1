import test from 'ava';
import { parseVaultControllerSettings } from '../../../../operator/controllers/vault/settings.js';
import { SettingsError } from '../../../../operator/framework/index.js';

test('defaults', (t) => {
  const s = parseVaultControllerSettings({}, () => {
    throw new Error('no file');
  });
  t.is(s.resyncPeriodMs, 60_000);
  t.is(s.kubernetesHost, undefined);
  t.is(s.defaultImage, 'hashicorp/vault:1.21.4');
});

test('in a pod, the kubernetes host and CA default to the service account mount', (t) => {
  const s = parseVaultControllerSettings({ KUBERNETES_SERVICE_HOST: '10.0.0.1', KUBERNETES_SERVICE_PORT: '443' }, () => 'CA PEM');
  t.is(s.kubernetesHost, 'https://10.0.0.1:443');
  t.is(s.kubernetesCaCert, 'CA PEM');
});

test('explicit settings win and bad numbers are reported', (t) => {
  const s = parseVaultControllerSettings({ VAULT_AUTOPILOT_KUBERNETES_HOST: 'https://api', VAULT_AUTOPILOT_KUBERNETES_CA: 'X', VAULT_AUTOPILOT_VAULT_RESYNC_SECONDS: '30' });
  t.is(s.kubernetesHost, 'https://api');
  t.is(s.resyncPeriodMs, 30_000);
  t.throws(() => parseVaultControllerSettings({ VAULT_AUTOPILOT_VAULT_RESYNC_SECONDS: 'never' }), { message: /RESYNC/ });
});

test('the operator ServiceAccount takes its namespace from the setting or the pod', (t) => {
  const s = parseVaultControllerSettings({ VAULT_AUTOPILOT_OPERATOR_SERVICE_ACCOUNT: 'op' }, (p) => (p.endsWith('namespace') ? 'ops\n' : 'x'));
  t.deepEqual(s.operatorServiceAccount, { name: 'op', namespace: 'ops' });
  t.throws(() => parseVaultControllerSettings({ VAULT_AUTOPILOT_OPERATOR_SERVICE_ACCOUNT: 'op' }, () => { throw new Error('none'); }), { message: /OPERATOR_NAMESPACE/ });
});

test('external Vaults: none unless VAULT_AUTOPILOT_EXTERNAL_VAULT_ADDRESSES lists them; bad patterns stop the start', (t) => {
  t.is(parseVaultControllerSettings({}).externalVaults, undefined);
  const s = parseVaultControllerSettings({ VAULT_AUTOPILOT_EXTERNAL_VAULT_ADDRESSES: 'https://vault.corp:8200' });
  t.deepEqual(s.externalVaults, { allowed: ['https://vault.corp:8200'], allowHttp: false });
  t.throws(() => parseVaultControllerSettings({ VAULT_AUTOPILOT_EXTERNAL_VAULT_ADDRESSES: 'vault.corp' }), { message: /invalid Vault controller settings: invalid VAULT_AUTOPILOT_EXTERNAL_VAULT_ADDRESSES/ });
});

test('VAULT_AUTOPILOT_CA_COPY_FROM_NAMESPACES: a comma list, unset = none', (t) => {
  t.is(parseVaultControllerSettings({}).caCopyFromNamespaces, undefined);
  t.deepEqual(parseVaultControllerSettings({ VAULT_AUTOPILOT_CA_COPY_FROM_NAMESPACES: ' vault-system, platform ,' }).caCopyFromNamespaces, ['vault-system', 'platform']);
});

test('legacy namespaces for unseal keys Bank-Vaults stored: the KMSVaultSecret setting, none by default', (t) => {
  t.is(parseVaultControllerSettings({}).legacyNamespaces, undefined);
  t.deepEqual(parseVaultControllerSettings({ VAULT_AUTOPILOT_KMS_LEGACY_NAMESPACES: 'team-a, team-b' }).legacyNamespaces, ['team-a', 'team-b']);
  t.deepEqual(parseVaultControllerSettings({ VAULT_AUTOPILOT_KMS_LEGACY_NAMESPACES: '*' }).legacyNamespaces, ['*']);
  t.throws(() => parseVaultControllerSettings({ VAULT_AUTOPILOT_KMS_LEGACY_NAMESPACES: 'Team_A' }), { message: /must list namespace names or \*, got Team_A/ });
});

test('every bad value is listed in one SettingsError', (t) => {
  const err = t.throws(
    () => parseVaultControllerSettings({ VAULT_AUTOPILOT_VAULT_RESYNC_SECONDS: 'never', VAULT_AUTOPILOT_VAULT_TLS_CA_DAYS: '-1', VAULT_AUTOPILOT_KMS_LEGACY_NAMESPACES: 'Team_A', VAULT_AUTOPILOT_EXTERNAL_VAULT_ADDRESSES: 'vault.corp' }),
    { instanceOf: SettingsError },
  );
  t.is(err!.problems.length, 4, err!.message);
  t.regex(err!.message, /^invalid Vault controller settings: /);
});
