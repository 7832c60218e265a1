import test from 'ava';
import type { CoreV1Api, V1ConfigMap } from '@kubernetes/client-node';
import { CaConfigMaps, caConfigMapName, desiredCaConfigMap } from '../../../operator/webhook/ca-configmap.js';
import type { ResolvedVault } from '../../../operator/webhook/vault-target.js';

class FakeConfigMaps {
  maps = new Map<string, V1ConfigMap>();
  calls: string[] = [];
  api(): CoreV1Api {
    const fail = (code: number) => Object.assign(new Error(String(code)), { code });
    return {
      readNamespacedConfigMap: async ({ name, namespace }: { name: string; namespace: string }) => {
        this.calls.push(`read ${namespace}/${name}`);
        const cm = this.maps.get(`${namespace}/${name}`);
        if (!cm) throw fail(404);
        return structuredClone(cm);
      },
      createNamespacedConfigMap: async ({ namespace, body }: { namespace: string; body: V1ConfigMap }) => {
        this.calls.push(`create ${namespace}/${body.metadata!.name}`);
        this.maps.set(`${namespace}/${body.metadata!.name}`, structuredClone(body));
        return body;
      },
      replaceNamespacedConfigMap: async ({ name, namespace, body }: { name: string; namespace: string; body: V1ConfigMap }) => {
        this.calls.push(`replace ${namespace}/${name}`);
        this.maps.set(`${namespace}/${name}`, structuredClone(body));
        return body;
      },
      listConfigMapForAllNamespaces: async () => ({ items: [...this.maps.values()].map((m) => structuredClone(m)) }),
    } as unknown as CoreV1Api;
  }
}

const vault = { namespace: 'vs', name: 'v' };
const log = { info: () => {}, warn: () => {} };

test('name is unique per Vault and never clashes across Vault namespaces', (t) => {
  t.is(caConfigMapName(vault), 'vault-ca.vs.v');
  t.not(caConfigMapName({ namespace: 'a', name: 'b-c' }), caConfigMapName({ namespace: 'a-b', name: 'c' }));
  t.deepEqual(desiredCaConfigMap('app', vault, 'PEM').data, { 'ca.crt': 'PEM' });
});

test('ensure creates once, then answers from memory; a changed CA is written', async (t) => {
  const fake = new FakeConfigMaps();
  const cms = new CaConfigMaps({ core: fake.api(), resolve: async () => ({ found: false, message: '' }), log });
  t.is(await cms.ensure('app', vault, 'PEM1'), 'vault-ca.vs.v');
  t.deepEqual(fake.calls, ['read app/vault-ca.vs.v', 'create app/vault-ca.vs.v']);
  await cms.ensure('app', vault, 'PEM1');
  t.is(fake.calls.length, 2, 'no API call when known to be in sync');
  await cms.ensure('app', vault, 'PEM2');
  t.deepEqual(fake.calls.slice(2), ['read app/vault-ca.vs.v', 'replace app/vault-ca.vs.v']);
  t.is(fake.maps.get('app/vault-ca.vs.v')!.data!['ca.crt'], 'PEM2');
});

test('syncAll follows the Vault CA and leaves the last good CA when the Vault is gone', async (t) => {
  const fake = new FakeConfigMaps();
  let answer: ResolvedVault = { found: true, address: 'x', caPem: 'PEM1' };
  const cms = new CaConfigMaps({ core: fake.api(), resolve: async () => answer, log });
  await cms.ensure('a', vault, 'PEM1');
  await cms.ensure('b', vault, 'PEM1');
  t.deepEqual(await cms.syncAll(), { checked: 2, updated: 0 });
  answer = { found: true, address: 'x', caPem: 'PEM2' };
  t.deepEqual(await cms.syncAll(), { checked: 2, updated: 2 });
  t.is(fake.maps.get('b/vault-ca.vs.v')!.data!['ca.crt'], 'PEM2');
  answer = { found: false, message: 'gone' };
  t.deepEqual(await cms.syncAll(), { checked: 2, updated: 0 });
  t.is(fake.maps.get('a/vault-ca.vs.v')!.data!['ca.crt'], 'PEM2');
});
