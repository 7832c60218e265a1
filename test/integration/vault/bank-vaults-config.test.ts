// Bank-Vaults' externalConfig against a REAL Vault (uninitialised, file
// storage; the operator initialises it): auth methods without a path mount at
// their type; secrets[].configuration writes database connections/roles and a
// PKI CA/roles, keeps them, removes what leaves the spec (tracked in
// status.managed.engineConfig), and the operator's policy grows only by the
// configured paths.
import { createHash } from 'node:crypto';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import { VaultClient } from '../../../operator/vault/client.js';
import type { VaultResource } from '../../../operator/api/vault.js';
import { createCertificateAuthority } from '../../../operator/framework/webhook-certs.js';
import { startServers, eventually, WITHIN, withinResyncs, type Servers } from '../../harness/index.js';
import { VaultAudit } from '../../harness/vault-audit.js';
import { CRD_FILE, Vaults, changesOnceInSync, startVaultOperator, vaultWrites, type RunningVaultOperator } from './helpers.js';

let servers: Servers;
let op: RunningVaultOperator;
let ns: string;
let vaults: Vaults;
let admin: VaultClient;
let writesInVault: () => string[];
const NAME = 'bv-config';
const RESYNC_MS = 2000;

const raw = (token: string) => new VaultClient({ address: servers.vault.address, auth: { method: 'token', token }, timeoutMs: 3000 });

const secrets = () => [
  { type: 'kv', path: 'secret', options: { version: '2' } },
  {
    type: 'database',
    configuration: {
      config: [
        {
          name: 'app',
          plugin_name: 'postgresql-database-plugin',
          connection_url: 'postgresql://{{username}}:{{password}}@db.invalid:5432/app',
          username: 'vault',
          // credentials only by reference to a Secret of the Vault's namespace (an inline password is refused)
          password: { secretKeyRef: { name: 'app-db', key: 'password' } },
          allowed_roles: ['app-rw', 'app-ro'],
          verify_connection: false,
        },
      ],
      roles: [
        { name: 'app-rw', db_name: 'app', creation_statements: ['CREATE ROLE "{{name}}"'], default_ttl: '1h', max_ttl: '24h' },
        { name: 'app-ro', db_name: 'app', creation_statements: ['CREATE ROLE "{{name}}"'], default_ttl: '30m' },
      ],
    },
  },
  {
    type: 'pki',
    config: { max_lease_ttl: '720h' },
    configuration: {
      'root/generate': [{ name: 'internal', common_name: 'vault.example.test', ttl: '720h' }],
      'config/urls': [{ issuing_certificates: ['https://vault.example.test/v1/pki/ca'] }],
      roles: [{ name: 'web', allowed_domains: ['example.test'], allow_subdomains: true, max_ttl: '72h' }],
    },
  },
];

test.before(async () => {
  servers = await startServers({ vault: 'file', kms: false });
  await servers.env.applyCrds(CRD_FILE);
  ns = await servers.env.namespace('bv-config');
  vaults = new Vaults(servers.env.kubeConfig());
  await vaults.core.createNamespacedSecret({ namespace: ns, body: { metadata: { name: 'app-db' }, stringData: { password: 'not-a-real-password' } } });
  op = await startVaultOperator(servers.env, ns, { resyncPeriodMs: RESYNC_MS, sealedRecheckMs: 500 });
});

test.after.always(async () => {
  await op?.stop();
  await servers?.stopAll();
});

