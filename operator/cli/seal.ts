// `vault-autopilot seal`: encrypt values with AWS KMS and print a ready
// KMSVaultSecret (or PartialKMSVaultSecret) manifest. Values are read from
// arguments, a file or stdin and never printed.
import { parseArgs } from 'node:util';
import yaml from 'js-yaml';
import {
  API_GROUP,
  API_VERSION,
  NAMESPACE_CONTEXT_KEY,
  KMS_VAULT_SECRET_KIND,
  PARTIAL_KMS_VAULT_SECRET_KIND,
  type EngineVersion,
  type KMSVaultSecret,
  type PartialKMSVaultSecret,
} from '../api/kmsvaultsecret.js';
import { KmsError, explainKmsFailure } from '../kms/decryptor.js';
import { checkUniqueKeys, parseAssignments, parseEnvFile, type KeyValue } from './env-file.js';
import { ExitCode, kmsOptionsFrom, parsePairs, UsageError, type CliIO } from './io.js';

export const SEAL_USAGE = `Usage:
  vault-autopilot seal --key-id <id|arn|alias> --path <mount/namespace/name> --namespace <ns> [options] KEY=VALUE ...
  vault-autopilot seal --key-id <id|arn|alias> --path <...> --namespace <ns> [options] --from-env-file <file|->

Encrypts each value with AWS KMS and prints a KMSVaultSecret manifest to stdout.
Values are never printed. Prefer --from-env-file (or "-" for stdin) over
KEY=VALUE arguments, which a shell may keep in its history. The ciphertext is
bound to --namespace (vault.autopilot.dev/namespace in the encryption
context): the operator uses it for objects in that namespace only.

Options:
  --key-id <id>          KMS key id, key ARN, alias name (alias/x) or alias ARN (required)
  --path <path>          Vault path, e.g. secret/<namespace>/<name> (required unless --partial)
  --engine v1|v2         KV engine version of the mount (default v2)
  --name <name>          metadata.name (default: the last segment of --path)
  --namespace <ns>       metadata.namespace, and the namespace the ciphertext is bound to (required)
  --context k=v          more encryption context, repeatable; written to spec.secretContext
  --deletion-policy <p>  Delete (default) or Retain
  --partial              print a PartialKMSVaultSecret (no --path) for includeSecrets
  --from-env-file <f>    read KEY=VALUE lines from a file, or from stdin with "-"
  --region <region>      AWS region (default: VAULT_AUTOPILOT_KMS_REGION, AWS_REGION)
  --endpoint <url>       KMS endpoint (default: VAULT_AUTOPILOT_KMS_ENDPOINT, or AWS's)
  -h, --help             this text
`;

export interface SealOptions {
  keyId: string;
  kind: typeof KMS_VAULT_SECRET_KIND | typeof PARTIAL_KMS_VAULT_SECRET_KIND;
  name: string;
  namespace?: string;
  path?: string;
  engine: EngineVersion;
  context: Record<string, string>;
  deletionPolicy?: 'Delete' | 'Retain';
}

const NAME = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;

/** A Kubernetes name from a path's last segment ("secret/team-a/My_App" -> "my-app"). Pure. */
export function nameFromPath(path: string): string {
  const last = path.replace(/\/+$/, '').split('/').pop() ?? '';
  return last.toLowerCase().replace(/[^a-z0-9.-]+/g, '-').replace(/^[-.]+|[-.]+$/g, '').slice(0, 253);
}

/** The encryption context `seal` uses: the caller's entries plus the namespace binding. Pure. */
export function boundContext(namespace: string, context: Record<string, string> = {}): Record<string, string> {
  return { ...context, [NAMESPACE_CONTEXT_KEY]: namespace };
}

/** The manifest for already-encrypted keys. Pure. */
export function sealedManifest(options: SealOptions, keys: ReadonlyArray<{ key: string; encryptedSecret: string }>): KMSVaultSecret | PartialKMSVaultSecret {
  const metadata: { name: string; namespace?: string } = { name: options.name };
  if (options.namespace) metadata.namespace = options.namespace;
  const secrets = keys.map((k) => ({ key: k.key, encryptedSecret: k.encryptedSecret }));
  const context = Object.keys(options.context).length > 0 ? { secretContext: options.context } : {};
  const apiVersion = `${API_GROUP}/${API_VERSION}`;
  if (options.kind === PARTIAL_KMS_VAULT_SECRET_KIND) {
    return { apiVersion, kind: options.kind, metadata, spec: { ...context, secrets } };
  }
  return {
    apiVersion,
    kind: options.kind,
    metadata,
    spec: {
      path: options.path ?? '',
      kvSettings: { engineVersion: options.engine },
      ...context,
      ...(options.deletionPolicy ? { deletionPolicy: options.deletionPolicy } : {}),
      secrets,
    },
  };
}

