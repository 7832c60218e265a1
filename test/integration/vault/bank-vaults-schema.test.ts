// Migrating from Bank-Vaults is a change of apiVersion: a Vault resource in
// Bank-Vaults' shapes, using every field of its spec, is accepted by the REAL
// apiserver with fieldValidation=Strict and stored without losing anything.
import { readFileSync } from 'node:fs';
import test from 'ava';
import { CustomObjectsApi } from '@kubernetes/client-node';
import yaml from 'js-yaml';
import { API_GROUP, API_VERSION } from '../../../operator/api/naming.js';
import { VAULT_PLURAL, type VaultResource } from '../../../operator/api/vault.js';
import { useTestEnv } from '../../harness/index.js';
import { CRD_FILE } from './helpers.js';

const env = useTestEnv(test, { vault: false, kms: false });
const FIXTURE = 'test/integration/vault/fixtures/bank-vaults-every-field.yaml';
let ns: string;
let custom: CustomObjectsApi;

test.before(async () => {
  await env().applyCrds(CRD_FILE);
  ns = await env().namespace('bv-schema');
  custom = env().kubeConfig().makeApiClient(CustomObjectsApi);
});

const fixture = (): VaultResource => yaml.load(readFileSync(FIXTURE, 'utf8')) as VaultResource;

async function createStrict(body: VaultResource): Promise<VaultResource> {
  return (await custom.createNamespacedCustomObject({
    group: API_GROUP,
    version: API_VERSION,
    namespace: ns,
    plural: VAULT_PLURAL,
    body,
    fieldValidation: 'Strict',
  })) as VaultResource;
}

/** Dotted paths of every leaf of `sent` whose value is not stored as sent. */
function lostLeaves(sent: unknown, stored: unknown, path = ''): string[] {
  if (Array.isArray(sent)) {
    if (!Array.isArray(stored) || stored.length !== sent.length) return [`${path} (list)`];
    return sent.flatMap((v, i) => lostLeaves(v, stored[i], `${path}[${i}]`));
  }
  if (sent && typeof sent === 'object') {
    if (!stored || typeof stored !== 'object') return [path];
    return Object.entries(sent).flatMap(([k, v]) => lostLeaves(v, (stored as Record<string, unknown>)[k], path ? `${path}.${k}` : k));
  }
  return sent === stored ? [] : [`${path}: sent ${JSON.stringify(sent)}, stored ${JSON.stringify(stored)}`];
}

function fieldsOf(value: unknown, prefix = ''): number {
  if (Array.isArray(value)) return value.reduce<number>((n, v) => n + fieldsOf(v, prefix), 0);
  if (value && typeof value === 'object') return Object.values(value).reduce<number>((n, v) => n + 1 + fieldsOf(v, prefix), 0);
  return 0;
}

test.serial('every Bank-Vaults spec field is accepted with fieldValidation=Strict and nothing is pruned', async (t) => {
  const sent = fixture();
  sent.metadata = { name: 'every-field', namespace: ns };
  const created = await createStrict(sent);
  const stored = (await custom.getNamespacedCustomObject({ group: API_GROUP, version: API_VERSION, namespace: ns, plural: VAULT_PLURAL, name: 'every-field' })) as VaultResource;
  t.deepEqual(lostLeaves(sent.spec, stored.spec), []);
  t.deepEqual(lostLeaves(sent.spec, created.spec), []);
  // the fixture is not trivially small: dozens of top-level fields, hundreds in all
  t.true(Object.keys(sent.spec).length >= 60, `${Object.keys(sent.spec).length} top-level fields`);
  t.true(fieldsOf(sent.spec) > 300, `${fieldsOf(sent.spec)} fields`);
});

test.serial('auth[].path defaults to the type: stored as empty, which the operator reads as the type', async (t) => {
  const stored = (await custom.getNamespacedCustomObject({ group: API_GROUP, version: API_VERSION, namespace: ns, plural: VAULT_PLURAL, name: 'every-field' })) as VaultResource;
  const auth = stored.spec.externalConfig!.auth!;
  t.deepEqual(
    auth.map((a) => [a.type, a.path]),
    [
      ['kubernetes', ''],
      ['userpass', 'people'],
      ['ldap', ''],
      ['github', ''],
      ['aws', ''],
    ],
  );
});

test.serial('Strict still rejects a field that is in neither schema', async (t) => {
  const body = fixture();
  body.metadata = { name: 'unknown-field', namespace: ns };
  (body.spec as Record<string, unknown>)['notABankVaultsField'] = true;
  const err = await t.throwsAsync(createStrict(body));
  t.regex(String((err as { body?: string }).body ?? err?.message), /unknown field .*spec\.notABankVaultsField/);
});

test.serial('two auth entries that mount the same path are refused, with the reason', async (t) => {
  const err = await t.throwsAsync(
    createStrict({
      apiVersion: `${API_GROUP}/${API_VERSION}`,
      kind: 'Vault',
      metadata: { name: 'same-path', namespace: ns },
      spec: { externalConfig: { auth: [{ type: 'kubernetes' }, { type: 'kubernetes', path: 'kubernetes' }] } },
    }),
  );
  t.regex(String((err as { body?: string }).body ?? err?.message), /two auth entries mount the same path/);
  // two methods without a path mount at their (different) types: fine
  const ok = await createStrict({
    apiVersion: `${API_GROUP}/${API_VERSION}`,
    kind: 'Vault',
    metadata: { name: 'two-types', namespace: ns },
    spec: { externalConfig: { auth: [{ type: 'kubernetes' }, { type: 'approle' }] } },
  });
  t.deepEqual(ok.spec.externalConfig!.auth!.map((a) => [a.type, a.path]), [['kubernetes', ''], ['approle', '']]);
});

test.serial('resources: Bank-Vaults per-component shape and the earlier flat shape are both accepted, not mixed', async (t) => {
  const base = (name: string, resources: unknown): VaultResource => ({
    apiVersion: `${API_GROUP}/${API_VERSION}`,
    kind: 'Vault',
    metadata: { name, namespace: ns },
    spec: { resources: resources as VaultResource['spec']['resources'] },
  });
  const flat = await createStrict(base('flat', { limits: { memory: '1Gi' } }));
  t.deepEqual(flat.spec.resources, { limits: { memory: '1Gi' } });
  const perComponent = await createStrict(base('per-component', { vault: { limits: { memory: '1Gi' } } }));
  t.deepEqual(perComponent.spec.resources, { vault: { limits: { memory: '1Gi' } } });
  const err = await t.throwsAsync(createStrict(base('mixed', { vault: { limits: { memory: '1Gi' } }, requests: { cpu: '1' } })));
  t.regex(String((err as { body?: string }).body ?? err?.message), /either resources.vault or the flat/);
});
