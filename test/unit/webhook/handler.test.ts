import test from 'ava';
import type { V1Pod } from '@kubernetes/client-node';
import type { AdmissionRequest } from '../../../operator/framework/admission.js';
import { createPodAdmissionHandler } from '../../../operator/webhook/handler.js';
import { CaConfigMapNotOwned } from '../../../operator/webhook/ca-configmap.js';
import { cachedResolver, type ResolvedVault } from '../../../operator/webhook/vault-target.js';
import type { VaultRef } from '../../../operator/webhook/annotations.js';
import { aPod, ann, someSettings } from './helpers/builders.js';

function request(pod: V1Pod, overrides: Partial<AdmissionRequest> = {}): AdmissionRequest {
  return {
    uid: 'u',
    kind: { group: '', version: 'v1', kind: 'Pod' },
    resource: { group: '', version: 'v1', resource: 'pods' },
    operation: 'CREATE',
    namespace: 'team-a',
    object: pod as unknown as Record<string, unknown>,
    ...overrides,
  };
}

/** A Vault in vault-system that serves every namespace (so only the tests about tenancy meet a refusal). */
const servesAll = { metadata: { namespace: 'vault-system', name: 'vault' }, spec: { selfService: { namespaces: { from: 'All' as const } } } };

function harness(
  resolved: ResolvedVault = { found: true, vault: servesAll, address: 'https://v.vs.svc:8200', caPem: 'PEM' },
  opts: { labels?: Record<string, string>; ensureCa?: () => Promise<string> } = {},
) {
  const calls = { resolve: [] as VaultRef[], ensure: [] as Array<{ namespace: string; vault: VaultRef; dryRun: boolean }>, labels: [] as string[] };
  const handler = createPodAdmissionHandler({
    settings: someSettings(),
    nativeSidecars: true,
    resolveVault: async (ref) => {
      calls.resolve.push(ref);
      return resolved;
    },
    namespaceLabels: async (namespace) => {
      calls.labels.push(namespace);
      return opts.labels ?? {};
    },
    ensureCa: async (namespace, vault, _caPem, { dryRun }) => {
      calls.ensure.push({ namespace, vault, dryRun });
      return opts.ensureCa ? opts.ensureCa() : 'cm-name';
    },
    log: { info: () => {} },
  });
  return { handler, calls };
}

test('DELETE, UPDATE, subresources and unannotated pods pass with no patch and no lookups', async (t) => {
  const { handler, calls } = harness();
  const annotated = aPod({ annotations: ann({ 'inject-env': 'app' }) });
  t.deepEqual(await handler(request(annotated, { operation: 'DELETE', object: null })), { allowed: true });
  t.deepEqual(await handler(request(annotated, { operation: 'UPDATE' })), { allowed: true });
  t.deepEqual(await handler(request(annotated, { subResource: 'binding' })), { allowed: true });
  t.deepEqual(await handler(request(aPod())), { allowed: true });
  t.deepEqual(await handler(request(annotated, { namespace: 'kube-system' })), { allowed: true });
  t.deepEqual(calls.resolve, []);
  t.deepEqual(calls.ensure, []);
});

test('injection resolves the default Vault, ensures the CA ConfigMap and mounts it', async (t) => {
  const { handler, calls } = harness();
  const decision = await handler(request(aPod({ annotations: ann({ 'inject-env': 'app' }) })));
  if (!decision.allowed) return t.fail(decision.message);
  t.deepEqual(calls.resolve, [{ namespace: 'vault-system', name: 'vault' }]);
  t.deepEqual(calls.ensure, [{ namespace: 'team-a', vault: { namespace: 'vault-system', name: 'vault' }, dryRun: false }]);
  const addVolume = decision.patch!.find((op) => op.path === '/spec/volumes');
  t.deepEqual((addVolume!.value as Array<{ configMap: { name: string } }>)[0]!.configMap.name, 'cm-name');
});

