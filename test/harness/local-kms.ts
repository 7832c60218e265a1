// local-kms (an AWS KMS API implementation) with two symmetric keys and
// aliases generated for this run. It listens on all interfaces; clients use
// http://127.0.0.1:PORT with any credentials and the region below.
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { httpRequest } from './http.js';
import { freePort } from './ports.js';
import { ManagedProcess } from './proc.js';
import { note, startAndWait, type Server } from './server.js';
import { binaryPath, pinnedVersions } from './versions.js';

export const KMS_REGION = 'us-east-1';
export const KMS_ACCOUNT_ID = '111122223333';

export interface SeedKey {
  keyId: string;
  alias: string;
  /** 256-bit AES key, hex. */
  backingKey: string;
}

export function newSeedKey(alias: string): SeedKey {
  return { keyId: randomUUID(), alias, backingKey: randomBytes(32).toString('hex') };
}

/** Pure: local-kms's seed file (YAML) for symmetric keys and their aliases. */
export function seedYaml(keys: readonly SeedKey[]): string {
  const lines = ['Keys:', '  Symmetric:', '    Aes:'];
  for (const key of keys) {
    lines.push('      - Metadata:', `          KeyId: ${key.keyId}`, '        BackingKeys:', `          - ${key.backingKey}`);
  }
  lines.push('Aliases:');
  for (const key of keys) lines.push(`  - AliasName: ${key.alias}`, `    TargetKeyId: ${key.keyId}`);
  return `${lines.join('\n')}\n`;
}

export class LocalKmsServer implements Server {
  readonly name = 'local-kms';
  readonly version: string;
  readonly process: ManagedProcess;
  readonly endpoint: string;
  readonly region = KMS_REGION;
  readonly key: SeedKey;
  readonly otherKey: SeedKey;

  private constructor(binary: string, version: string, dir: string, port: number) {
    this.version = version;
    this.endpoint = `http://127.0.0.1:${port}`;
    const suffix = randomBytes(3).toString('hex');
    this.key = newSeedKey(`alias/vault-autopilot-test-${suffix}`);
    this.otherKey = newSeedKey(`alias/vault-autopilot-other-${suffix}`);
    const seed = join(dir, 'kms-seed.yaml');
    writeFileSync(seed, seedYaml([this.key, this.otherKey]), { mode: 0o600 });
    const data = join(dir, 'kms-data');
    mkdirSync(data, { recursive: true });
    this.process = new ManagedProcess('local-kms', binary, [], {
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        PORT: String(port),
        KMS_REGION,
        KMS_ACCOUNT_ID,
        KMS_SEED_PATH: seed,
        KMS_DATA_PATH: data,
      },
      logFile: join(dir, 'local-kms.log'),
    });
  }

  static async create(dir: string): Promise<LocalKmsServer> {
    const version = pinnedVersions()['local-kms'];
    return new LocalKmsServer(binaryPath('local-kms'), version, dir, await freePort());
  }

  async start(): Promise<void> {
    const ms = await startAndWait(this, () => this.serving(), 30_000);
    note(`local-kms ${this.version} serving ${this.endpoint}, region ${this.region}, key ${this.key.alias} (ready in ${ms} ms)`);
  }

  async stop(): Promise<void> {
    await this.process.stop();
  }

  private async serving(): Promise<boolean> {
    const res = await httpRequest(`${this.endpoint}/`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'TrentService.ListAliases' },
      body: '{}',
      timeoutMs: 2000,
    });
    return res.status === 200 && res.body.includes(this.key.alias);
  }
}
