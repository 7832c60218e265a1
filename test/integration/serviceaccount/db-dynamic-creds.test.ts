// Dynamic database credentials, end to end against real servers: a real
// PostgreSQL (Debian's package, own data directory and loopback port), the
// harness's Vault with the database engine, the real kube-apiserver. The
// platform declares the connection in the Vault resource (credentials from a
// Secret, root rotated by Vault) and offers it to a namespace with one
// template; the service owner adds one annotation; the ServiceAccount logs in
// with a token from the TokenRequest API (Vault calls TokenReview), reads
// credentials, connects to PostgreSQL with exactly the granted rights; on
// un-annotate the role leaves the resource and Vault, the lease is revoked and
// the user is gone from pg_roles.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import test from 'ava';
import { serviceAccountRoleName } from '../../../operator/api/naming.js';
import type { VaultResource } from '../../../operator/api/vault.js';
import { eventually, WITHIN, useTestEnv } from '../../harness/index.js';
import { PostgresServer } from '../../harness/postgres.js';
import type { V1Deployment, V1Pod } from '@kubernetes/client-node';
import { mutatePod } from '../../../operator/webhook/mutate.js';
import { runInjectedAgent } from '../../support/agent-run.js';
import { sampleOf } from '../../support/samples.js';
import { someSettings } from '../../unit/webhook/helpers/builders.js';
import { Cluster, createExternalVault, startOperator, vaultPolicies, vaultRequest, type RunningOperator } from './helpers.js';

const env = useTestEnv(test);
const DB = 'vault.autopilot.dev/db-dynamic-creds';
const TTL = 'vault.autopilot.dev/db-creds-ttl';
const mount = `db-${randomBytes(3).toString('hex')}`;
const authPath = `k8s-db-${randomBytes(3).toString('hex')}`;
const observer = { user: 'observer', password: randomBytes(12).toString('hex') };

let pg: PostgresServer | undefined;
let op: RunningOperator | undefined;
let cluster: Cluster;
let ns = '';
const bindings: string[] = [];
/** Values that must never show in the operator's logs or Events. */
const secrets: string[] = [];

const READONLY = [
  `CREATE ROLE "{{name}}" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}';`,
  `GRANT SELECT ON orders TO "{{name}}";`,
];

test.before(async () => {
  pg = await PostgresServer.create();
  await pg.start();
  secrets.push(pg.superuserPassword);
  // a second superuser the test keeps: Vault rotates the one it is given
  for (const sql of [
    `CREATE ROLE ${observer.user} WITH LOGIN SUPERUSER PASSWORD '${observer.password}'`,
    'CREATE TABLE orders (id int PRIMARY KEY, item text)',
    "INSERT INTO orders VALUES (1, 'tea'), (2, 'cake')",
    'CREATE TABLE payroll (id int, salary int)',
  ]) {
    const res = await pg.psql(sql);
    if (res.status !== 0) throw new Error(`${sql}: ${res.stderr}`);
  }

  cluster = new Cluster(env());
  await env().applyCrds('crds/vault.yaml');
  ns = await env().namespace('dbcreds');
  await cluster.kube.core.createNamespacedSecret({
    namespace: ns,
    body: { metadata: { name: 'pg-root' }, stringData: { username: pg.superuser, password: pg.superuserPassword } },
  });
  await createExternalVault(cluster, env(), ns, 'vault', {
    auth: [
      {
        path: authPath,
        type: 'kubernetes',
        config: { kubernetes_host: env().apiserverUrl, kubernetes_ca_cert: readFileSync(env().apiserverCaFile, 'utf8') },
      },
    ],
    secrets: [
      {
        type: 'database',
        path: mount,
        configuration: {
          config: [
            {
              name: 'app',
              plugin_name: 'postgresql-database-plugin',
              connection_url: pg.vaultConnectionUrl(),
              allowed_roles: ['sa.*'],
              username: { secretKeyRef: { name: 'pg-root', key: 'username' } },
              password: { secretKeyRef: { name: 'pg-root', key: 'password' } },
              rotate: true,
            },
          ],
        },
      },
    ],
  });
  await cluster.kube.raw.request({
    method: 'PATCH',
    path: cluster.vaultPath(ns, 'vault'),
    contentType: 'application/merge-patch+json',
    body: {
      spec: {
        selfService: {
          databaseConnections: [
            { connection: `${mount}/app`, namespaces: [ns], templates: [{ name: 'readonly', creation_statements: READONLY }], default_ttl: '10m', max_ttl: '1h' },
            { connection: `${mount}/billing`, namespaces: ['billing'], templates: [{ name: 'readonly', creation_statements: READONLY }] },
          ],
        },
      },
    },
  });
  op = await startOperator(env(), {
    namespace: ns,
    env: { VAULT_AUTOPILOT_TARGET_VAULT: `${ns}/vault`, VAULT_AUTOPILOT_KUBERNETES_AUTH_PATH: authPath },
    vaultController: true,
  });
});

