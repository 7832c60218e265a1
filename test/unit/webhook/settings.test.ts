import test from 'ava';
import { parseWebhookSettings, supportsNativeSidecars } from '../../../operator/webhook/settings.js';

test('defaults', (t) => {
  const s = parseWebhookSettings({});
  t.is(s.port, 9443);
  t.is(s.certDir, '/tmp/k8s-webhook-server/serving-certs');
  t.false(s.selfManagedCerts);
  t.is(s.failurePolicy, 'Fail');
  t.is(s.agentImage, 'hashicorp/vault:1.21.4');
  t.deepEqual(s.defaultVault, { namespace: 'vault-system', name: 'vault' });
  t.is(s.defaultAuthPath, 'auth/kubernetes');
  t.deepEqual(s.skipNamespaces, ['kube-system', 'kube-public', 'kube-node-lease', 'vault-autopilot']);
  t.is(s.annotationPrefix, 'vault.autopilot.dev/');
});

test('env overrides, shared with the ServiceAccount lifecycle where they mean the same', (t) => {
  const s = parseWebhookSettings({
    VAULT_AUTOPILOT_WEBHOOK_PORT: '8443',
    VAULT_AUTOPILOT_WEBHOOK_SELF_MANAGED_CERTS: 'true',
    VAULT_AUTOPILOT_WEBHOOK_FAILURE_POLICY: 'Ignore',
    VAULT_AUTOPILOT_TARGET_VAULT: 'sec/main',
    VAULT_AUTOPILOT_KUBERNETES_AUTH_PATH: 'k8s',
    VAULT_AUTOPILOT_NAMESPACE: 'ops',
    VAULT_AUTOPILOT_ANNOTATION_PREFIX: 'vault.example.com/',
    VAULT_AUTOPILOT_WEBHOOK_NATIVE_SIDECARS: 'off',
  });
  t.is(s.port, 8443);
  t.true(s.selfManagedCerts);
  t.is(s.failurePolicy, 'Ignore');
  t.deepEqual(s.defaultVault, { namespace: 'sec', name: 'main' });
  t.is(s.defaultAuthPath, 'auth/k8s');
  t.true(s.skipNamespaces.includes('ops'));
  t.is(s.annotationPrefix, 'vault.example.com/');
  t.is(s.nativeSidecars, 'off');
});

test('bad values are rejected with the variable named', (t) => {
  t.throws(() => parseWebhookSettings({ VAULT_AUTOPILOT_WEBHOOK_FAILURE_POLICY: 'Maybe' }), { message: /VAULT_AUTOPILOT_WEBHOOK_FAILURE_POLICY="Maybe": expected one of Fail, Ignore/ });
  t.throws(() => parseWebhookSettings({ VAULT_AUTOPILOT_WEBHOOK_PORT: 'x' }), { message: /VAULT_AUTOPILOT_WEBHOOK_PORT/ });
  t.throws(() => parseWebhookSettings({ VAULT_AUTOPILOT_TARGET_VAULT: 'novault' }), { message: /VAULT_AUTOPILOT_TARGET_VAULT/ });
  t.throws(() => parseWebhookSettings({ VAULT_AUTOPILOT_WEBHOOK_SELF_MANAGED_CERTS: 'yes' }), { message: /expected "true" or "false"/ });
  t.throws(() => parseWebhookSettings({ VAULT_AUTOPILOT_ANNOTATION_PREFIX: 'noslash' }), { message: /must end with "\/"/ });
  t.throws(
    () => parseWebhookSettings({ VAULT_AUTOPILOT_WEBHOOK_ROTATION_PROPAGATION_MS: '1000', VAULT_AUTOPILOT_WEBHOOK_CERT_CHECK_INTERVAL_MS: '2000' }),
    { message: /must be below/ },
  );
});

test('native sidecars: auto from the server version (>= 1.29), or forced', (t) => {
  t.true(supportsNativeSidecars('auto', { major: '1', minor: '29' }));
  t.true(supportsNativeSidecars('auto', { major: '1', minor: '36+' }));
  t.false(supportsNativeSidecars('auto', { major: '1', minor: '28' }));
  t.false(supportsNativeSidecars('auto', undefined));
  t.true(supportsNativeSidecars('on', { major: '1', minor: '20' }));
  t.false(supportsNativeSidecars('off', { major: '1', minor: '36' }));
});

test('admission server limits: bounded defaults, configurable, out-of-range refused', (t) => {
  t.deepEqual(parseWebhookSettings({}).limits, { maxBodyBytes: 2 * 1024 * 1024, maxBufferedBytes: 32 * 1024 * 1024, maxConcurrent: 8, bodyTimeoutMs: 10_000 });
  const s = parseWebhookSettings({ VAULT_AUTOPILOT_WEBHOOK_MAX_BODY_BYTES: '1048576', VAULT_AUTOPILOT_WEBHOOK_MAX_CONCURRENT: '4', VAULT_AUTOPILOT_WEBHOOK_HOST: '10.0.0.5' });
  t.is(s.limits.maxBodyBytes, 1048576);
  t.is(s.limits.maxConcurrent, 4);
  t.is(s.host, '10.0.0.5');
  t.throws(() => parseWebhookSettings({ VAULT_AUTOPILOT_WEBHOOK_MAX_BODY_BYTES: '1073741824' }), { message: /MAX_BODY_BYTES/ });
});

test('client-certificate authentication: off by default; names only with a CA file', (t) => {
  const off = parseWebhookSettings({});
  t.is(off.clientCaFile, undefined);
  t.deepEqual(off.clientNames, []);
  const on = parseWebhookSettings({ VAULT_AUTOPILOT_WEBHOOK_CLIENT_CA_FILE: '/etc/webhook-client/ca.crt', VAULT_AUTOPILOT_WEBHOOK_CLIENT_NAMES: ' kube-apiserver , apiserver-webhook-client,' });
  t.is(on.clientCaFile, '/etc/webhook-client/ca.crt');
  t.deepEqual(on.clientNames, ['kube-apiserver', 'apiserver-webhook-client']);
  t.throws(() => parseWebhookSettings({ VAULT_AUTOPILOT_WEBHOOK_CLIENT_NAMES: 'kube-apiserver' }), { message: /VAULT_AUTOPILOT_WEBHOOK_CLIENT_NAMES needs VAULT_AUTOPILOT_WEBHOOK_CLIENT_CA_FILE/ });
});
