import test from 'ava';
import { containedIn, desiredWebhookConfiguration, POD_WEBHOOK_NAME } from '../../../operator/webhook/configuration.js';
import { parseWebhookSettings } from '../../../operator/webhook/settings.js';
import { servingNames } from '../../../operator/webhook/index.js';

test('desired configuration: explicit failurePolicy, NoneOnDryRun, pods CREATE only, system + operator namespaces excluded, Service client', (t) => {
  const settings = parseWebhookSettings({ VAULT_AUTOPILOT_NAMESPACE: 'ops', VAULT_AUTOPILOT_WEBHOOK_FAILURE_POLICY: 'Ignore' });
  const cfg = desiredWebhookConfiguration(settings, 'PEM');
  const wh = cfg.webhooks![0]!;
  t.is(wh.name, POD_WEBHOOK_NAME);
  t.is(wh.failurePolicy, 'Ignore');
  t.is(wh.sideEffects, 'NoneOnDryRun');
  t.deepEqual(wh.rules, [{ operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods'], scope: 'Namespaced' }]);
  t.deepEqual(wh.namespaceSelector, {
    matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: ['kube-system', 'kube-public', 'kube-node-lease', 'ops'] }],
  });
  t.deepEqual(wh.clientConfig, { service: { namespace: 'ops', name: 'vault-autopilot-webhook', port: 443, path: '/mutate-pods' }, caBundle: Buffer.from('PEM').toString('base64') });
});

test('desired configuration: URL client and opt-in namespace label', (t) => {
  const settings = parseWebhookSettings({ VAULT_AUTOPILOT_WEBHOOK_URL: 'https://127.0.0.1:9443/mutate-pods', VAULT_AUTOPILOT_WEBHOOK_NAMESPACE_SELECTOR: 'vault-injection=enabled' });
  const wh = desiredWebhookConfiguration(settings, undefined).webhooks![0]!;
  t.deepEqual(wh.clientConfig, { url: 'https://127.0.0.1:9443/mutate-pods' });
  t.deepEqual(wh.namespaceSelector!.matchLabels, { 'vault-injection': 'enabled' });
});

test('containedIn ignores server-filled fields but not changed ones', (t) => {
  const desired = { a: 1, b: [{ c: 'x' }] };
  t.true(containedIn(desired, { a: 1, b: [{ c: 'x', defaulted: true }], extra: 2 }));
  t.false(containedIn(desired, { a: 2, b: [{ c: 'x' }] }));
  t.false(containedIn(desired, { a: 1, b: [{ c: 'x' }, { c: 'y' }] }));
  t.false(containedIn(desired, { a: 1 }));
});

test('serving certificate names: the Service forms plus the URL host', (t) => {
  t.deepEqual(servingNames({ serviceName: 'wh', operatorNamespace: 'ops', url: 'https://127.0.0.1:9443/x' }), {
    dnsNames: ['wh', 'wh.ops', 'wh.ops.svc', 'wh.ops.svc.cluster.local'],
    ipAddresses: ['127.0.0.1'],
  });
  t.deepEqual(servingNames({ serviceName: 'wh', operatorNamespace: 'ops', url: 'https://hook.example:9443/x' }).dnsNames.at(-1), 'hook.example');
});