test.serial('Bank-Vaults shapes are applied: auth without path at its type, database and PKI configuration', async (t) => {
  const cr: VaultResource = {
    apiVersion: 'vault.autopilot.dev/v1alpha1',
    kind: 'Vault',
    metadata: { name: NAME, namespace: ns },
    spec: {
      external: { address: servers.vault.address },
      unsealConfig: { options: { secretShares: 1, secretThreshold: 1, storeRootToken: true } },
      externalConfig: {
        auth: [
          { type: 'approle', roles: [{ name: 'ci', token_policies: ['default'] }] },
          { type: 'userpass', users: [{ username: 'alice', password: 'alice-password', token_policies: ['default'], token_ttl: '10m' }] },
        ],
        secrets: secrets(),
      },
    },
  };
  await vaults.create(cr);
  await vaults.waitForCondition(ns, NAME, 'Ready', 'True', { timeoutMs: 90_000 });
  const root = (await vaults.secretData(ns, `${NAME}-unseal-keys`))!['vault-root']!;
  const created = await raw(root).request<{ auth: { client_token: string } }>('POST', 'auth/token/create-orphan', { policies: ['root'], ttl: '1h' });
  admin = raw(created.data.auth.client_token);
  // from here on Vault's audit device counts every write (the operator's once the test stops writing)
  writesInVault = vaultWrites(await VaultAudit.enable({ address: servers.vault.address, rootToken: created.data.auth.client_token }));

  const auths = (await admin.request<{ data: Record<string, { type: string }> }>('GET', 'sys/auth')).data.data;
  t.is(auths['approle/']?.type, 'approle');
  t.is(auths['userpass/']?.type, 'userpass');
  t.deepEqual((await admin.request<{ data: { token_policies: string[] } }>('GET', 'auth/approle/role/ci')).data.data.token_policies, ['default']);
  // Bank-Vaults' userpass users: alice can log in with her password
  const login = await raw('').request<{ auth: { policies: string[]; lease_duration: number } }>('POST', 'auth/userpass/login/alice', { password: 'alice-password' }, { token: null });
  t.deepEqual(login.data.auth.policies, ['default']);
  t.is(login.data.auth.lease_duration, 600);

  const conn = (await admin.request<{ data: { plugin_name: string; allowed_roles: string[]; connection_details: { connection_url: string; username: string } } }>('GET', 'database/config/app')).data.data;
  t.is(conn.plugin_name, 'postgresql-database-plugin');
  t.deepEqual(conn.allowed_roles.sort(), ['app-ro', 'app-rw']);
  t.is(conn.connection_details.username, 'vault');
  const rw = (await admin.request<{ data: { db_name: string; default_ttl: number; max_ttl: number } }>('GET', 'database/roles/app-rw')).data.data;
  t.is(rw.db_name, 'app');
  t.is(rw.default_ttl, 3600);
  t.is(rw.max_ttl, 86400);
  const ca = (await admin.request<{ data: { certificate: string } }>('GET', 'pki/cert/ca')).data.data;
  t.regex(ca.certificate, /BEGIN CERTIFICATE/);
  const urls = (await admin.request<{ data: { issuing_certificates: string[] } }>('GET', 'pki/config/urls')).data.data;
  t.deepEqual(urls.issuing_certificates, ['https://vault.example.test/v1/pki/ca']);
  const web = (await admin.request<{ data: { allowed_domains: string[]; allow_subdomains: boolean } }>('GET', 'pki/roles/web')).data.data;
  t.deepEqual(web.allowed_domains, ['example.test']);
  t.true(web.allow_subdomains);

  const managed = (await vaults.get(ns, NAME)).status!.managed!;
  // pki/config/urls is a setting without a name: applied, not tracked (there is nothing to delete)
  t.deepEqual(managed.engineConfig, ['database/config/app', 'database/roles/app-ro', 'database/roles/app-rw', 'pki/roles/web', 'pki/root/generate/internal']);
  t.deepEqual(managed.auth, ['approle', 'userpass']);
  // the password (read from the Secret) never lands in status, events or logs
  const text = JSON.stringify((await vaults.get(ns, NAME)).status) + JSON.stringify(await vaults.events(ns, NAME)) + op.logs.text();
  const at = text.indexOf('not-a-real-password');
  t.is(at, -1, text.slice(Math.max(0, at - 300), at + 50));
});

test.serial("the operator's token reaches exactly the configured paths, not the secrets", async (t) => {
  const operatorToken = (await vaults.secretData(ns, `${NAME}-operator-token`))!.token!;
  const policy = (await admin.request<{ data: { policy: string } }>('GET', 'sys/policies/acl/vault-autopilot-operator')).data.data.policy;
  t.regex(policy, /path "database\/roles\/app-rw"/);
  await admin.request('POST', 'secret/data/probe', { data: { v: 'x' } });
  const err = await t.throwsAsync(raw(operatorToken).request('GET', 'secret/data/probe'));
  t.is((err as unknown as { status: number }).status, 403);
  const other = await t.throwsAsync(raw(operatorToken).request('GET', 'database/creds/app-rw'));
  t.is((other as unknown as { status: number }).status, 403);
});

