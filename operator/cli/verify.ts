// `vault-autopilot verify FILE.yaml`: decrypt every key of every
// KMSVaultSecret / PartialKMSVaultSecret in a file (as the operator would,
// same context rules) and report OK/FAIL per key with the cause. Plaintext is
// dropped right after decryption and never printed.
import { parseArgs } from 'node:util';
import yaml from 'js-yaml';
import {
  NAMESPACE_CONTEXT_KEY,
  KMS_VAULT_SECRET_KIND,
  PARTIAL_KMS_VAULT_SECRET_KIND,
  type KMSVaultSecret,
  type PartialKMSVaultSecret,
} from '../api/kmsvaultsecret.js';
import { collectKeys, decodeBase64Strict, includeNames, type PlannedKey } from '../controllers/kmsvaultsecret/plan.js';
import { explainKmsFailure, KmsError, KmsFailure, type Decryptor } from '../kms/decryptor.js';
import { ExitCode, kmsOptionsFrom, UsageError, type CliIO } from './io.js';

export const VERIFY_USAGE = `Usage:
  vault-autopilot verify [options] FILE.yaml [FILE.yaml ...]

Decrypts every key of every KMSVaultSecret and PartialKMSVaultSecret in the
files (kms-vault-operator's k8s.patoarvizu.dev resources too) with AWS KMS and
prints OK or FAIL per key with the likely cause. Never prints a value.
Exits 1 if any key fails, 2 on a usage error.

Each key must be bound to the resource's namespace (metadata.namespace, or
--namespace for manifests without one): vault.autopilot.dev/namespace in its
encryption context, as \`seal --namespace\` writes it. A key bound elsewhere or
not at all FAILs, as the operator would refuse it (NamespaceMismatch).

Options:
  --namespace <ns>    the namespace manifests without metadata.namespace are applied to
  --key-id <id>       also fail keys encrypted with any other KMS key (id, ARN or alias)
  --region <region>   AWS region (default: VAULT_AUTOPILOT_KMS_REGION, AWS_REGION)
  --endpoint <url>    KMS endpoint (default: VAULT_AUTOPILOT_KMS_ENDPOINT, or AWS's)
  -h, --help          this text
`;

type Doc = KMSVaultSecret | PartialKMSVaultSecret;

export interface KeyCheck {
  resource: string;
  key: string;
  ok: boolean;
  detail: string;
}

function label(doc: Doc): string {
  const ns = doc.metadata?.namespace;
  return `${doc.kind}/${ns ? `${ns}/` : ''}${doc.metadata?.name ?? '(unnamed)'}`;
}

/** Pure: the keys to check per resource, with the operator's context rules, and problems found without KMS. */
export function planVerification(
  docs: readonly Doc[],
  defaultNamespace?: string,
): { keys: Array<PlannedKey & { resource: string; namespace?: string }>; problems: KeyCheck[]; notes: string[] } {
  const partials = new Map<string, PartialKMSVaultSecret>();
  for (const d of docs) if (d.kind === PARTIAL_KMS_VAULT_SECRET_KIND && d.metadata?.name) partials.set(d.metadata.name, d as PartialKMSVaultSecret);
  const included = new Set<string>();
  const keys: Array<PlannedKey & { resource: string; namespace?: string }> = [];
  const problems: KeyCheck[] = [];
  const notes: string[] = [];
  for (const doc of docs) {
    if (doc.kind !== KMS_VAULT_SECRET_KIND) continue;
    const obj = doc as KMSVaultSecret;
    const present = new Map<string, PartialKMSVaultSecret | undefined>();
    for (const name of includeNames(obj)) {
      const p = partials.get(name);
      if (p) {
        present.set(name, p);
        included.add(name);
      } else notes.push(`${label(obj)} includes PartialKMSVaultSecret "${name}", which is not in these files: not checked`);
    }
    // check what is here; a missing include is a note, not a failure of these keys
    const withoutMissing: KMSVaultSecret = { ...obj, spec: { ...obj.spec, includeSecrets: [...present.keys()] } };
    const collected = collectKeys(withoutMissing, present);
    if (!collected.ok) {
      problems.push({ resource: label(obj), key: '*', ok: false, detail: collected.failure.message });
      continue;
    }
    for (const k of collected.value) keys.push({ ...k, resource: label(obj), namespace: obj.metadata?.namespace ?? defaultNamespace });
  }
  // partials nobody here includes: check them with their own context only
  for (const [name, partial] of partials) {
    if (included.has(name)) continue;
    const asParent: KMSVaultSecret = {
      ...partial,
      spec: { path: '', kvSettings: { engineVersion: 'v2' }, secrets: partial.spec?.secrets, secretContext: partial.spec?.secretContext },
    };
    const collected = collectKeys(asParent, new Map());
    if (collected.ok) {
      for (const k of collected.value) keys.push({ ...k, source: label(partial), resource: label(partial), namespace: partial.metadata?.namespace ?? defaultNamespace });
    }
  }
  return { keys, problems, notes };
}

