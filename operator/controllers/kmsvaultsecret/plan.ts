// Every decision of the KMSVaultSecret lifecycle, as pure functions over
// plain data: which keys make up the secret, whether their ciphertext is
// usable, whether the path is allowed, what a failure is called and says,
// what the status and events become. controller.ts does the I/O around them.// The parts live in failure.ts, tenancy.ts and report.ts (re-exported here).
import {
  DeletionPolicy,
  KmsVaultSecretConditionType,
  KmsVaultSecretReason,
  type EncryptionContext,
  type KMSVaultSecret,
  type PartialKMSVaultSecret,
  type SecretEntry,
} from '../../api/kmsvaultsecret.js';
import { getCondition } from '../../framework/index.js';
import { locateInMount, logicalPath, type KvLocation, type KvMount } from '../../vault/kv.js';
import type { Outcome } from './failure.js';
import { WriteCause } from './report.js';

export * from './failure.js';
export * from './report.js';
export * from './tenancy.js';

const ok = <T>(value: T): Outcome<T> => ({ ok: true, value });
const fail = (reason: KmsVaultSecretReason, message: string, transient = false): Outcome<never> => ({
  ok: false,
  failure: { reason, message, transient },
});

/** One key of the Vault secret, with where it was defined and the context to decrypt it with. */
export interface PlannedKey {
  key: string;
  /** "spec.secrets" or "PartialKMSVaultSecret/<name>" — for messages. */
  source: string;
  entry: SecretEntry;
  context: EncryptionContext | undefined;
}

export interface DecodedKey {
  key: string;
  /** undefined for `emptySecret: true`. */
  ciphertext: Uint8Array | undefined;
  context: EncryptionContext | undefined;
}

const SPEC_SOURCE = 'spec.secrets';

function nonEmpty(context: EncryptionContext | undefined): EncryptionContext | undefined {
  return context && Object.keys(context).length > 0 ? context : undefined;
}

/** The include names in order, without repeats. */
export function includeNames(obj: KMSVaultSecret): string[] {
  return [...new Set(obj.spec.includeSecrets ?? [])];
}

/**
 * Merge the object's own keys with those of its included partials.
 * Context precedence: the key's own, then the defining resource's, then
 * (for a partial) the including object's.
 */