test.serial('in sync: zero Vault writes across reconciles; the CA is generated once', async (t) => {
  const serial = (await admin.request<{ data: { certificate: string } }>('GET', 'pki/cert/ca')).data.data.certificate;
  t.deepEqual(await changesOnceInSync(op, writesInVault, 3), []);
  t.is((await admin.request<{ data: { certificate: string } }>('GET', 'pki/cert/ca')).data.data.certificate, serial);
});

test.serial('a changed role is updated; a removed role is deleted; a removed CA generation is not undone', async (t) => {
  const next = secrets();
  const db = next[1]!.configuration as { roles: Array<Record<string, unknown>> };
  db.roles = [{ ...db.roles[0]!, default_ttl: '2h' }];
  const pki = next[2]!.configuration as Record<string, unknown>;
  delete pki['root/generate'];
  await vaults.patchSpec(ns, NAME, { externalConfig: { secrets: next } });
  await eventually(async () => {
    const ro = await admin.request('GET', 'database/roles/app-ro', undefined, { allowStatus: [404] });
    if (ro.status !== 404) throw new Error('app-ro still there');
    const rw = (await admin.request<{ data: { default_ttl: number } }>('GET', 'database/roles/app-rw')).data.data;
    if (rw.default_ttl !== 7200) throw new Error(`ttl ${rw.default_ttl}`);
  }, WITHIN.reconcile);
  t.regex((await admin.request<{ data: { certificate: string } }>('GET', 'pki/cert/ca')).data.data.certificate, /BEGIN CERTIFICATE/);
  const managed = await eventually(async () => {
    const m = (await vaults.get(ns, NAME)).status!.managed!;
    if (m.engineConfig?.includes('database/roles/app-ro')) throw new Error('still recorded');
    return m;
  }, WITHIN.reconcile);
  t.deepEqual(managed.engineConfig, ['database/config/app', 'database/roles/app-rw', 'pki/roles/web']);
  const removed = await vaults.waitForEvent(ns, NAME, (e) => e.reason === 'ConfigChanged' && /removed configuration database\/roles\/app-ro/.test(e.message ?? ''), 'removed app-ro');
  t.is(removed.type, 'Normal');
});

test.serial('removing the whole configuration returns the operator policy to its base', async (t) => {
  await vaults.patchSpec(ns, NAME, { externalConfig: { secrets: [{ type: 'kv', path: 'secret', options: { version: '2' } }, { type: 'database' }, { type: 'pki' }] } });
  await eventually(async () => {
    const m = (await vaults.get(ns, NAME)).status!.managed!;
    if (m.engineConfig?.length) throw new Error(`still recorded: ${m.engineConfig}`);
  }, WITHIN.reconcile);
  // removed from Vault (stored objects), CA generation left
  t.is((await admin.request('GET', 'pki/roles/web', undefined, { allowStatus: [404] })).status, 404);
  t.is((await admin.request('GET', 'database/config/app', undefined, { allowStatus: [404] })).status, 404);
  const policy = await eventually(async () => {
    const p = (await admin.request<{ data: { policy: string } }>('GET', 'sys/policies/acl/vault-autopilot-operator')).data.data.policy;
    if (p.includes('database/')) throw new Error('policy not back to base');
    return p;
  }, WITHIN.reconcile);
  t.notRegex(policy, /secrets\[\]\.configuration/);
});