/** Pure: the operator's namespace-binding rule for one key, or undefined when it holds. */
export function bindingProblem(k: PlannedKey, namespace: string | undefined): string | undefined {
  if (k.entry.emptySecret) return undefined;
  const bound = k.context?.[NAMESPACE_CONTEXT_KEY];
  if (!namespace) return `no namespace to check the binding against: set metadata.namespace or pass --namespace`;
  if (bound === undefined) {
    return `sealed without ${NAMESPACE_CONTEXT_KEY} in the encryption context; the operator refuses it (NamespaceMismatch) unless it lists "${namespace}" in VAULT_AUTOPILOT_KMS_LEGACY_NAMESPACES; seal again with --namespace ${namespace}`;
  }
  if (bound !== namespace) return `sealed for namespace "${bound}", not "${namespace}": the operator refuses it (NamespaceMismatch)`;
  return undefined;
}

export async function checkKey(k: PlannedKey & { resource: string; namespace?: string }, kms: Decryptor): Promise<KeyCheck> {
  const base = { resource: k.resource, key: k.key };
  if (k.entry.emptySecret) return { ...base, ok: true, detail: 'emptySecret' };
  const binding = bindingProblem(k, k.namespace);
  if (binding) return { ...base, ok: false, detail: binding };
  const bytes = k.entry.encryptedSecret ? decodeBase64Strict(k.entry.encryptedSecret) : undefined;
  if (!bytes) return { ...base, ok: false, detail: 'encryptedSecret is missing or not valid base64' };
  try {
    const out = await kms.decrypt({ ciphertext: bytes, context: k.context });
    out.plaintext.fill(0);
    return { ...base, ok: true, detail: `key ${out.keyId}${k.context ? ', with encryption context' : ''}` };
  } catch (err) {
    if (err instanceof KmsError) return { ...base, ok: false, detail: `${err.code}: ${explainKmsFailure(err.failure, k.context !== undefined)}` };
    return { ...base, ok: false, detail: explainKmsFailure(KmsFailure.Other, false) };
  }
}

const KINDS = new Set<string>([KMS_VAULT_SECRET_KIND, PARTIAL_KMS_VAULT_SECRET_KIND]);

export function parseResources(text: string, file: string): Doc[] {
  let docs: unknown[];
  try {
    docs = yaml.loadAll(text);
  } catch (err) {
    throw new UsageError(`${file} is not valid YAML: ${(err as Error).message.split('\n')[0]}`);
  }
  const flat = docs.flatMap((d) => {
    const list = d as { kind?: string; items?: unknown[] } | null;
    return list?.kind?.endsWith('List') && Array.isArray(list.items) ? list.items : [d];
  });
  return flat.filter((d): d is Doc => typeof d === 'object' && d !== null && KINDS.has((d as Doc).kind ?? ''));
}

export async function runVerify(argv: string[], io: CliIO): Promise<number> {
  const { values: flags, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      'key-id': { type: 'string' },
      namespace: { type: 'string' },
      region: { type: 'string' },
      endpoint: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (flags.help) {
    io.stdout(VERIFY_USAGE);
    return ExitCode.Ok;
  }
  if (positionals.length === 0) throw new UsageError('name at least one YAML file');
  const docs: Doc[] = [];
  for (const file of positionals) {
    let text: string;
    try {
      text = file === '-' ? await io.readStdin() : io.readFile(file);
    } catch (err) {
      throw new UsageError(`cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
    }
    docs.push(...parseResources(text, file));
  }
  if (docs.length === 0) throw new UsageError('no KMSVaultSecret or PartialKMSVaultSecret in the input');

  const { keys, problems, notes } = planVerification(docs, flags.namespace);
  const kms = io.kms({ ...kmsOptionsFrom(flags, io.env), allowedKeyIds: flags['key-id'] ? [flags['key-id']] : [] });
  const results: KeyCheck[] = [...problems];
  try {
    for (const k of keys) results.push(await checkKey(k, kms));
  } finally {
    kms.destroy?.();
  }
  for (const r of results) io.stdout(`${r.ok ? 'OK  ' : 'FAIL'} ${r.resource} ${r.key}: ${r.detail}\n`);
  for (const n of notes) io.stdout(`NOTE ${n}\n`);
  const failed = results.filter((r) => !r.ok).length;
  io.stdout(`${results.length - failed} ok, ${failed} failed\n`);
  return failed > 0 ? ExitCode.Failed : ExitCode.Ok;
}