export function collectKeys(
  obj: KMSVaultSecret,
  partials: ReadonlyMap<string, PartialKMSVaultSecret | undefined>,
): Outcome<PlannedKey[]> {
  const names = includeNames(obj);
  const missing = names.filter((n) => !partials.get(n));
  if (missing.length > 0) {
    const ns = obj.metadata?.namespace ?? '';
    return fail(
      KmsVaultSecretReason.IncludeNotFound,
      `includeSecrets names ${missing.map((n) => `PartialKMSVaultSecret "${n}"`).join(', ')} which ${missing.length === 1 ? 'does' : 'do'} not exist in namespace ${ns}`,
    );
  }
  const parentContext = nonEmpty(obj.spec.secretContext);
  const planned: PlannedKey[] = (obj.spec.secrets ?? []).map((entry) => ({
    key: entry.key,
    source: SPEC_SOURCE,
    entry,
    context: nonEmpty(entry.secretContext) ?? parentContext,
  }));
  for (const name of names) {
    const partial = partials.get(name) as PartialKMSVaultSecret;
    const partialContext = nonEmpty(partial.spec?.secretContext) ?? parentContext;
    for (const entry of partial.spec?.secrets ?? []) {
      planned.push({
        key: entry.key,
        source: `PartialKMSVaultSecret/${name}`,
        entry,
        context: nonEmpty(entry.secretContext) ?? partialContext,
      });
    }
  }
  const sources = new Map<string, string[]>();
  for (const p of planned) sources.set(p.key, [...(sources.get(p.key) ?? []), p.source]);
  const duplicates = [...sources].filter(([, where]) => where.length > 1);
  if (duplicates.length > 0) {
    return fail(
      KmsVaultSecretReason.DuplicateKey,
      duplicates.map(([key, where]) => `key "${key}" is defined in ${where.join(' and ')}`).join('; ') + '; each key may be defined once',
    );
  }
  return ok(planned);
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Strict standard base64 (line breaks and spaces allowed, as wrapped CLI output has them). */
export function decodeBase64Strict(text: string): Uint8Array | undefined {
  const compact = text.replace(/\s+/g, '');
  if (compact.length === 0 || !BASE64.test(compact)) return undefined;
  return new Uint8Array(Buffer.from(compact, 'base64'));
}

/** base64-decode every ciphertext; all bad keys are reported at once. */
export function decodeKeys(keys: readonly PlannedKey[]): Outcome<DecodedKey[]> {
  const problems: string[] = [];
  const decoded: DecodedKey[] = [];
  for (const k of keys) {
    if (k.entry.emptySecret) {
      decoded.push({ key: k.key, ciphertext: undefined, context: k.context });
      continue;
    }
    if (!k.entry.encryptedSecret) {
      problems.push(`key "${k.key}" (${k.source}) has no encryptedSecret; set emptySecret: true for an empty value`);
      continue;
    }
    const bytes = decodeBase64Strict(k.entry.encryptedSecret);
    if (!bytes) {
      problems.push(`key "${k.key}" (${k.source}): encryptedSecret is not valid base64 (expected the base64 of a KMS ciphertext blob)`);
      continue;
    }
    decoded.push({ key: k.key, ciphertext: bytes, context: k.context });
  }
  if (problems.length > 0) return fail(KmsVaultSecretReason.DecodingFailed, problems.join('; '));
  return ok(decoded);
}

/**
 * Turn what Vault says about the mount into the secret's location, refusing
 * a path outside KV or an engine version that differs from the spec.
 */
export function resolveLocation(obj: KMSVaultSecret, mount: KvMount | undefined): Outcome<KvLocation> {
  const path = obj.spec.path;
  const wanted = obj.spec.kvSettings.engineVersion;
  if (!mount) {
    return fail(
      KmsVaultSecretReason.MountMismatch,
      `no secrets engine serves path "${path}" (or the operator's Vault token may not see it); enable a KV ${wanted} engine on its first segment`,
    );
  }
  if (!mount.version) {
    return fail(KmsVaultSecretReason.MountMismatch, `path "${path}" is in a "${mount.type}" engine mounted at ${mount.path}/, not a KV engine`);
  }
  if (mount.version !== wanted) {
    return fail(
      KmsVaultSecretReason.MountMismatch,
      `${mount.path}/ is a KV ${mount.version} mount but kvSettings.engineVersion is ${wanted}; set engineVersion: ${mount.version}`,
    );
  }
  const loc = locateInMount(path, mount.path, mount.version);
  if (!loc) return fail(KmsVaultSecretReason.MountMismatch, `path "${path}" names the mount ${mount.path}/ itself, not a secret inside it`);
  return ok(loc);
}
/**
 * Decide the write: none when Vault already matches; otherwise say why.
 * "Changed" = the object changed since the last sync; "Drift" = someone
 * changed Vault behind the operator's back.
 */
export function writeCause(obj: KMSVaultSecret, vaultHasSecret: boolean, matches: boolean, loc: KvLocation): WriteCause | undefined {
  if (matches) return undefined;
  if (!vaultHasSecret) return WriteCause.Created;
  const status = obj.status;
  const sameGeneration = status?.observedGeneration === obj.metadata?.generation;
  const samePath = status?.vaultPath === logicalPath(loc);
  const wasReady = getCondition(status?.conditions, KmsVaultSecretConditionType.Ready)?.status === 'True';
  return sameGeneration && samePath && wasReady ? WriteCause.Drift : WriteCause.Changed;
}

/** The previous location to clean up when the path moved and the policy is Delete. */
export function staleLocation(obj: KMSVaultSecret, current: KvLocation): { path: string; mount: string; version: KvLocation['version'] } | undefined {
  const s = obj.status;
  if (!s?.vaultPath || !s.vaultMount || !s.engineVersion) return undefined;
  if ((obj.spec.deletionPolicy ?? DeletionPolicy.Delete) !== DeletionPolicy.Delete) return undefined;
  if (s.vaultPath === logicalPath(current) && s.vaultMount === current.mount && s.engineVersion === current.version) return undefined;
  return { path: s.vaultPath, mount: s.vaultMount, version: s.engineVersion };
}
