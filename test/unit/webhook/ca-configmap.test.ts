import test from 'ava';
import type { CoreV1Api, V1ConfigMap } from '@kubernetes/client-node';
import { CA_CONFIGMAP, CaConfigMapNotOwned, CaConfigMaps, caConfigMapName, desiredCaConfigMap, ownsCaConfigMap, planCaConfigMap } from '../../../operator/webhook/ca-configmap.js';
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
const log = { debug: () => {}, info: () => {}, warn: () => {} };
const servesAll = { metadata: { namespace: 'vs', name: 'v' }, spec: { selfService: { namespaces: { from: 'All' as const } } } };
const noLabels = async () => ({});

test('name is unique per Vault and never clashes across Vault namespaces', (t) => {
  t.is(caConfigMapName(vault), 'vault-ca.vs.v');
  t.not(caConfigMapName({ namespace: 'a', name: 'b-c' }), caConfigMapName({ namespace: 'a-b', name: 'c' }));
  t.deepEqual(desiredCaConfigMap('app', vault, 'PEM').data, { 'ca.crt': 'PEM' });
});

test('ensure creates once, then answers from memory; a changed CA is written', async (t) => {
  const fake = new FakeConfigMaps();
  const cms = new CaConfigMaps({ core: fake.api(), resolve: async () => ({ found: false, message: '' }), namespaceLabels: noLabels, log });
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
  let answer: ResolvedVault = { found: true, vault: servesAll, address: 'x', caPem: 'PEM1' };
  const cms = new CaConfigMaps({ core: fake.api(), resolve: async () => answer, namespaceLabels: noLabels, log });
  await cms.ensure('a', vault, 'PEM1');
  await cms.ensure('b', vault, 'PEM1');
  t.deepEqual(await cms.syncAll(), { checked: 2, updated: 0, refused: 0 });
  answer = { found: true, vault: servesAll, address: 'x', caPem: 'PEM2' };
  t.deepEqual(await cms.syncAll(), { checked: 2, updated: 2, refused: 0 });
  t.is(fake.maps.get('b/vault-ca.vs.v')!.data!['ca.crt'], 'PEM2');
  answer = { found: false, message: 'gone' };
  t.deepEqual(await cms.syncAll(), { checked: 2, updated: 0, refused: 0 });
  t.is(fake.maps.get('a/vault-ca.vs.v')!.data!['ca.crt'], 'PEM2');
});

test('planCaConfigMap: create when absent, keep or replace only what the operator made for this Vault, refuse anything else', (t) => {
  const ours = desiredCaConfigMap('app', vault, 'PEM1');
  t.deepEqual(planCaConfigMap(undefined, 'app', vault, 'PEM1'), { action: 'create' });
  t.deepEqual(planCaConfigMap(ours, 'app', vault, 'PEM1'), { action: 'keep' });
  t.deepEqual(planCaConfigMap(ours, 'app', vault, 'PEM2'), { action: 'replace' });
  const unrelated = { metadata: { name: 'vault-ca.vs.v', namespace: 'app' }, data: { 'app.conf': 'x' } };
  const unlabelled = planCaConfigMap(unrelated, 'app', vault, 'PEM1');
  t.is(unlabelled.action, 'refuse');
  if (unlabelled.action === 'refuse') {
    t.regex(unlabelled.message, /^ConfigMap app\/vault-ca\.vs\.v exists but was not made by vault-autopilot for Vault vs\/v .*Rename or delete that ConfigMap, then create the pod again\.$/);
  }
  // our label, but made for another Vault (or a hand-copied label without the source): not ours either
  const otherSource = { ...ours, metadata: { ...ours.metadata, annotations: { [CA_CONFIGMAP.sourceAnnotation]: 'other/v' } } };
  t.is(planCaConfigMap(otherSource, 'app', vault, 'PEM1').action, 'refuse');
  const labelOnly = { ...ours, metadata: { ...ours.metadata, annotations: {} } };
  t.false(ownsCaConfigMap(labelOnly, vault));
  const sourceOnly = { ...ours, metadata: { ...ours.metadata, labels: {} } };
  t.false(ownsCaConfigMap(sourceOnly, vault));
  t.true(ownsCaConfigMap(ours, vault));
});

