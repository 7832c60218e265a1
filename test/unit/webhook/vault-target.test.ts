import test from 'ava';
import type { CoreV1Api, CustomObjectsApi } from '@kubernetes/client-node';
import type { VaultResource } from '../../../operator/api/vault.js';
import { cachedNamespaceLabels, kubeVaultResolver, selfServiceOf } from '../../../operator/webhook/vault-target.js';

const ref = { namespace: 'platform', name: 'vault' };

function fakeKube(vault: VaultResource, secrets: Record<string, Record<string, string>> = {}) {
  const reads: string[] = [];
  const kube = {
    custom: { getNamespacedCustomObject: async () => structuredClone(vault) } as unknown as CustomObjectsApi,
    core: {
      readNamespacedSecret: async ({ name }: { name: string }) => {
        reads.push(name);
        return { data: secrets[name] };
      },
    } as unknown as CoreV1Api,
  };
  return { kube, reads };
}

const external = (address: string, extra: Partial<VaultResource['spec']> = {}): VaultResource => ({
  apiVersion: 'vault.autopilot.dev/v1alpha1',
  kind: 'Vault',
  metadata: { namespace: 'platform', name: 'vault' },
  spec: { external: { address, caSecret: 'vault-ca' }, ...extra },
});

test('an external Vault whose address the operator does not allow: found, marked untrusted, its CA Secret never read', async (t) => {
  const { kube, reads } = fakeKube(external('https://evil.example.test:8200'));
  const resolved = await kubeVaultResolver(kube)(ref);
  if (!resolved.found) return t.fail(resolved.message);
  t.regex(resolved.untrusted ?? '', /^Vault platform\/vault \(ExternalAddressNotAllowed\): spec\.external\.address https:\/\/evil\.example\.test:8200 is not an external Vault the operator may send credentials to/);
  t.is(resolved.address, '');
  t.is(resolved.caPem, undefined);
  t.deepEqual(reads, []);
});

test('an allowed external address passes, with its CA; a changed address of an adopted one does not', async (t) => {
  const trust = { allowed: ['https://*.vault.example.test:*'], allowHttp: false };
  const ca = Buffer.from('PEM').toString('base64');
  const { kube } = fakeKube(external('https://a.vault.example.test:8200'), { 'vault-ca': { 'ca.crt': ca } });
  const resolved = await kubeVaultResolver(kube, trust)(ref);
  t.like(resolved, { found: true, address: 'https://a.vault.example.test:8200', caPem: 'PEM', untrusted: undefined });
  const moved = { ...external('https://b.vault.example.test:8200'), status: { externalAddress: 'https://a.vault.example.test:8200' } };
  const after = await kubeVaultResolver(fakeKube(moved as VaultResource).kube, trust)(ref);
  if (!after.found) return t.fail(after.message);
  t.regex(after.untrusted ?? '', /\(AddressChanged\)/);
});

test('a managed Vault is trusted (the operator deployed it); the self-service rule travels with the answer, nothing else', async (t) => {
  const managed: VaultResource = {
    metadata: { namespace: 'platform', name: 'vault' },
    spec: { size: 1, selfService: { namespaces: { from: 'All' }, maxServiceAccountsPerNamespace: 3 }, externalConfig: { policies: [{ name: 'p', rules: 'x' }] } },
  } as VaultResource;
  const { kube, reads } = fakeKube(managed, { 'vault-tls': { 'ca.crt': Buffer.from('PEM').toString('base64') } });
  const resolved = await kubeVaultResolver(kube)(ref);
  if (!resolved.found) return t.fail(resolved.message);
  t.is(resolved.untrusted, undefined);
  t.is(resolved.caPem, 'PEM');
  t.deepEqual(reads, ['vault-tls']);
  t.deepEqual(resolved.vault, { metadata: { namespace: 'platform', name: 'vault' }, spec: { selfService: { namespaces: { from: 'All' } } } });
  t.deepEqual(selfServiceOf({ metadata: { namespace: 'n', name: 'v' }, spec: {} } as VaultResource), { metadata: { namespace: 'n', name: 'v' }, spec: {} });
});

test('cachedNamespaceLabels answers from memory for the TTL', async (t) => {
  let now = 0;
  let calls = 0;
  const labels = cachedNamespaceLabels(async (ns) => {
    calls++;
    return { name: ns };
  }, 1000, () => now);
  t.deepEqual(await labels('a'), { name: 'a' });
  await labels('a');
  t.is(calls, 1);
  now = 1001;
  await labels('a');
  t.is(calls, 2);
});
