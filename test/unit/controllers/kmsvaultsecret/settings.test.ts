import test from 'ava';
import {
  DEFAULT_SYNC_PERIOD_MS,
  parseDurationMs,
  parseKmsVaultSecretSettings,
  PathPolicy,
} from '../../../../operator/controllers/kmsvaultsecret/settings.js';

// the grammar itself is tested with the settings kit (test/unit/framework/settings-kit.test.ts)
test('parseDurationMs: the one grammar in ms, positive only (a bare number is seconds, as --sync-period-seconds)', (t) => {
  t.deepEqual(['120', '2m', '0', 'soon'].map(parseDurationMs), [120_000, 120_000, undefined, undefined]);
});

test('defaults: 2 minutes, namespace policy, no key restriction', (t) => {
  const s = parseKmsVaultSecretSettings({});
  t.is(s.syncPeriodMs, DEFAULT_SYNC_PERIOD_MS);
  t.is(s.pathPolicy, PathPolicy.Namespace);
  t.deepEqual(s.kms, { region: undefined, endpoint: undefined, allowedKeyIds: [] });
});

test('all settings parsed', (t) => {
  const s = parseKmsVaultSecretSettings({
    VAULT_AUTOPILOT_KMS_SYNC_PERIOD: '5s',
    VAULT_AUTOPILOT_KMS_PATH_POLICY: 'any',
    VAULT_AUTOPILOT_KMS_REGION: 'eu-west-1',
    VAULT_AUTOPILOT_KMS_ENDPOINT: 'http://127.0.0.1:4599',
    VAULT_AUTOPILOT_KMS_ALLOWED_KEY_IDS: 'alias/app, arn:aws:kms:eu-west-1:111122223333:key/abc,',
  });
  t.is(s.syncPeriodMs, 5000);
  t.is(s.pathPolicy, PathPolicy.Any);
  t.deepEqual(s.kms, {
    region: 'eu-west-1',
    endpoint: 'http://127.0.0.1:4599',
    allowedKeyIds: ['alias/app', 'arn:aws:kms:eu-west-1:111122223333:key/abc'],
  });
});

test('AWS_REGION is the fallback region', (t) => {
  t.is(parseKmsVaultSecretSettings({ AWS_REGION: 'us-east-2' }).kms.region, 'us-east-2');
});

test('bad values are all reported', (t) => {
  const err = t.throws(() =>
    parseKmsVaultSecretSettings({ VAULT_AUTOPILOT_KMS_SYNC_PERIOD: 'often', VAULT_AUTOPILOT_KMS_PATH_POLICY: 'cluster', VAULT_AUTOPILOT_KMS_ENDPOINT: '::' }),
  );
  t.regex(err!.message, /SYNC_PERIOD.*PATH_POLICY.*ENDPOINT/);
});

test('legacy namespaces: none by default, a list or *, names checked', (t) => {
  t.deepEqual(parseKmsVaultSecretSettings({}).legacyNamespaces, []);
  t.deepEqual(parseKmsVaultSecretSettings({ VAULT_AUTOPILOT_KMS_LEGACY_NAMESPACES: 'team-a, shop,' }).legacyNamespaces, ['team-a', 'shop']);
  t.deepEqual(parseKmsVaultSecretSettings({ VAULT_AUTOPILOT_KMS_LEGACY_NAMESPACES: '*' }).legacyNamespaces, ['*']);
  const err = t.throws(() => parseKmsVaultSecretSettings({ VAULT_AUTOPILOT_KMS_LEGACY_NAMESPACES: 'ok,Not_A_Name' }));
  t.regex(err!.message, /VAULT_AUTOPILOT_KMS_LEGACY_NAMESPACES must list namespace names or \*, got Not_A_Name/);
});
