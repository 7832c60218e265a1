// What a CLI command may touch, passed in so tests run commands in-process
// with a fake KMS and captured output.
import { readFileSync } from 'node:fs';
import { AwsKms, type AwsKmsOptions } from '../kms/aws-kms.js';
import type { Decryptor, Encryptor } from '../kms/decryptor.js';

export interface CliKms extends Encryptor, Decryptor {
  destroy?(): void;
}

export interface CliIO {
  stdout(text: string): void;
  stderr(text: string): void;
  env: Record<string, string | undefined>;
  readFile(path: string): string;
  readStdin(): Promise<string>;
  kms(options: AwsKmsOptions): CliKms;
}

/** Exit codes: 0 success, 1 a check or operation failed, 2 the command line was wrong. */
export const ExitCode = { Ok: 0, Failed: 1, Usage: 2 } as const;

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export function processIO(): CliIO {
  return {
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
    env: process.env,
    readFile: (path) => readFileSync(path, 'utf8'),
    readStdin: async () => {
      const chunks: Buffer[] = [];
      for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
      return Buffer.concat(chunks).toString('utf8');
    },
    kms: (options) => new AwsKms(options),
  };
}

/** KMS connection from flags, then VAULT_AUTOPILOT_KMS_*, then the AWS SDK's own variables. */
export function kmsOptionsFrom(flags: { region?: string; endpoint?: string }, env: CliIO['env']): AwsKmsOptions {
  const region = flags.region ?? env.VAULT_AUTOPILOT_KMS_REGION ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION;
  if (!region) throw new UsageError('no AWS region: pass --region or set AWS_REGION');
  const endpoint = flags.endpoint ?? env.VAULT_AUTOPILOT_KMS_ENDPOINT;
  return { region, endpoint: endpoint || undefined };
}

/** "k=v" pairs (from repeated --context flags) into a map; refuses malformed ones. */
export function parsePairs(pairs: readonly string[], flag: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new UsageError(`${flag} takes key=value, got "${pair}"`);
    out[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return out;
}
