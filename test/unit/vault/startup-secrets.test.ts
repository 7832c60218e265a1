// startupSecrets: where they go, when they are written, and from where the values come.
import { generateKeyPairSync } from 'node:crypto';
import test from 'ava';
import { normaliseStartupSecrets, planStartupSecrets, startupSecretPolicyLines } from '../../../operator/vault/startup-secrets.js';

const engines = [
  { type: 'kv', path: 'secret', options: { version: '2' } },
  { type: 'kv', path: 'legacy' },
];

test('kv v2 paths are checked through metadata (values are never read); kv v1 through the path', (t) => {
  const { desired, problems } = normaliseStartupSecrets(
    [
      { type: 'kv', path: 'secret/data/accounts/aws', data: { data: { KEY: 'v' } } },
      { type: 'kv', path: 'legacy/app', data: { data: { a: 'b' } } },
    ],
    engines,
  );
  t.deepEqual(problems, []);
  t.deepEqual(desired.map((d) => [d.path, d.kvVersion, d.existsPath]), [
    ['secret/data/accounts/aws', 2, 'secret/metadata/accounts/aws'],
    ['legacy/app', 1, 'legacy/app'],
  ]);
  t.deepEqual(startupSecretPolicyLines([desired[0]!]), ['path "secret/data/accounts/aws" { capabilities = ["create"] }', 'path "secret/metadata/accounts/aws" { capabilities = ["read"] }']);
});

test('problems: pki without a pki engine, no kv engine, data and secretKeyRef together, a v2 path without data/', (t) => {
  const { desired, problems } = normaliseStartupSecrets(
    [
      { type: 'pki', path: 'pki/cert', data: { data: {} } },
      { type: 'kv', path: 'nowhere/x', data: { data: { a: 'b' } } },
      { type: 'kv', path: 'secret/data/x', data: { data: { a: 'b' }, secretKeyRef: [{ name: 's', key: 'k' }] } },
      { type: 'kv', path: 'secret/x', data: { data: { a: 'b' } } },
    ],
    engines,
  );
  t.deepEqual(desired, []);
  t.deepEqual(problems.map((p) => p.id), ['pki/cert', 'nowhere/x', 'secret/data/x', 'secret/x']);
});

test('plan: only absent paths are written; values from Kubernetes Secrets, a missing key is a problem', async (t) => {
  const { desired } = normaliseStartupSecrets(
    [
      { type: 'kv', path: 'secret/data/a', data: { data: { x: '1' }, options: { cas: 0 } } },
      { type: 'kv', path: 'secret/data/b', data: { secretKeyRef: [{ name: 'docker', key: 'password' }] } },
      { type: 'kv', path: 'secret/data/c', data: { secretKeyRef: [{ name: 'docker', key: 'missing' }] } },
      { type: 'kv', path: 'legacy/d', data: { data: { y: '2' } } },
    ],
    engines,
  );
  const plan = await planStartupSecrets(desired, new Set(['legacy/d']), async (name, key) => (name === 'docker' && key === 'password' ? 'from-k8s' : undefined));
  t.deepEqual(plan.changes.map((c) => [c.id, c.writes[0]!.body]), [
    ['secret/data/a', { data: { x: '1' }, options: { cas: 0 } }],
    ['secret/data/b', { data: { password: 'from-k8s' } }],
  ]);
  t.deepEqual(plan.problems.map((p) => p.id), ['secret/data/c']);
  t.false(plan.problems[0]!.message.includes('from-k8s'));
});

test('pki: a CA import from two values, written as one pem_bundle while the mount has no CA; one value is a problem', async (t) => {
  const withPki = [...engines, { type: 'pki', path: 'pki' }];
  const { desired, problems } = normaliseStartupSecrets(
    [
      { type: 'pki', path: 'pki/config/ca', data: { secretKeyRef: [{ name: 'ca', key: 'tls.key' }, { name: 'ca', key: 'tls.crt' }] } },
      { type: 'pki', path: 'pki/config/other', data: { data: { certificate: 'only one' } } },
    ],
    withPki,
  );
  t.deepEqual(desired.map((d) => [d.type, d.path, d.existsPath]), [['pki', 'pki/config/ca', 'pki/cert/ca']]);
  t.deepEqual(problems.map((p) => p.id), ['pki/config/other']);
  t.deepEqual(startupSecretPolicyLines(desired), ['path "pki/config/ca" { capabilities = ["create", "update"] }', 'path "pki/cert/ca" { capabilities = ["read"] }']);
  // a key made for this run (nothing secret is kept in the repository); the certificate is only a placeholder block
  const key = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const crt = '-----BEGIN CERTIFICATE-----\nC\n-----END CERTIFICATE-----\n';
  const values: Record<string, string> = { 'tls.crt': crt, 'tls.key': key };
  const plan = await planStartupSecrets(desired, new Set(), async (_name, key) => values[key]);
  t.deepEqual(plan.changes.map((c) => [c.writes[0]!.path, c.writes[0]!.body]), [
    ['pki/config/ca', { pem_bundle: `${crt.trim()}\n${key.trim()}` }],
  ]);
  t.false(plan.changes[0]!.summary.includes('PRIVATE'));
  t.deepEqual((await planStartupSecrets(desired, new Set(['pki/config/ca']), async () => 'x')).changes, [], 'a CA already there: nothing');
});
