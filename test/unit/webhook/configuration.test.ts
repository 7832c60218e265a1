import test from 'ava';
import type { AdmissionregistrationV1Api, V1MutatingWebhookConfiguration } from '@kubernetes/client-node';
import { containedIn, desiredWebhookConfiguration, POD_WEBHOOK_NAME, WebhookConfigurationPublisher } from '../../../operator/webhook/configuration.js';
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


function fakeAdmission(initial?: V1MutatingWebhookConfiguration) {
  const state = { cfg: initial ? structuredClone(initial) : undefined, writes: 0 };
  const fail = (code: number) => Object.assign(new Error(String(code)), { code });
  const api = {
    readMutatingWebhookConfiguration: async () => {
      if (!state.cfg) throw fail(404);
      return structuredClone(state.cfg);
    },
    createMutatingWebhookConfiguration: async ({ body }: { body: V1MutatingWebhookConfiguration }) => {
      state.writes++;
      state.cfg = structuredClone(body);
      return body;
    },
    replaceMutatingWebhookConfiguration: async ({ body }: { body: V1MutatingWebhookConfiguration }) => {
      if (!state.cfg) throw fail(404);
      state.writes++;
      state.cfg = structuredClone(body);
      return body;
    },
  } as unknown as AdmissionregistrationV1Api;
  return { api, state };
}

test('publisher without "manage" (the shipped install): patches only the caBundle of the installed configuration', async (t) => {
  const settings = parseWebhookSettings({ VAULT_AUTOPILOT_NAMESPACE: 'ops' });
  const installed = desiredWebhookConfiguration(settings, undefined);
  installed.webhooks![0]!.timeoutSeconds = 7; // the installer's choice is kept
  const { api, state } = fakeAdmission(installed);
  const publisher = new WebhookConfigurationPublisher(api, settings, false);
  t.is(await publisher.read(), undefined, 'no caBundle yet');
  await publisher.publish('PEM-A');
  t.is(await publisher.read(), 'PEM-A');
  t.is(state.cfg!.webhooks![0]!.timeoutSeconds, 7);
  t.is(state.writes, 1);
  await t.throwsAsync(new WebhookConfigurationPublisher(fakeAdmission().api, settings, false).publish('PEM'), { message: /does not exist/ });
});

test('publisher with "manage": creates the configuration, and restores drifted fields with the bundle', async (t) => {
  const settings = parseWebhookSettings({ VAULT_AUTOPILOT_NAMESPACE: 'ops' });
  const { api, state } = fakeAdmission();
  const publisher = new WebhookConfigurationPublisher(api, settings, true);
  await publisher.publish('PEM-A');
  t.is(state.writes, 1);
  t.is(await publisher.read(), 'PEM-A');
  await publisher.publish('PEM-A');
  t.is(state.writes, 1, 'nothing rewritten when in sync');
  state.cfg!.webhooks![0]!.failurePolicy = 'Ignore'; // someone edits it by hand
  t.is(await publisher.read(), undefined, 'drift reads as "not published"');
  await publisher.publish('PEM-A');
  t.is(state.cfg!.webhooks![0]!.failurePolicy, 'Fail');
});

test("desired configuration: the operator's own Vault server pods are never sent to the webhook", async (t) => {
  const { desiredStatefulSet } = await import('../../../operator/controllers/vault/desired-objects.js');
  const { aVault } = await import('../controllers/vault/builders.js');
  const wh = desiredWebhookConfiguration(parseWebhookSettings({}), undefined).webhooks![0]!;
  const podLabels = desiredStatefulSet(aVault({ size: 1 })).spec!.template.metadata!.labels!;
  const [expression] = wh.objectSelector!.matchExpressions!;
  t.is(expression!.operator, 'NotIn');
  // the selector excludes exactly what the Vault controller puts on its pods
  t.true(expression!.values!.includes(podLabels[expression!.key]!));
  // an application pod without that label still matches
  t.false(expression!.values!.includes({ app: 'shop' }[expression!.key] ?? ''));
});

test('install scope: the webhook selects only the watched namespaces (VAULT_AUTOPILOT_WATCH_NAMESPACES)', (t) => {
  const settings = parseWebhookSettings({ VAULT_AUTOPILOT_NAMESPACE: 'ops', VAULT_AUTOPILOT_WATCH_NAMESPACES: 'shop,vault-system' });
  t.deepEqual(settings.watchNamespaces, ['shop', 'vault-system']);
  const wh = desiredWebhookConfiguration(settings, undefined).webhooks![0]!;
  t.deepEqual(wh.namespaceSelector!.matchExpressions, [
    { key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: ['kube-system', 'kube-public', 'kube-node-lease', 'ops'] },
    { key: 'kubernetes.io/metadata.name', operator: 'In', values: ['shop', 'vault-system'] },
  ]);
  t.is(parseWebhookSettings({}).watchNamespaces, undefined);
  t.throws(() => parseWebhookSettings({ VAULT_AUTOPILOT_WATCH_NAMESPACES: 'UPPER' }), { message: /not namespace names/ });
});

test("install scope including the operator's own namespace (OLM OwnNamespace): that namespace is no longer skipped", (t) => {
  const own = parseWebhookSettings({ VAULT_AUTOPILOT_NAMESPACE: 'ops', VAULT_AUTOPILOT_WATCH_NAMESPACES: 'ops' });
  t.false(own.skipNamespaces.includes('ops'));
  t.true(parseWebhookSettings({ VAULT_AUTOPILOT_NAMESPACE: 'ops', VAULT_AUTOPILOT_WATCH_NAMESPACES: 'shop' }).skipNamespaces.includes('ops'));
  t.true(parseWebhookSettings({ VAULT_AUTOPILOT_NAMESPACE: 'ops' }).skipNamespaces.includes('ops'));
});