test.after.always(async () => {
  await op?.stop();
  for (const name of bindings) await cluster?.kube.rbac.deleteClusterRoleBinding({ name }).catch(() => undefined);
  await vaultRequest(env(), 'PUT', `sys/leases/revoke-prefix/${mount}`).catch(() => undefined);
  await vaultRequest(env(), 'DELETE', `sys/mounts/${mount}`).catch(() => undefined);
  await vaultRequest(env(), 'DELETE', `sys/auth/${authPath}`).catch(() => undefined);
  for (const policy of await vaultPolicies(env()).catch(() => [] as string[])) {
    if (policy.startsWith(`sa.${ns}.`)) await vaultRequest(env(), 'DELETE', `sys/policies/acl/${policy}`);
  }
  await pg?.destroy();
});

async function vaultReady(): Promise<void> {
  await eventually(
    async () => {
      const vault = await cluster.getVault(ns, 'vault');
      const ready = vault?.status?.conditions?.find((c) => c.type === 'Ready');
      if (ready?.status !== 'True') throw new Error(`Vault not Ready: ${ready?.message ?? 'no status yet'}`);
      if ((await vaultRequest(env(), 'GET', `${mount}/config/app`)).status !== 200) throw new Error('connection not configured yet');
    },
    { timeoutMs: 60_000, intervalMs: 250 },
  );
}

/** A ServiceAccount that may call TokenReview with its own token (Vault runs outside the cluster here). */
async function serviceAccount(name: string, annotations: Record<string, string>): Promise<void> {
  await cluster.createServiceAccount(ns, name, annotations);
  const binding = `vault-autopilot-dbcreds-${ns}-${name}`;
  await cluster.kube.rbac.createClusterRoleBinding({
    body: {
      metadata: { name: binding },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'system:auth-delegator' },
      subjects: [{ kind: 'ServiceAccount', name, namespace: ns }],
    },
  });
  bindings.push(binding);
}

async function login(name: string): Promise<string> {
  const tr = await cluster.kube.core.createNamespacedServiceAccountToken({ namespace: ns, name, body: { spec: { audiences: [], expirationSeconds: 600 } } });
  const jwt = tr.status!.token!;
  const res = await vaultRequest(env(), 'POST', `auth/${authPath}/login`, { role: serviceAccountRoleName(ns, name), jwt }, '');
  const token = res.json.auth?.client_token as string | undefined;
  if (!token) throw new Error(`login as ${name}: HTTP ${res.status} ${JSON.stringify(res.json.errors)}`);
  secrets.push(token);
  return token;
}

async function pgRoles(): Promise<string[]> {
  const res = await pg!.psql("SELECT rolname FROM pg_roles WHERE rolname LIKE 'v-%' ORDER BY 1", observer);
  if (res.status !== 0) throw new Error(res.stderr);
  return res.stdout.split('\n').filter(Boolean);
}

let creds: { username: string; password: string; leaseId: string } | undefined;
/** The user the injected agent rendered for a pod (a lease of its own). */
let podUser: { user: string; password: string } | undefined;

test.serial('the platform declares the connection: credentials from a Secret, then rotated by Vault', async (t) => {
  await vaultReady();
  const conn = await vaultRequest(env(), 'GET', `${mount}/config/app`);
  t.is(conn.json.data?.plugin_name, 'postgresql-database-plugin');
  t.deepEqual(conn.json.data?.allowed_roles, ['sa.*']);
  t.is(conn.json.data?.connection_details?.username, pg!.superuser, 'username resolved from the Secret');
  // rotate-root: the password in the Secret no longer logs in; only Vault knows the new one
  const old = await pg!.psql('SELECT 1');
  t.not(old.status, 0, 'the original superuser password was rotated away');
  t.regex(old.stderr, /password authentication failed/);
  const vault = (await cluster.getVault(ns, 'vault')) as VaultResource;
  t.true(vault.status?.managed?.engineConfig?.includes(`${mount}/config/app`));
  t.false(JSON.stringify(vault.status).includes(pg!.superuserPassword), 'no password in status');
});

