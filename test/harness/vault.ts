// HashiCorp Vault on loopback, plain HTTP.
//  - 'dev': in-memory, initialised and unsealed, root token chosen here. A
//    restart keeps address and root token but NOT the data (dev storage is memory).
//  - 'file': file storage, left uninitialised (for init/unseal tests); a
//    restart keeps the data and comes back sealed.
//  - 'raft': as 'file' with integrated (Raft) storage; `retryJoin` makes it
//    join a leader's cluster instead of being initialised (raftLeaderAddress tests).
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { httpRequest } from './http.js';
import { freePort } from './ports.js';
import { ManagedProcess } from './proc.js';
import { note, startAndWait, type Server } from './server.js';
import { binaryPath } from './versions.js';

export type VaultMode = 'dev' | 'file' | 'raft';

export interface VaultServerOptions {
  /** 'raft': leader_api_addr of each retry_join stanza. */
  retryJoin?: string[];
}

/** Pure: the server configuration of the 'file' mode (`pluginDir`: Vault's plugin_directory, for plugin catalog tests). */
export function fileModeConfig(dataDir: string, port: number, clusterPort: number, pluginDir?: string, raft?: VaultServerOptions): string {
  const storage = raft
    ? [
        `storage "raft" {`,
        `  path    = ${JSON.stringify(dataDir)}`,
        `  node_id = "node-${port}"`,
        ...(raft.retryJoin ?? []).flatMap((addr) => ['  retry_join {', `    leader_api_addr = ${JSON.stringify(addr)}`, '  }']),
        `}`,
      ]
    : [`storage "file" {`, `  path = ${JSON.stringify(dataDir)}`, `}`];
  return [
    ...(pluginDir ? [`plugin_directory = ${JSON.stringify(pluginDir)}`] : []),
    ...storage,
    `listener "tcp" {`,
    `  address         = "127.0.0.1:${port}"`,
    `  cluster_address = "127.0.0.1:${clusterPort}"`,
    `  tls_disable     = true`,
    `}`,
    `api_addr      = "http://127.0.0.1:${port}"`,
    `cluster_addr  = "https://127.0.0.1:${clusterPort}"`,
    `disable_mlock = true`,
    `ui            = false`,
    '',
  ].join('\n');
}

export class VaultServer implements Server {
  readonly name = 'vault';
  readonly version: string;
  readonly process: ManagedProcess;
  readonly address: string;
  /** '' in 'file' mode: whoever initialises it gets the token. */
  readonly rootToken: string;
  /** 'file' mode: Vault's plugin_directory (empty; a test puts plugin binaries there). */
  readonly pluginDir: string;

  private constructor(
    readonly binary: string,
    readonly mode: VaultMode,
    dir: string,
    port: number,
    extraConfig = '',
    options: VaultServerOptions = {},
  ) {
    this.address = `http://127.0.0.1:${port}`;
    this.pluginDir = join(dir, 'vault-plugins');
    this.version = /Vault (v[0-9][^\s,]*)/.exec(execFileSync(binary, ['version'], { encoding: 'utf8' }))?.[1] ?? 'unknown';
    const home = join(dir, 'vault-home');
    mkdirSync(home, { recursive: true });
    // HOME is private so nothing lands in the user's ~/.vault-token.
    const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home };
    let args: string[];
    if (mode === 'dev') {
      this.rootToken = `root-${randomBytes(12).toString('hex')}`;
      // The dev listener's cluster port is port + 1; freePort() checked it is free.
      args = ['server', '-dev', `-dev-root-token-id=${this.rootToken}`, `-dev-listen-address=127.0.0.1:${port}`, '-dev-no-store-token'];
    } else {
      this.rootToken = '';
      const dataDir = join(dir, 'vault-data');
      mkdirSync(dataDir, { recursive: true });
      const config = join(dir, 'vault.hcl');
      mkdirSync(this.pluginDir, { recursive: true });
      writeFileSync(config, fileModeConfig(dataDir, port, port + 1, this.pluginDir, mode === 'raft' ? options : undefined) + extraConfig);
      args = ['server', `-config=${config}`];
    }
    this.process = new ManagedProcess('vault', binary, args, { env, logFile: join(dir, `vault-${mode}.log`) });
  }

  /** `extraConfig`: HCL appended to the 'file' mode configuration (e.g. a `seal "transit"` stanza). */
  static async create(dir: string, mode: VaultMode, extraConfig?: string, options?: VaultServerOptions): Promise<VaultServer> {
    return new VaultServer(binaryPath('vault'), mode, dir, await freePort({ alsoFree: [1] }), extraConfig, options);
  }

  async start(): Promise<void> {
    const ms = await startAndWait(this, () => this.serving(), 60_000);
    note(`vault ${this.version} (${this.mode}) serving ${this.address} (ready in ${ms} ms)`);
  }

  async stop(): Promise<void> {
    await this.process.stop();
  }

  /** dev: ready when active and unsealed; file: as soon as the API answers (it answers 501 uninitialised, 503 sealed). */
  private async serving(): Promise<boolean> {
    const res = await httpRequest(`${this.address}/v1/sys/health`, { timeoutMs: 2000 });
    return this.mode === 'dev' ? res.status === 200 : res.status > 0;
  }
}