export async function runSeal(argv: string[], io: CliIO): Promise<number> {
  const { values: flags, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      'key-id': { type: 'string' },
      path: { type: 'string' },
      engine: { type: 'string' },
      name: { type: 'string' },
      namespace: { type: 'string' },
      context: { type: 'string', multiple: true },
      'deletion-policy': { type: 'string' },
      partial: { type: 'boolean' },
      'from-env-file': { type: 'string' },
      region: { type: 'string' },
      endpoint: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (flags.help) {
    io.stdout(SEAL_USAGE);
    return ExitCode.Ok;
  }
  const keyId = flags['key-id'];
  if (!keyId) throw new UsageError('--key-id is required');
  const partial = flags.partial ?? false;
  const path = flags.path;
  if (!partial && !path) throw new UsageError('--path is required (or --partial for a PartialKMSVaultSecret)');
  if (partial && path) throw new UsageError('--path does not apply to --partial');
  const engine = (flags.engine ?? 'v2') as EngineVersion;
  if (engine !== 'v1' && engine !== 'v2') throw new UsageError('--engine must be v1 or v2');
  const deletionPolicy = flags['deletion-policy'];
  if (deletionPolicy !== undefined && deletionPolicy !== 'Delete' && deletionPolicy !== 'Retain') {
    throw new UsageError('--deletion-policy must be Delete or Retain');
  }
  const name = flags.name ?? (path ? nameFromPath(path) : '');
  if (!name) throw new UsageError('--name is required');
  if (!NAME.test(name)) throw new UsageError(`--name "${name}" is not a valid Kubernetes name`);
  const namespace = flags.namespace;
  if (!namespace) {
    throw new UsageError('--namespace is required: the ciphertext is bound to it (vault.autopilot.dev/namespace in the KMS encryption context) and is used in that namespace only');
  }
  if (!NAME.test(namespace)) throw new UsageError(`--namespace "${namespace}" is not a valid namespace`);
  const extraContext = parsePairs(flags.context ?? [], '--context');
  if (NAMESPACE_CONTEXT_KEY in extraContext) throw new UsageError(`--context ${NAMESPACE_CONTEXT_KEY} is set from --namespace; leave it out`);

  let values: KeyValue[];
  const envFile = flags['from-env-file'];
  if (envFile !== undefined) {
    if (positionals.length > 0) throw new UsageError('give values either as KEY=VALUE arguments or with --from-env-file, not both');
    const text = envFile === '-' ? await io.readStdin() : readOrUsage(io, envFile);
    values = parseEnvFile(text);
  } else {
    values = parseAssignments(positionals);
  }
  if (values.length === 0) throw new UsageError('no values to seal: pass KEY=VALUE arguments or --from-env-file');
  checkUniqueKeys(values);

  const options: SealOptions = {
    keyId,
    kind: partial ? PARTIAL_KMS_VAULT_SECRET_KIND : KMS_VAULT_SECRET_KIND,
    name,
    namespace,
    path,
    engine,
    context: boundContext(namespace, extraContext),
    deletionPolicy,
  };
  const kms = io.kms(kmsOptionsFrom(flags, io.env));
  try {
    const sealed: Array<{ key: string; encryptedSecret: string }> = [];
    let usedKey = keyId;
    for (const { key, value } of values) {
      try {
        const out = await kms.encrypt({ keyId, plaintext: Buffer.from(value, 'utf8'), context: options.context });
        usedKey = out.keyId;
        sealed.push({ key, encryptedSecret: Buffer.from(out.ciphertext).toString('base64') });
      } catch (err) {
        const reason = err instanceof KmsError ? `${err.code}: ${explainKmsFailure(err.failure, false)}` : (err as Error).message;
        io.stderr(`seal: encrypting ${key} with ${keyId} failed (${reason})\n`);
        return ExitCode.Failed;
      }
    }
    const header = `# Sealed by vault-autopilot with KMS key ${usedKey}. Safe to commit; only holders of kms:Decrypt on the key can read it.\n`;
    io.stdout(header + yaml.dump(sealedManifest(options, sealed), { lineWidth: -1, noRefs: true }));
    return ExitCode.Ok;
  } finally {
    kms.destroy?.();
  }
}

function readOrUsage(io: CliIO, path: string): string {
  try {
    return io.readFile(path);
  } catch (err) {
    throw new UsageError(`cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
}