test('a dry run asks for the CA ConfigMap as a dry run (looked at, never written: sideEffects NoneOnDryRun)', async (t) => {
  const { handler, calls } = harness();
  const decision = await handler(request(aPod({ annotations: ann({ 'inject-env': 'app', vault: 'other/v2' }) }), { dryRun: true }));
  t.true(decision.allowed);
  t.deepEqual(calls.resolve, [{ namespace: 'other', name: 'v2' }]);
  t.deepEqual(calls.ensure, [{ namespace: 'team-a', vault: { namespace: 'other', name: 'v2' }, dryRun: true }]);
  if (decision.allowed) t.regex(JSON.stringify(decision.patch), /cm-name/);
});

test('an unknown target Vault is denied with the annotation named', async (t) => {
  const { handler } = harness({ found: false, message: 'Vault x/y does not exist' });
  const decision = await handler(request(aPod({ annotations: ann({ 'inject-env': 'app', vault: 'x/y' }) })));
  t.deepEqual(decision, { allowed: false, code: 400, message: 'vault.autopilot.dev/vault: Vault x/y does not exist' });
});

test('bad annotations are denied before any lookup', async (t) => {
  const { handler, calls } = harness();
  const decision = await handler(request(aPod({ annotations: ann({ 'inject-env': 'nope' }) })));
  t.false(decision.allowed);
  if (!decision.allowed) t.regex(decision.message, /inject-env: the pod has no container "nope"/);
  t.deepEqual(calls.resolve, []);
});

test('cachedResolver caches found Vaults for the TTL only, and never caches "not found" nor "not trusted"', async (t) => {
  let now = 0;
  let calls = 0;
  let answer: ResolvedVault = { found: false, message: 'no' };
  const resolve = cachedResolver(async () => {
    calls++;
    return answer;
  }, 1000, () => now);
  const ref = { namespace: 'a', name: 'b' };
  await resolve(ref);
  await resolve(ref);
  t.is(calls, 2);
  answer = { found: true, vault: servesAll, address: 'x' };
  await resolve(ref);
  await resolve(ref);
  t.is(calls, 3);
  now = 1500;
  await resolve(ref);
  t.is(calls, 4);
  answer = { found: true, vault: servesAll, address: '', untrusted: 'no' };
  now = 3000;
  await resolve(ref);
  await resolve(ref);
  t.is(calls, 6, 'an untrusted Vault is looked up again: an address the platform allows a moment later counts at once');
});

test("a bare Vault name means a Vault in the pod's namespace (taken from the request)", async (t) => {
  const { handler, calls } = harness();
  const pod = aPod({ annotations: ann({ 'inject-env': 'app', vault: 'own' }) });
  delete pod.metadata!.namespace;
  await handler(request(pod, { namespace: 'team-z' }));
  t.deepEqual(calls.resolve, [{ namespace: 'team-z', name: 'own' }]);
});

const ownNamespaceOnly: ResolvedVault = { found: true, vault: { metadata: { namespace: 'platform', name: 'vault' }, spec: {} }, address: 'https://v.platform.svc:8200', caPem: 'PEM' };

test('a Vault that serves only its own namespace refuses pods of other namespaces, with what to change; no CA is written', async (t) => {
  const { handler, calls } = harness(ownNamespaceOnly);
  const decision = await handler(request(aPod({ annotations: ann({ 'inject-env': 'app', vault: 'platform/vault' }) })));
  if (decision.allowed) return t.fail('allowed');
  t.is(decision.code, 400);
  t.regex(decision.message, /^vault\.autopilot\.dev\/vault: Vault platform\/vault does not serve namespace team-a: it admits only its own namespace \(spec\.selfService\.namespaces\.from: Same, the default\)\. The pod was refused: the Vault named by vault\.autopilot\.dev\/vault must admit namespace team-a first/);
  t.regex(decision.message, /or set vault\.autopilot\.dev\/vault to a Vault that serves this namespace/);
  t.deepEqual(calls.ensure, []);
  t.deepEqual(calls.labels, [], 'labels are read only for a selector');
  // the same Vault's own namespace is served
  const own = await handler(request(aPod({ annotations: ann({ 'inject-env': 'app', vault: 'platform/vault' }) }), { namespace: 'platform' }));
  t.true(own.allowed);
});

