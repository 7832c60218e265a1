// Dynamic database credentials on the local cluster: a real PostgreSQL on the
// node's address (reachable from pods), install.yaml, the sample Vault, the
// platform's connection (root credentials from a Secret, rotated by Vault)
// offered to `shop`, then samples/deployment-database-credentials.yaml
// UNCHANGED: the injected agent renders pg.env in the pod, whose user can
// read the granted table; un-annotating the ServiceAccount drops that user.
// Leaves nothing behind (uninstall + namespaces).
import test from 'ava';
import { useCluster } from '../harness/cluster.js';
import { NET } from '../harness/cluster-config.js';
import { eventually } from '../harness/eventually.js';
import { PostgresServer } from '../harness/postgres.js';
import { ClusterFlow, COMMANDS, NS } from './steps.js';

const cluster = useCluster(test);
const SAMPLE = 'samples/deployment-database-credentials.yaml';
let flow: ClusterFlow;
let pg: PostgresServer | undefined;

test.before(async () => {
  flow = new ClusterFlow(cluster());
  pg = await PostgresServer.create({ host: NET.nodeIP, allowNetworks: [NET.podCIDR] });
  await pg.start();
  flow.secrets.add(pg.superuserPassword);
  for (const sql of ['CREATE ROLE observer LOGIN SUPERUSER PASSWORD \'observer-pw\'', 'CREATE TABLE orders (id int, item text)', "INSERT INTO orders VALUES (1, 'tea')"]) {
    const res = await pg.psql(sql);
    if (res.status !== 0) throw new Error(`${sql}: ${res.stderr}`);
  }
});

test.after.always(async () => {
  if (flow) {
    for (const command of COMMANDS.uninstall) await flow.sh(command, { timeoutMs: 300_000, quiet: true });
    await flow.sh(`kubectl delete namespace ${NS.app} ${NS.vault} --ignore-not-found --timeout=3m`, { timeoutMs: 200_000, quiet: true });
    flow.dispose();
  }
  await pg?.destroy();
});

const observer = { user: 'observer', password: 'observer-pw' };

async function pgUsers(): Promise<string[]> {
  const res = await pg!.psql("SELECT rolname FROM pg_roles WHERE rolname LIKE 'v-%'", observer);
  if (res.status !== 0) throw new Error(res.stderr);
  return res.stdout.split('\n').filter(Boolean);
}