test('ensure never replaces a same-named ConfigMap it did not make, and tries again next time', async (t) => {
  const fake = new FakeConfigMaps();
  fake.maps.set('app/vault-ca.vs.v', { metadata: { name: 'vault-ca.vs.v', namespace: 'app' }, data: { 'ca.crt': 'THEIRS' } });
  const cms = new CaConfigMaps({ core: fake.api(), resolve: async () => ({ found: false, message: '' }), namespaceLabels: noLabels, log });
  const err = await t.throwsAsync(cms.ensure('app', vault, 'PEM1'), { instanceOf: CaConfigMapNotOwned });
  t.regex(err!.message, /not made by vault-autopilot/);
  t.deepEqual(fake.calls, ['read app/vault-ca.vs.v']);
  t.is(fake.maps.get('app/vault-ca.vs.v')!.data!['ca.crt'], 'THEIRS');
  // once its owner removes it, the operator's own is created
  fake.maps.delete('app/vault-ca.vs.v');
  t.is(await cms.ensure('app', vault, 'PEM1'), 'vault-ca.vs.v');
  t.is(fake.maps.get('app/vault-ca.vs.v')!.data!['ca.crt'], 'PEM1');
});

test('a create that loses the race reads again: somebody else\'s ConfigMap is refused, not replaced', async (t) => {
  const fake = new FakeConfigMaps();
  const api = fake.api();
  const theirs = { metadata: { name: 'vault-ca.vs.v', namespace: 'app' }, data: { 'ca.crt': 'THEIRS' } };
  const racing = Object.assign(Object.create(null) as CoreV1Api, api, {
    createNamespacedConfigMap: async () => {
      fake.calls.push('create (409)');
      fake.maps.set('app/vault-ca.vs.v', theirs);
      throw Object.assign(new Error('409'), { code: 409 });
    },
  });
  const cms = new CaConfigMaps({ core: racing, resolve: async () => ({ found: false, message: '' }), namespaceLabels: noLabels, log });
  await t.throwsAsync(cms.ensure('app', vault, 'PEM1'), { instanceOf: CaConfigMapNotOwned });
  t.deepEqual(fake.calls, ['read app/vault-ca.vs.v', 'create (409)', 'read app/vault-ca.vs.v']);
  t.is(fake.maps.get('app/vault-ca.vs.v')!.data!['ca.crt'], 'THEIRS');
});

test('syncAll skips ConfigMaps whose Vault no longer serves their namespace (or whose labels were copied by hand)', async (t) => {
  const fake = new FakeConfigMaps();
  const bySelector = { metadata: { namespace: 'vs', name: 'v' }, spec: { selfService: { namespaces: { from: 'Selector' as const, selector: { matchLabels: { team: 'a' } } } } } };
  const answer: ResolvedVault = { found: true, vault: bySelector, address: 'x', caPem: 'PEM2' };
  const labels: Record<string, Record<string, string>> = { a: { team: 'a' }, b: { team: 'b' } };
  const cms = new CaConfigMaps({ core: fake.api(), resolve: async () => answer, namespaceLabels: async (ns) => labels[ns] ?? {}, log });
  await cms.ensure('a', vault, 'PEM1');
  await cms.ensure('b', vault, 'PEM1'); // made while b was served; its label changed since
  // a hand-made copy: our label and source, another name (not the name the operator would give it)
  fake.maps.set('b/copy', { ...desiredCaConfigMap('b', vault, 'PEM1'), metadata: { ...desiredCaConfigMap('b', vault, 'PEM1').metadata, name: 'copy' } });
  t.deepEqual(await cms.syncAll(), { checked: 3, updated: 1, refused: 1 });
  t.is(fake.maps.get('a/vault-ca.vs.v')!.data!['ca.crt'], 'PEM2');
  t.is(fake.maps.get('b/vault-ca.vs.v')!.data!['ca.crt'], 'PEM1');
  t.is(fake.maps.get('b/copy')!.data!['ca.crt'], 'PEM1');
  // an untrusted external Vault: nothing is synced from it either
  const untrusted: ResolvedVault = { found: true, vault: bySelector, address: '', untrusted: 'no', caPem: 'PEM3' };
  const cms2 = new CaConfigMaps({ core: fake.api(), resolve: async () => untrusted, namespaceLabels: async (ns) => labels[ns] ?? {}, log });
  t.deepEqual(await cms2.syncAll(), { checked: 3, updated: 0, refused: 0 });
  t.is(fake.maps.get('a/vault-ca.vs.v')!.data!['ca.crt'], 'PEM2');
});