test('the default Vault follows the same rule, and the refusal says it was the default', async (t) => {
  const { handler } = harness(ownNamespaceOnly);
  const decision = await handler(request(aPod({ annotations: ann({ 'inject-env': 'app' }) })));
  if (decision.allowed) return t.fail('allowed');
  t.regex(decision.message, /the operator's default Vault \(the pod has no vault\.autopilot\.dev\/vault annotation\) must admit namespace team-a/);
});

test('dry runs are refused the same way (no side effect either way)', async (t) => {
  const { handler, calls } = harness(ownNamespaceOnly);
  const decision = await handler(request(aPod({ annotations: ann({ 'inject-env': 'app', vault: 'platform/vault' }) }), { dryRun: true }));
  t.false(decision.allowed);
  t.deepEqual(calls.ensure, []);
});

test("a selector Vault is decided on the namespace's labels (read only then)", async (t) => {
  const selector: ResolvedVault = {
    found: true,
    vault: { metadata: { namespace: 'platform', name: 'vault' }, spec: { selfService: { namespaces: { from: 'Selector', selector: { matchLabels: { team: 'a' } } } } } },
    address: 'https://v:8200',
  };
  const refused = harness(selector, { labels: { team: 'b' } });
  const no = await refused.handler(request(aPod({ annotations: ann({ 'inject-env': 'app', vault: 'platform/vault' }) })));
  if (no.allowed) return t.fail('allowed');
  t.regex(no.message, /Vault platform\/vault does not serve namespace team-a: its spec\.selfService\.namespaces\.selector does not match this namespace/);
  t.deepEqual(refused.calls.labels, ['team-a']);
  const admitted = harness(selector, { labels: { team: 'a' } });
  t.true((await admitted.handler(request(aPod({ annotations: ann({ 'inject-env': 'app', vault: 'platform/vault' }) })))).allowed);
});

test('an external Vault the operator does not trust is refused before anything of it is injected', async (t) => {
  const { handler, calls } = harness({ found: true, vault: servesAll, address: '', untrusted: 'Vault x/y (ExternalAddressNotAllowed): spec.external.address https://evil.example is not an external Vault the operator may send credentials to' });
  const decision = await handler(request(aPod({ annotations: ann({ 'inject-env': 'app', vault: 'x/y' }) })));
  if (decision.allowed) return t.fail('allowed');
  t.regex(decision.message, /^vault\.autopilot\.dev\/vault: Vault x\/y \(ExternalAddressNotAllowed\): .*The pod was refused: the webhook points pods only at external Vaults the operator trusts\.$/);
  t.deepEqual(calls.ensure, []);
});

test('a same-named ConfigMap the operator did not make: the pod is refused with that message', async (t) => {
  const { handler } = harness(undefined, { ensureCa: async () => Promise.reject(new CaConfigMapNotOwned('ConfigMap team-a/vault-ca.vault-system.vault exists but was not made by vault-autopilot')) });
  const decision = await handler(request(aPod({ annotations: ann({ 'inject-env': 'app' }) })));
  t.deepEqual(decision, { allowed: false, code: 400, message: 'ConfigMap team-a/vault-ca.vault-system.vault exists but was not made by vault-autopilot' });
  // any other failure is the server's (500, failurePolicy applies), not a denial
  const broken = harness(undefined, { ensureCa: async () => Promise.reject(new Error('apiserver down')) });
  await t.throwsAsync(broken.handler(request(aPod({ annotations: ann({ 'inject-env': 'app' }) }))), { message: 'apiserver down' });
});