test.serial('an injected pod gets a PostgreSQL user of its own; un-annotating the ServiceAccount drops it', async (t) => {
  const install = await flow.install();
  const vault = await flow.vault();
  t.log(`install ${(install.ms / 1000).toFixed(1)} s; Vault Ready ${(vault.ms / 1000).toFixed(1)} s`);

  // the platform: root credentials in a Secret, the connection in the Vault resource, offered to `shop`
  await flow.sh(`kubectl -n ${NS.vault} create secret generic orders-db-root --from-literal=username=${pg!.superuser} --from-literal=password=${pg!.superuserPassword}`, { quiet: true }).then((r) => t.is(r.code, 0, r.stderr));
  const current = await flow.vaultResource();
  const secrets = [
    ...(current.spec?.externalConfig?.secrets ?? []),
    {
      type: 'database',
      configuration: {
        config: [
          {
            name: 'orders',
            plugin_name: 'postgresql-database-plugin',
            connection_url: pg!.vaultConnectionUrl(),
            allowed_roles: ['sa.*'],
            username: { secretKeyRef: { name: 'orders-db-root', key: 'username' } },
            password: { secretKeyRef: { name: 'orders-db-root', key: 'password' } },
            rotate: true,
          },
        ],
      },
    },
  ];
  const selfService = {
    databaseConnections: [
      {
        connection: 'database/orders',
        namespaces: [NS.app],
        default_ttl: '1h',
        max_ttl: '24h',
        templates: [{ name: 'readonly', creation_statements: [`CREATE ROLE "{{name}}" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}';`, 'GRANT SELECT ON orders TO "{{name}}";'] }],
      },
    ],
  };
  const patch = JSON.stringify({ spec: { externalConfig: { ...current.spec.externalConfig, secrets }, selfService } });
  await flow.sh(`kubectl -n ${NS.vault} patch vault vault --type=merge -p '${patch.replaceAll("'", "'\\''")}'`, { quiet: true }).then((r) => t.is(r.code, 0, r.stderr));
  await eventually(
    async () => {
      // rotate-root happened: the Secret's password no longer logs in
      if ((await pg!.psql('SELECT 1')).status === 0) throw new Error('root password not rotated yet');
    },
    { timeoutMs: 120_000, intervalMs: 1000, message: 'Vault configures the connection and rotates its root password' },
  );

  // the service owner: the sample, unchanged
  const started = Date.now();
  await flow.must(`kubectl apply -f ${SAMPLE}`);
  await flow.must(`kubectl -n ${NS.app} rollout status deployment/payments --timeout=5m`, { timeoutMs: 330_000 });
  const log = await eventually(
    async () => {
      const out = (await flow.must(`kubectl -n ${NS.app} logs deployment/payments -c payments`, { quiet: true })).stdout;
      if (!/connected as v-/.test(out)) throw new Error(`app log: ${out}`);
      return out;
    },
    { timeoutMs: 60_000, intervalMs: 1000 },
  );
  const startedAs = /connected as (\S+)/.exec(log)![1]!;
  t.log(`sample applied -> pod running with its database user: ${((Date.now() - started) / 1000).toFixed(1)} s`);
  t.true((await pgUsers()).includes(startedAs), 'the user the app started with exists in PostgreSQL');
  // the file as it is now (the sidecar renders with a lease of its own): its password is read, never printed
  const rendered = (await flow.must(`kubectl -n ${NS.app} exec deployment/payments -c payments -- cat /vault/secrets/pg.env`, { quiet: true })).stdout;
  const user = /PGUSER="([^"]*)"/.exec(rendered)?.[1] ?? '';
  const password = /PGPASSWORD="([^"]*)"/.exec(rendered)?.[1] ?? '';
  flow.secrets.add(password);
  t.true((await pgUsers()).includes(user), 'the rendered user exists in PostgreSQL');
  const read = await pg!.psql('SELECT item FROM orders', { user, password });
  t.is(read.status, 0, read.stderr);
  t.is(read.stdout.trim(), 'tea');
  t.regex((await pg!.psql("INSERT INTO orders VALUES (2, 'x')", { user, password })).stderr, /permission denied/);
  // the pod reaches the database itself (busybox has no PostgreSQL client: a TCP connect to its port, closed at once)
  const nc = await flow.sh(`kubectl -n ${NS.app} exec deployment/payments -c payments -- sh -c 'nc -w 5 ${pg!.host} ${pg!.port} </dev/null; echo "rc=$?"'`, { quiet: true });
  t.regex(nc.stdout, /rc=0/, `pod -> ${pg!.host}:${pg!.port}: ${nc.stdout} ${nc.stderr}`);
  t.notRegex(nc.stderr, /can't connect|timed out/);

  // un-annotate: the role goes, its leases are revoked, the user is dropped
  const removed = Date.now();
  await flow.must(`kubectl -n ${NS.app} annotate serviceaccount payments vault.autopilot.dev/db-dynamic-creds- vault.autopilot.dev/db-creds-template- vault.autopilot.dev/db-creds-ttl-`);
  await eventually(
    async () => {
      const users = await pgUsers();
      if (users.includes(user) || users.includes(startedAs)) throw new Error('users still in pg_roles');
    },
    { timeoutMs: 120_000, intervalMs: 1000, message: 'the pod\'s database users are dropped' },
  );
  t.log(`un-annotate -> user dropped: ${((Date.now() - removed) / 1000).toFixed(1)} s`);
  t.not((await pg!.psql('SELECT 1', { user, password })).status, 0, 'the pod\'s credentials no longer connect');
  await flow.collectOperatorLogs();
  for (const value of [pg!.superuserPassword, password]) t.false(flow.operatorLogs.includes(value), 'no password in the operator logs');
});