test.serial('groups and group-aliases: created in Vault, kept, and removed when they leave the spec', async (t) => {
  const base = (await vaults.get(ns, NAME)).spec.externalConfig!;
  await vaults.patchSpec(ns, NAME, {
    externalConfig: {
      ...base,
      auth: [...base.auth!, { type: 'ldap' }],
      groups: [
        { name: 'admin', type: 'external', policies: ['default'], metadata: { team: 'platform' } },
        { name: 'dev', policies: ['default'] },
      ],
      'group-aliases': [{ name: 'admins', mountpath: 'ldap', group: 'admin' }],
    },
  });
  await vaults.waitForCondition(ns, NAME, 'Configured', 'True', { message: /./, ...WITHIN.reconcile });
  const group = await eventually(async () => {
    const g = (await admin.request<{ data: { type: string; policies: string[]; metadata: Record<string, string>; alias: { name: string; mount_accessor: string } } }>('GET', 'identity/group/name/admin', undefined, { allowStatus: [404] })).data.data;
    if (!g?.alias?.name) throw new Error('no alias yet');
    return g;
  }, WITHIN.reconcile);
  t.is(group.type, 'external');
  t.deepEqual(group.policies, ['default']);
  t.deepEqual(group.metadata, { team: 'platform' });
  const ldapAccessor = (await admin.request<{ data: Record<string, { accessor: string }> }>('GET', 'sys/auth')).data.data['ldap/']!.accessor;
  t.is(group.alias.name, 'admins');
  t.is(group.alias.mount_accessor, ldapAccessor);
  t.is((await admin.request('GET', 'identity/group/name/dev')).status, 200);
  const managed = (await vaults.get(ns, NAME)).status!.managed!;
  t.deepEqual(managed.groups, ['admin', 'dev']);
  t.deepEqual(managed.groupAliases, ['ldap/admins']);
  // in sync: zero writes
  t.deepEqual(await changesOnceInSync(op, writesInVault, 2), []);

  // dev and the alias leave the spec
  await vaults.patchSpec(ns, NAME, { externalConfig: { ...base, auth: [...base.auth!, { type: 'ldap' }], groups: [{ name: 'admin', type: 'external', policies: ['default'], metadata: { team: 'platform' } }], 'group-aliases': null } });
  await eventually(async () => {
    if ((await admin.request('GET', 'identity/group/name/dev', undefined, { allowStatus: [404] })).status !== 404) throw new Error('dev still there');
    const g = (await admin.request<{ data: { alias?: { name?: string } } }>('GET', 'identity/group/name/admin')).data.data;
    if (g.alias?.name) throw new Error('alias still there');
  }, WITHIN.reconcile);
  const after = await eventually(async () => {
    const m = (await vaults.get(ns, NAME)).status!.managed!;
    if (m.groupAliases?.length || m.groups?.length !== 1) throw new Error(JSON.stringify(m));
    return m;
  }, WITHIN.reconcile);
  t.deepEqual(after.groups, ['admin']);
});

test.serial('startupSecrets: written once (inline and from a Kubernetes Secret), never overwritten or removed', async (t) => {
  await vaults.core.createNamespacedSecret({ namespace: ns, body: { metadata: { name: 'dockerrepo' }, stringData: { password: 'from-a-kubernetes-secret' } } });
  const base = (await vaults.get(ns, NAME)).spec.externalConfig!;
  const startupSecrets = [
    { type: 'kv', path: 'secret/data/accounts/aws', data: { data: { AWS_ACCESS_KEY_ID: 'seeded-value' } } },
    { type: 'kv', path: 'secret/data/dockerrepo', data: { secretKeyRef: [{ name: 'dockerrepo', key: 'password' }] } },
  ];
  await vaults.patchSpec(ns, NAME, { externalConfig: { ...base, startupSecrets } });
  const read = async (path: string) => (await admin.request<{ data: { data: Record<string, string> } }>('GET', path, undefined, { allowStatus: [404] })).data?.data?.data;
  await eventually(async () => {
    if (!(await read('secret/data/dockerrepo'))) throw new Error('not written yet');
  }, WITHIN.reconcile);
  t.deepEqual(await read('secret/data/accounts/aws'), { AWS_ACCESS_KEY_ID: 'seeded-value' });
  t.deepEqual(await read('secret/data/dockerrepo'), { password: 'from-a-kubernetes-secret' });
  // the application changes it: the operator does not put the seed back
  await admin.request('POST', 'secret/data/accounts/aws', { data: { AWS_ACCESS_KEY_ID: 'rotated-by-the-app' } });
  const reconciles = op.reconciles();
  await eventually(async () => {
    if (op.reconciles() < reconciles + 3) throw new Error('waiting for reconciles');
  }, withinResyncs(3, RESYNC_MS));
  t.deepEqual(await read('secret/data/accounts/aws'), { AWS_ACCESS_KEY_ID: 'rotated-by-the-app' });
  // removed from the spec: left in Vault
  await vaults.patchSpec(ns, NAME, { externalConfig: { ...base, startupSecrets: null } });
  await eventually(async () => {
    if ((await vaults.get(ns, NAME)).status!.managed!.startupSecrets?.length) throw new Error('still recorded');
  }, WITHIN.reconcile);
  t.deepEqual(await read('secret/data/dockerrepo'), { password: 'from-a-kubernetes-secret' });
  // the operator still cannot read secrets, and never logged or reported a value
  const operatorToken = (await vaults.secretData(ns, `${NAME}-operator-token`))!.token!;
  t.is(((await t.throwsAsync(raw(operatorToken).request('GET', 'secret/data/dockerrepo'))) as unknown as { status: number }).status, 403);
  const text = JSON.stringify((await vaults.get(ns, NAME)).status) + JSON.stringify(await vaults.events(ns, NAME)) + op.logs.text();
  for (const value of ['seeded-value', 'from-a-kubernetes-secret']) t.false(text.includes(value), value);
});

