import test from 'ava';
import type { V1Pod } from '@kubernetes/client-node';
import type { AdmissionRequest } from '../../../operator/framework/admission.js';
import { createPodAdmissionHandler } from '../../../operator/webhook/handler.js';
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

function harness(resolved: ResolvedVault = { found: true, address: 'https://v.vs.svc:8200', caPem: 'PEM' }) {
  const calls = { resolve: [] as VaultRef[], ensure: [] as Array<{ namespace: string; vault: VaultRef }> };
  const handler = createPodAdmissionHandler({
    settings: someSettings(),
    nativeSidecars: true,
    resolveVault: async (ref) => {
      calls.resolve.push(ref);
      return resolved;
    },
    ensureCa: async (namespace, vault) => {
      calls.ensure.push({ namespace, vault });
      return 'cm-name';
    },
    caConfigMapName: () => 'dry-run-name',
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
  t.deepEqual(calls.ensure, [{ namespace: 'team-a', vault: { namespace: 'vault-system', name: 'vault' } }]);
  const addVolume = decision.patch!.find((op) => op.path === '/spec/volumes');
  t.deepEqual((addVolume!.value as Array<{ configMap: { name: string } }>)[0]!.configMap.name, 'cm-name');
});

test('a dry run creates nothing (sideEffects: NoneOnDryRun)', async (t) => {
  const { handler, calls } = harness();
  const decision = await handler(request(aPod({ annotations: ann({ 'inject-env': 'app', vault: 'other/v2' }) }), { dryRun: true }));
  t.true(decision.allowed);
  t.deepEqual(calls.resolve, [{ namespace: 'other', name: 'v2' }]);
  t.deepEqual(calls.ensure, []);
  if (decision.allowed) t.regex(JSON.stringify(decision.patch), /dry-run-name/);
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

test('cachedResolver caches found Vaults for the TTL only, and never caches "not found"', async (t) => {
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
  answer = { found: true, address: 'x' };
  await resolve(ref);
  await resolve(ref);
  t.is(calls, 3);
  now = 1500;
  await resolve(ref);
  t.is(calls, 4);
});

test("a bare Vault name means a Vault in the pod's namespace (taken from the request)", async (t) => {
  const { handler, calls } = harness();
  const pod = aPod({ annotations: ann({ 'inject-env': 'app', vault: 'own' }) });
  delete pod.metadata!.namespace;
  await handler(request(pod, { namespace: 'team-z' }));
  t.deepEqual(calls.resolve, [{ namespace: 'team-z', name: 'own' }]);
});
