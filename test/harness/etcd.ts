// etcd on loopback, one member, fsync off (test data only).
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { httpRequest } from './http.js';
import { freePort } from './ports.js';
import { ManagedProcess } from './proc.js';
import { note, startAndWait, type Server } from './server.js';
import { binaryPath } from './versions.js';

export class EtcdServer implements Server {
  readonly name = 'etcd';
  readonly version: string;
  readonly process: ManagedProcess;
  readonly url: string;

  private constructor(binary: string, dir: string, clientPort: number, peerPort: number) {
    this.url = `http://127.0.0.1:${clientPort}`;
    const peerUrl = `http://127.0.0.1:${peerPort}`;
    this.version = /etcd Version:\s*(\S+)/.exec(execFileSync(binary, ['--version'], { encoding: 'utf8' }))?.[1] ?? 'unknown';
    mkdirSync(join(dir, 'etcd'), { recursive: true });
    this.process = new ManagedProcess(
      'etcd',
      binary,
      [
        `--name=default`,
        `--data-dir=${join(dir, 'etcd')}`,
        `--listen-client-urls=${this.url}`,
        `--advertise-client-urls=${this.url}`,
        `--listen-peer-urls=${peerUrl}`,
        `--initial-advertise-peer-urls=${peerUrl}`,
        `--initial-cluster=default=${peerUrl}`,
        '--unsafe-no-fsync=true',
        '--log-level=warn',
      ],
      { logFile: join(dir, 'etcd.log') },
    );
  }

  static async create(dir: string): Promise<EtcdServer> {
    return new EtcdServer(binaryPath('etcd'), dir, await freePort(), await freePort());
  }

  async start(): Promise<void> {
    const ms = await startAndWait(this, () => this.healthy(), 30_000);
    note(`etcd ${this.version} serving ${this.url} (ready in ${ms} ms)`);
  }

  async stop(): Promise<void> {
    await this.process.stop();
  }

  private async healthy(): Promise<boolean> {
    const res = await httpRequest(`${this.url}/health`, { timeoutMs: 2000 });
    return res.status === 200 && /"health":\s*"true"/.test(res.body);
  }
}