test.serial('auth extras: ldap/okta groups and users, github map, aws crossaccountrole are written, kept in sync, and removed', async (t) => {
  const base = (await vaults.get(ns, NAME)).spec.externalConfig!;
  const plain = base.auth!.filter((a) => !['ldap', 'okta', 'github', 'aws'].includes(a.type));
  const extras = (groups: Record<string, unknown>, teams: Record<string, unknown>) => [
    ...plain,
    { type: 'ldap', config: { url: 'ldap://ldap.example.test', userdn: 'ou=people,dc=example,dc=test' }, groups, users: { bob: { groups: 'admins', policies: ['default'] } } },
    { type: 'okta', groups: { 'okta-admins': { policies: ['default'] } }, users: { 'carol@example.test': { policies: ['default'] } } },
    { type: 'github', map: { teams, users: { alice: 'default' } } },
    { type: 'aws', crossaccountrole: [{ sts_account: '123456789012', sts_role: 'arn:aws:iam::123456789012:role/vault' }] },
  ];
  await vaults.patchSpec(ns, NAME, { externalConfig: { ...base, auth: extras({ admins: { policies: ['default', 'ops'] }, readers: { policies: ['default'] } }, { dev: 'default,ops' }) } });
  const get = async (path: string) => (await admin.request<{ data: Record<string, unknown> }>('GET', path, undefined, { allowStatus: [404] })).data?.data;
  await eventually(async () => {
    if (!(await get('auth/aws/config/sts/123456789012'))) throw new Error('not written yet');
  }, WITHIN.reconcile);
  t.deepEqual((await get('auth/ldap/groups/admins'))?.['policies'], ['default', 'ops']);
  t.deepEqual((await get('auth/ldap/groups/readers'))?.['policies'], ['default']);
  t.deepEqual((await get('auth/ldap/users/bob'))?.['policies'], ['default']);
  t.deepEqual((await get('auth/okta/groups/okta-admins'))?.['policies'], ['default']);
  t.deepEqual((await get('auth/okta/users/carol@example.test'))?.['policies'], ['default']);
  t.is((await get('auth/github/map/teams/dev'))?.['value'], 'default,ops');
  t.is((await get('auth/github/map/users/alice'))?.['value'], 'default');
  t.is((await get('auth/aws/config/sts/123456789012'))?.['sts_role'], 'arn:aws:iam::123456789012:role/vault');
  const managed = (await vaults.get(ns, NAME)).status!.managed!;
  for (const id of ['ldap/groups/admins', 'ldap/users/bob', 'okta/users/carol@example.test', 'github/map/teams/dev', 'aws/config/sts/123456789012']) {
    t.true(managed.roles?.includes(id), id);
  }
  const ignored = ((await vaults.get(ns, NAME)).status as { ignoredFields?: Array<{ field: string }> }).ignoredFields ?? [];
  t.deepEqual(ignored.filter((f) => /auth\[/.test(f.field)), [], 'no auth extra is reported');
  // in sync: every value read back satisfies the spec, so a pass writes nothing
  t.deepEqual(await changesOnceInSync(op, writesInVault, 2), [], 'no writes once in sync');

  // drift is undone; removed entries are deleted
  await admin.request('POST', 'auth/ldap/groups/admins', { policies: 'tampered' });
  await vaults.patchSpec(ns, NAME, { externalConfig: { ...base, auth: extras({ admins: { policies: ['default', 'ops'] } }, {}) } });
  await eventually(async () => {
    if (await get('auth/ldap/groups/readers')) throw new Error('readers still there');
    if (await get('auth/github/map/teams/dev')) throw new Error('team dev still mapped');
    const admins = (await get('auth/ldap/groups/admins'))?.['policies'];
    if (JSON.stringify(admins) !== '["default","ops"]') throw new Error(`admins ${JSON.stringify(admins)}`);
  }, WITHIN.reconcile);
  t.is((await get('auth/github/map/users/alice'))?.['value'], 'default', 'the entry still listed stays');
  const deleted = await vaults.waitForEvent(ns, NAME, (e) => e.reason === 'ConfigChanged' && /deleted groups entry readers from auth ldap/.test(e.message ?? ''), 'deleted readers');
  t.is(deleted.type, 'Normal');
});

test.serial('startupSecrets type pki: the CA from a Kubernetes Secret is imported into a pki mount without one, never re-imported', async (t) => {
  const ca = createCertificateAuthority({ commonName: 'imported.example.test', notBefore: new Date(Date.now() - 60_000), notAfter: new Date(Date.now() + 86_400_000), algorithm: 'rsa-2048' });
  await vaults.core.createNamespacedSecret({ namespace: ns, body: { metadata: { name: 'imported-ca' }, stringData: { 'tls.crt': ca.cert, 'tls.key': ca.key } } });
  const base = (await vaults.get(ns, NAME)).spec.externalConfig!;
  await vaults.patchSpec(ns, NAME, {
    externalConfig: {
      ...base,
      secrets: [...base.secrets!, { type: 'pki', path: 'pki-imported', config: { max_lease_ttl: '720h' } }],
      startupSecrets: [{ type: 'pki', path: 'pki-imported/config/ca', data: { secretKeyRef: [{ name: 'imported-ca', key: 'tls.crt' }, { name: 'imported-ca', key: 'tls.key' }] } }],
    },
  });
  const certificate = await eventually(async () => {
    const got = (await admin.request<{ data: { certificate: string } }>('GET', 'pki-imported/cert/ca', undefined, { allowStatus: [404] })).data?.data?.certificate;
    if (!got) throw new Error('no CA yet');
    return got;
  }, WITHIN.reconcile);
  t.is(certificate.trim(), ca.cert.trim(), 'the CA Vault serves is the imported one');
  t.deepEqual((await vaults.get(ns, NAME)).status!.managed!.startupSecrets, ['pki-imported/config/ca']);
  // imported once: a pass with the CA present writes nothing
  t.deepEqual(await changesOnceInSync(op, writesInVault, 2), []);
  const keyBody = ca.key.split('\n')[1]!;
  const text = JSON.stringify((await vaults.get(ns, NAME)).status) + JSON.stringify(await vaults.events(ns, NAME)) + op.logs.text();
  t.false(text.includes(keyBody), 'the private key is in no status, event or log line');
  const imported = await vaults.waitForEvent(ns, NAME, (e) => /imported the CA of startup secret pki-imported\/config\/ca/.test(e.message ?? ''), 'imported the CA');
  t.is(imported.reason, 'ConfigChanged');
});

test.serial('__accessor__ placeholders (policies, PKI allowed_domains) get the accessor of a mount enabled in the same pass; save_to keeps a response', async (t) => {
  const base = (await vaults.get(ns, NAME)).spec.externalConfig!;
  const template = '{{identity.entity.aliases.__accessor__k8s-accessor.metadata.service_account_namespace}}';
  await vaults.patchSpec(ns, NAME, {
    externalConfig: {
      ...base,
      auth: [...base.auth!, { type: 'kubernetes', path: 'k8s-accessor' }],
      policies: [...(base.policies ?? []), { name: 'per-namespace', rules: `path "secret/data/${template}/*" { capabilities = ["read"] }` }],
      secrets: [
        ...base.secrets!,
        {
          type: 'pki',
          path: 'pki-save',
          config: { max_lease_ttl: '720h' },
          configuration: {
            'root/generate': [{ name: 'internal', common_name: 'save.example.test', ttl: '720h', save_to: 'secret/data/pki-save-ca' }],
            roles: [{ name: 'per-namespace', allowed_domains: [template], allowed_domains_template: true, allow_bare_domains: true }],
          },
        },
      ],
    },
  });
  const accessor = await eventually(async () => {
    const a = (await admin.request<{ data: Record<string, { accessor: string }> }>('GET', 'sys/auth')).data.data['k8s-accessor/']?.accessor;
    if (!a) throw new Error('mount not there yet');
    const policy = (await admin.request<{ data: { policy: string } }>('GET', 'sys/policies/acl/per-namespace', undefined, { allowStatus: [404] })).data?.data?.policy ?? '';
    if (!policy.includes(a)) throw new Error(`policy not templated yet: ${policy}`);
    return a;
  }, WITHIN.reconcile);
  const policy = (await admin.request<{ data: { policy: string } }>('GET', 'sys/policies/acl/per-namespace')).data.data.policy;
  t.is(policy, `path "secret/data/{{identity.entity.aliases.${accessor}.metadata.service_account_namespace}}/*" { capabilities = ["read"] }`);
  const role = await eventually(async () => (await admin.request<{ data: { allowed_domains: string[] } }>('GET', 'pki-save/roles/per-namespace')).data.data, WITHIN.reconcile);
  t.deepEqual(role.allowed_domains, [`{{identity.entity.aliases.${accessor}.metadata.service_account_namespace}}`]);
  // save_to: the generated CA's response, kept as a kv v2 secret (the operator itself cannot read it back)
  const saved = (await admin.request<{ data: { data: { certificate?: string; issuing_ca?: string } } }>('GET', 'secret/data/pki-save-ca')).data.data.data;
  const ca = (await admin.request<{ data: { certificate: string } }>('GET', 'pki-save/cert/ca')).data.data.certificate;
  t.is(saved.certificate?.trim(), ca.trim());
  const operatorToken = (await vaults.secretData(ns, `${NAME}-operator-token`))!.token!;
  t.is(((await t.throwsAsync(raw(operatorToken).request('GET', 'secret/data/pki-save-ca'))) as unknown as { status: number }).status, 403);
  const status = (await vaults.get(ns, NAME)).status!;
  t.false(JSON.stringify(status).includes('__accessor__'), 'no placeholder problem left');
  t.false(JSON.stringify(status).includes('save_to'), 'save_to is not reported');
  // in sync: placeholders resolve to the same accessor, nothing is written again
  t.deepEqual(await changesOnceInSync(op, writesInVault, 2), []);
});

test.serial('plugins: registered in the catalog (binary in plugin_directory), kept, deregistered when they leave the spec', async (t) => {
  // a stand-in binary: the catalog checks the command exists in plugin_directory; it runs only when mounted
  const script = '#!/bin/sh\necho "not a real plugin" >&2\nexit 1\n';
  writeFileSync(join(servers.vault.pluginDir, 'bv-secrets'), script);
  chmodSync(join(servers.vault.pluginDir, 'bv-secrets'), 0o755);
  const sha256 = createHash('sha256').update(script).digest('hex');
  const base = (await vaults.get(ns, NAME)).spec.externalConfig!;
  await vaults.patchSpec(ns, NAME, { externalConfig: { ...base, plugins: [{ plugin_name: 'bv-secrets', type: 'secret', command: 'bv-secrets', sha256 }] } });
  const entry = await eventually(async () => {
    const res = await admin.request<{ data: { command: string; sha256: string; builtin: boolean } }>('GET', 'sys/plugins/catalog/secret/bv-secrets', undefined, { allowStatus: [404] });
    if (res.status === 404) throw new Error('not registered yet');
    return res.data.data;
  }, WITHIN.reconcile);
  t.is(entry.command, 'bv-secrets');
  t.is(entry.sha256, sha256);
  t.false(entry.builtin);
  t.deepEqual((await vaults.get(ns, NAME)).status!.managed!.plugins, ['secret/bv-secrets']);
  const ignored = ((await vaults.get(ns, NAME)).status as { ignoredFields?: Array<{ field: string }> }).ignoredFields ?? [];
  t.false(ignored.some((f) => /plugins/.test(f.field)), 'plugins are not reported');
  // in sync: nothing registered again
  t.deepEqual(await changesOnceInSync(op, writesInVault, 2), []);
  // one registered by hand is never touched; ours goes when it leaves the spec
  await admin.request('PUT', 'sys/plugins/catalog/auth/by-hand', { command: 'bv-secrets', sha256 });
  await vaults.patchSpec(ns, NAME, { externalConfig: { ...base, plugins: null } });
  await eventually(async () => {
    if ((await admin.request('GET', 'sys/plugins/catalog/secret/bv-secrets', undefined, { allowStatus: [404] })).status !== 404) throw new Error('still registered');
  }, WITHIN.reconcile);
  t.is((await admin.request('GET', 'sys/plugins/catalog/auth/by-hand', undefined, { allowStatus: [404] })).status, 200);
  const policy = await eventually(async () => {
    const p = (await admin.request<{ data: { policy: string } }>('GET', 'sys/policies/acl/vault-autopilot-operator')).data.data.policy;
    if (p.includes('sys/plugins/catalog')) throw new Error('policy still grants the catalog');
    return p;
  }, WITHIN.reconcile);
  t.notRegex(policy, /sys\/plugins/);
});