test.serial('annotate: a database role on the offered connection, readable through the ServiceAccount\'s own login', async (t) => {
  await serviceAccount('orders', { [DB]: `${mount}/app`, [TTL]: '5m' });
  const role = serviceAccountRoleName(ns, 'orders');
  const started = Date.now();
  const vaultRole = await eventually(
    async () => {
      const res = await vaultRequest(env(), 'GET', `${mount}/roles/${role}`);
      if (res.status !== 200) throw new Error(`role: HTTP ${res.status}`);
      return res.json.data as Record<string, any>;
    },
    { timeoutMs: 60_000, intervalMs: 250 },
  );
  t.log(`annotation -> database role in Vault: ${Date.now() - started} ms`);
  t.is(vaultRole.db_name, 'app');
  t.deepEqual(vaultRole.creation_statements, READONLY, 'the platform\'s template, not tenant SQL');
  t.is(vaultRole.default_ttl, 300);
  t.is(vaultRole.max_ttl, 3600);
  // the resource lists it under the ServiceAccount manager, next to the platform's entry
  const config = await cluster.externalConfig(ns, 'vault');
  const engine = config.secrets?.find((s) => s.path === mount);
  t.deepEqual(((engine?.configuration?.['roles'] as Array<{ name: string }>) ?? []).map((r) => r.name), [role]);
  t.truthy((engine?.configuration?.['config'] as unknown[])?.length, 'the platform\'s connection is still there');

  const token = await eventually(() => login('orders'), { timeoutMs: 30_000, intervalMs: 250 });
  const res = await vaultRequest(env(), 'GET', `${mount}/creds/${role}`, undefined, token);
  t.is(res.status, 200, JSON.stringify(res.json.errors));
  creds = { username: res.json.data.username, password: res.json.data.password, leaseId: res.json.lease_id };
  secrets.push(creds.password);
  t.is(res.json.lease_duration, 300);
  t.true(creds.leaseId.startsWith(`${mount}/creds/${role}/`));
  // its policy reads its own credentials and nothing else of the mount
  t.is((await vaultRequest(env(), 'GET', `${mount}/config/app`, undefined, token)).status, 403);
  t.is((await vaultRequest(env(), 'GET', `${mount}/creds/sa.${ns}.other`, undefined, token)).status, 403);
});

test.serial('the credentials connect to PostgreSQL with exactly the granted rights', async (t) => {
  if (!creds) return t.fail('no credentials from the previous step');
  const as = { user: creds.username, password: creds.password };
  const who = await pg!.psql('SELECT current_user', as);
  t.is(who.status, 0, who.stderr);
  t.is(who.stdout.trim(), creds.username);
  t.true((await pgRoles()).includes(creds.username));
  const read = await pg!.psql('SELECT item FROM orders ORDER BY id', as);
  t.is(read.status, 0, read.stderr);
  t.deepEqual(read.stdout.trim().split('\n'), ['tea', 'cake']);
  const write = await pg!.psql("INSERT INTO orders VALUES (3, 'pie')", as);
  t.not(write.status, 0);
  t.regex(write.stderr, /permission denied for table orders/);
  const other = await pg!.psql('SELECT * FROM payroll', as);
  t.not(other.status, 0);
  t.regex(other.stderr, /permission denied for table payroll/);
  const create = await pg!.psql('CREATE ROLE intruder', as);
  t.regex(create.stderr, /permission denied to create role/);
});

test.serial('injection: the sample\'s agent template renders libpq variables that connect as a user of its own', async (t) => {
  // samples/deployment-database-credentials.yaml, with this test's mount, role and auth path
  const sample = sampleOf<V1Deployment>('samples/deployment-database-credentials.yaml', 'Deployment');
  const role = serviceAccountRoleName(ns, 'orders');
  const annotations = Object.fromEntries(
    Object.entries(sample.spec!.template.metadata!.annotations!).map(([k, v]) => [k, v.replaceAll('database/creds/sa.shop.payments', `${mount}/creds/${role}`)]),
  );
  const pod: V1Pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'orders', namespace: ns, annotations: { ...annotations, 'vault.autopilot.dev/auth-path': `auth/${authPath}` } },
    spec: { ...sample.spec!.template.spec!, serviceAccountName: 'orders' },
  };
  const outcome = mutatePod(pod, ns, someSettings({ vault: { address: env().vault.address } }));
  if (outcome.action !== 'patch') return t.fail(JSON.stringify(outcome));
  const tr = await cluster.kube.core.createNamespacedServiceAccountToken({ namespace: ns, name: 'orders', body: { spec: { audiences: [], expirationSeconds: 600 } } });
  secrets.push(tr.status!.token!);
  const run = await runInjectedAgent(outcome.pod, tr.status!.token!);
  t.is(run.code, 0, run.output.slice(-2000));
  const rendered = run.files.get('pg.env') ?? '';
  const vars = Object.fromEntries([...rendered.matchAll(/^export (PGUSER|PGPASSWORD)="([^"]*)"$/gm)].map((m) => [m[1]!, m[2]!]));
  t.truthy(vars['PGUSER'] && vars['PGPASSWORD'], `rendered: ${rendered.replace(/PGPASSWORD="[^"]*"/, 'PGPASSWORD=<hidden>')}`);
  podUser = { user: vars['PGUSER']!, password: vars['PGPASSWORD']! };
  secrets.push(podUser.password);
  t.false(run.output.includes(podUser.password), 'the password is not in the agent output');
  t.not(podUser.user, creds?.username, 'each reader gets a user of its own');
  const read = await pg!.psql('SELECT count(*) FROM orders', podUser);
  t.is(read.status, 0, read.stderr);
  t.is(read.stdout.trim(), '2');
});

