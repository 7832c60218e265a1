// A real PostgreSQL for the dynamic-database-credentials tests: Debian's
// `postgresql` package, a fresh data directory (initdb) and a server on a free
// loopback port, TCP only, password (SCRAM) authentication. PostgreSQL refuses
// to run as root, so when the harness is root the server runs as the
// package's `postgres` user (or the user named by VAULT_AUTOPILOT_PG_USER).
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { appendFileSync, chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './ports.js';
import { ManagedProcess, registerTempDir, unregisterTempDir } from './proc.js';
import { note, startAndWait, type Server } from './server.js';

/** Where Debian puts the server binaries: /usr/lib/postgresql/<major>/bin (newest major wins). */
export function postgresBinDir(root = '/usr/lib/postgresql'): string {
  const majors = existsSync(root) ? readdirSync(root).filter((d) => /^\d+$/.test(d) && existsSync(join(root, d, 'bin', 'postgres'))) : [];
  if (!majors.length) {
    throw new Error(`no PostgreSQL server under ${root}: install Debian's package (apt-get install -y postgresql)`);
  }
  const newest = majors.sort((a, b) => Number(b) - Number(a))[0]!;
  return join(root, newest, 'bin');
}

/** uid/gid to run the server as: the current user unless root, then `postgres`. */
function serverUser(): { uid: number; gid: number; name: string } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const name = process.env.VAULT_AUTOPILOT_PG_USER ?? 'postgres';
  const uid = Number(execFileSync('id', ['-u', name], { encoding: 'utf8' }).trim());
  const gid = Number(execFileSync('id', ['-g', name], { encoding: 'utf8' }).trim());
  return { uid, gid, name };
}

export interface PsqlResult {
  status: number;
  stdout: string;
  stderr: string;
}

export interface PostgresOptions {
  /** Address to listen on (default 127.0.0.1); e.g. the local cluster's node IP so pods reach it. */
  host?: string;
  /** Client networks allowed to log in with a password besides loopback (CIDRs, e.g. the cluster's pod network). */
  allowNetworks?: string[];
}

export class PostgresServer implements Server {
  readonly name = 'postgres';
  version = '';
  readonly process: ManagedProcess;
  readonly host: string;
  /** The superuser (Vault's connection logs in as this one) and its password. */
  readonly superuser = 'vaultadmin';
  readonly superuserPassword = randomBytes(18).toString('base64url');
  readonly database = 'app';

  private constructor(
    readonly bin: string,
    readonly dir: string,
    readonly port: number,
    options: PostgresOptions,
  ) {
    this.host = options.host ?? '127.0.0.1';
    const user = serverUser();
    this.process = new ManagedProcess(
      'postgres',
      join(bin, 'postgres'),
      ['-D', join(dir, 'data'), '-p', String(port), '-c', `listen_addresses=${this.host}`, '-c', 'unix_socket_directories=', '-c', 'fsync=off'],
      { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LANG: 'C' }, cwd: dir, logFile: join(dir, 'postgres.log'), ...(user ? { uid: user.uid, gid: user.gid } : {}) },
    );
  }

  /** initdb into a new directory; `start()` runs the server. */
  static async create(options: PostgresOptions = {}): Promise<PostgresServer> {
    const bin = postgresBinDir();
    const dir = mkdtempSync(join(tmpdir(), 'vault-autopilot-pg-'));
    registerTempDir(dir);
    const user = serverUser();
    const server = new PostgresServer(bin, dir, await freePort(), options);
    // the server's user must be able to reach and own its directory
    chmodSync(dir, 0o755);
    if (user) chownSync(dir, user.uid, user.gid);
    const pwfile = join(dir, 'pwfile');
    writeFileSync(pwfile, `${server.superuserPassword}\n`, { mode: 0o600 });
    if (user) chownSync(pwfile, user.uid, user.gid);
    const init = spawnSync(join(bin, 'initdb'), ['-D', join(dir, 'data'), '-U', server.superuser, `--pwfile=${pwfile}`, '-A', 'scram-sha-256', '-E', 'UTF8', '--no-sync'], {
      encoding: 'utf8',
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LANG: 'C' },
      ...(user ? { uid: user.uid, gid: user.gid } : {}),
    });
    rmSync(pwfile, { force: true });
    if (init.status !== 0) throw new Error(`initdb failed (${init.status}):\n${init.stdout}\n${init.stderr}`);
    for (const cidr of options.allowNetworks ?? []) appendFileSync(join(dir, 'data', 'pg_hba.conf'), `host all all ${cidr} scram-sha-256\n`);
    mkdirSync(join(dir, 'run'), { recursive: true });
    return server;
  }

  /** `postgresql://user:password@127.0.0.1:port/db` (for psql; never logged). */
  url(user = this.superuser, password = this.superuserPassword, database = this.database): string {
    return `postgresql://${encodeURIComponent(user)}:${encodeURIComponent(password)}@${this.host}:${this.port}/${database}`;
  }

  /** The connection_url Vault's postgresql plugin expects (it fills in the templated credentials). */
  vaultConnectionUrl(): string {
    return `postgresql://{{username}}:{{password}}@${this.host}:${this.port}/${this.database}?sslmode=disable`;
  }

  async start(): Promise<void> {
    const ms = await startAndWait(this, () => this.serving(), 30_000);
    if (!this.version) {
      this.version = (await this.psql('SHOW server_version', { database: 'postgres' })).stdout.trim();
      const created = await this.psql(`CREATE DATABASE ${this.database}`, { database: 'postgres' });
      if (created.status !== 0) throw new Error(`CREATE DATABASE: ${created.stderr}`);
    }
    note(`postgres ${this.version} serving ${this.host}:${this.port} (ready in ${ms} ms)`);
  }

  async stop(): Promise<void> {
    // SIGINT: PostgreSQL's "fast" shutdown
    await this.process.stop('SIGINT');
    await this.process.closeLog();
  }

  /** Stops the server and removes its directory. */
  async destroy(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
    unregisterTempDir(this.dir);
  }

  /** Runs SQL with psql (-At: unaligned, tuples only) as `user` (default the superuser). */
  psql(sql: string, opts: { user?: string; password?: string; database?: string } = {}): Promise<PsqlResult> {
    const url = this.url(opts.user ?? this.superuser, opts.password ?? this.superuserPassword, opts.database ?? this.database);
    const res = spawnSync(join(this.bin, 'psql'), [url, '-v', 'ON_ERROR_STOP=1', '-At', '-c', sql], {
      encoding: 'utf8',
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LANG: 'C', PGCONNECT_TIMEOUT: '5' },
      timeout: 30_000,
    });
    return Promise.resolve({ status: res.status ?? -1, stdout: res.stdout ?? '', stderr: res.stderr ?? '' });
  }

  private async serving(): Promise<boolean> {
    return (await this.psql('SELECT 1', { database: 'postgres' })).stdout.trim() === '1';
  }
}