test('a dry run reads and decides, writes nothing: absent -> the name, not ours -> refused', async (t) => {
  const fake = new FakeConfigMaps();
  const cms = new CaConfigMaps({ core: fake.api(), resolve: async () => ({ found: false, message: '' }), namespaceLabels: noLabels, log });
  t.is(await cms.ensure('app', vault, 'PEM1', { dryRun: true }), 'vault-ca.vs.v');
  t.deepEqual(fake.calls, ['read app/vault-ca.vs.v']);
  t.is(fake.maps.size, 0);
  fake.maps.set('app/vault-ca.vs.v', { metadata: { name: 'vault-ca.vs.v', namespace: 'app' }, data: { 'ca.crt': 'THEIRS' } });
  await t.throwsAsync(cms.ensure('app', vault, 'PEM1', { dryRun: true }), { instanceOf: CaConfigMapNotOwned });
  // ours but stale: a dry run does not bring it up to date
  fake.maps.set('app/vault-ca.vs.v', desiredCaConfigMap('app', vault, 'OLD'));
  t.is(await cms.ensure('app', vault, 'PEM1', { dryRun: true }), 'vault-ca.vs.v');
  t.is(fake.maps.get('app/vault-ca.vs.v')!.data!['ca.crt'], 'OLD');
  t.false(fake.calls.some((c) => c.startsWith('create') || c.startsWith('replace')));
});

test('load remembers the CA ConfigMaps that are ours: an admission after a start reads nothing for them, and only for them', async (t) => {
  const fake = new FakeConfigMaps();
  const ours = desiredCaConfigMap('a', vault, 'PEM1');
  fake.maps.set('a/vault-ca.vs.v', ours);
  fake.maps.set('b/vault-ca.vs.v', desiredCaConfigMap('b', vault, 'OLD'));
  // names another Vault in its annotation than its name says: not ours for either
  const misnamed = desiredCaConfigMap('c', vault, 'PEM1');
  misnamed.metadata!.annotations![CA_CONFIGMAP.sourceAnnotation] = 'other/w';
  fake.maps.set('c/vault-ca.vs.v', misnamed);
  const unlabelled = desiredCaConfigMap('d', vault, 'PEM1');
  delete unlabelled.metadata!.labels![CA_CONFIGMAP.label];
  fake.maps.set('d/vault-ca.vs.v', unlabelled);
  const cms = new CaConfigMaps({ core: fake.api(), resolve: async () => ({ found: false, message: '' }), namespaceLabels: noLabels, log });
  t.is(await cms.load(), 2);
  t.deepEqual(fake.calls, []);
  await cms.ensure('a', vault, 'PEM1');
  t.deepEqual(fake.calls, [], 'in sync: no call');
  await cms.ensure('b', vault, 'PEM1');
  t.deepEqual(fake.calls, ['read b/vault-ca.vs.v', 'replace b/vault-ca.vs.v'], 'a different CA is read and replaced as before');
  await t.throwsAsync(cms.ensure('c', vault, 'PEM1'), { instanceOf: CaConfigMapNotOwned });
  await t.throwsAsync(cms.ensure('d', vault, 'PEM1'), { instanceOf: CaConfigMapNotOwned });
});