test.serial('a connection not offered to the namespace is refused with a message; the rest of the ServiceAccount is configured', async (t) => {
  await serviceAccount('billing', { [DB]: `${mount}/billing` });
  const role = serviceAccountRoleName(ns, 'billing');
  const event = await eventually(
    async () => {
      const found = (await cluster.events(ns, 'billing')).find((e) => e.reason === 'DatabaseCredsRefused');
      if (!found) throw new Error('no DatabaseCredsRefused event yet');
      return found;
    },
    { timeoutMs: 60_000, intervalMs: 250 },
  );
  t.regex(event.message ?? '', new RegExp(`connection "${mount}/billing" .* is not offered to namespace ${ns}`));
  t.is(event.type, 'Warning');
  // its Kubernetes-auth role is there (one annotation implies auto-configure), no database role
  await eventually(async () => {
    if ((await vaultRequest(env(), 'GET', `auth/${authPath}/role/${role}`)).status !== 200) throw new Error('no auth role yet');
  }, WITHIN.reconcile);
  t.is((await vaultRequest(env(), 'GET', `${mount}/roles/${role}`)).status, 404);
  const policy = await vaultRequest(env(), 'GET', `sys/policies/acl/${role}`);
  t.false(String(policy.json.data?.policy).includes(`${mount}/creds`));
  // a template the connection does not offer: refused too, naming the offered ones
  await serviceAccount('shipping', { [DB]: `${mount}/app`, 'vault.autopilot.dev/db-creds-template': 'admin' });
  const bad = await eventually(async () => {
    const found = (await cluster.events(ns, 'shipping')).find((e) => e.reason === 'DatabaseCredsRefused');
    if (!found) throw new Error('no event yet');
    return found;
  }, WITHIN.reconcile);
  t.regex(bad.message ?? '', /db-creds-template is "admin"; connection ".*\/app" offers the templates readonly/);
});

test.serial('un-annotate: role gone from the resource and Vault, lease revoked, user gone from pg_roles', async (t) => {
  if (!creds) return t.fail('no credentials from an earlier step');
  const role = serviceAccountRoleName(ns, 'orders');
  const started = Date.now();
  await cluster.annotate(ns, 'orders', { [DB]: null, [TTL]: null });
  await eventually(
    async () => {
      if ((await vaultRequest(env(), 'GET', `${mount}/roles/${role}`)).status !== 404) throw new Error('role still in Vault');
      const roles = await pgRoles();
      if (roles.includes(creds!.username) || (podUser && roles.includes(podUser.user))) throw new Error('users still in pg_roles');
    },
    { timeoutMs: 60_000, intervalMs: 250 },
  );
  t.log(`un-annotate -> role gone, user dropped: ${Date.now() - started} ms`);
  const lease = await vaultRequest(env(), 'PUT', 'sys/leases/lookup', { lease_id: creds.leaseId });
  t.is(lease.status, 400, 'the lease no longer exists');
  const config = await cluster.externalConfig(ns, 'vault');
  const engine = config.secrets?.find((s) => s.path === mount);
  t.deepEqual((engine?.configuration?.['roles'] as unknown[] | undefined) ?? [], []);
  t.truthy((engine?.configuration?.['config'] as unknown[])?.length, 'the platform\'s connection stays');
  const login = await pg!.psql('SELECT 1', { user: creds.username, password: creds.password });
  t.not(login.status, 0, 'the revoked credentials no longer connect');
  if (!podUser) return t.fail('no pod user from the injection step');
  t.not((await pg!.psql('SELECT 1', podUser)).status, 0, 'the pod\'s rendered credentials no longer connect');
});

test.serial('no password or token in the operator\'s logs or Events', async (t) => {
  const logs = op!.logs.text();
  const events = JSON.stringify((await cluster.kube.core.listNamespacedEvent({ namespace: ns })).items.map((e) => e.message));
  for (const value of secrets) {
    t.false(logs.includes(value), 'a secret value in the logs');
    t.false(events.includes(value), 'a secret value in an Event');
  }
  t.true(secrets.length >= 3);
});
