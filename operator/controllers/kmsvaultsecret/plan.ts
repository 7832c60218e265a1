// Every decision of the KMSVaultSecret lifecycle, as pure functions over
// plain data: which keys make up the secret, whether their ciphertext is
// usable, whether the path is allowed, what a failure is called and says,
// what the status and events become. controller.ts does the I/O around them.
import {
  DeletionPolicy,
  KmsVaultSecretConditionType,
  KmsVaultSecretEventReason,
  KmsVaultSecretReason,
  NAMESPACE_CONTEXT_KEY,
  type EncryptionContext,
  type KMSVaultSecret,
  type KMSVaultSecretStatus,
  type PartialKMSVaultSecret,
  type SecretEntry,
} from '../../api/kmsvaultsecret.js';
import { getCondition, setCondition, toKubeTime } from '../../framework/index.js';
import { explainKmsFailure, KmsFailure } from '../../kms/decryptor.js';
import { locateInMount, logicalPath, type KvLocation, type KvMount } from '../../vault/kv.js';
import { PathPolicy } from './settings.js';

export interface Failure {
  reason: KmsVaultSecretReason;
  /** Says what to fix; names keys and paths, never a value. */
  message: string;
  /** A cause outside the object (Vault/KMS down): retry with backoff rather than wait for an edit. */
  transient: boolean;
  /** Waiting for something that comes by itself (a Vault becoming Ready): look again after this long. */
  retryAfterMs?: number;
}

export type Outcome<T> = { ok: true; value: T } | { ok: false; failure: Failure };

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

/** Pure: may ciphertext sealed without a namespace be used in this namespace (migration setting)? */
export function acceptsUnbound(namespace: string, legacyNamespaces: readonly string[]): boolean {
  return legacyNamespaces.includes('*') || legacyNamespaces.includes(namespace);
}

/**
 * Tenancy of ciphertext, before any KMS call: every key's encryption context
 * must name the object's namespace. KMS refuses a ciphertext under any other
 * context, so a blob copied from another namespace cannot be relabelled; the
 * only way to use it here is for its context to say it belongs elsewhere,
 * which is what this refuses. Keys with no namespace entry (sealed before the
 * binding) pass only in the legacy namespaces the operator lists.
 */
export function checkNamespaceBinding(keys: readonly PlannedKey[], namespace: string, legacyNamespaces: readonly string[]): Failure | undefined {
  const foreign: string[] = [];
  const unbound: string[] = [];
  for (const k of keys) {
    if (k.entry.emptySecret) continue;
    const bound = k.context?.[NAMESPACE_CONTEXT_KEY];
    if (bound === undefined) {
      if (!acceptsUnbound(namespace, legacyNamespaces)) unbound.push(`"${k.key}" (${k.source})`);
    } else if (bound !== namespace) foreign.push(`"${k.key}" (${k.source}) was sealed for namespace "${bound}"`);
  }
  if (!foreign.length && !unbound.length) return undefined;
  const parts: string[] = [];
  if (foreign.length) parts.push(`${foreign.join(', ')}, not "${namespace}": ciphertext is only used in the namespace it was sealed for`);
  if (unbound.length) {
    parts.push(
      `${unbound.join(', ')} ${unbound.length === 1 ? 'has' : 'have'} no ${NAMESPACE_CONTEXT_KEY} in the encryption context (sealed before namespace binding)`,
    );
  }
  return {
    reason: KmsVaultSecretReason.NamespaceMismatch,
    message: `${parts.join('; ')}; seal again with vault-autopilot seal --namespace ${namespace}`,
    transient: false,
  };
}

/** Tenancy: under the namespace policy an object in N may only write below `<mount>/N/`. */
export function checkTenancy(loc: KvLocation, namespace: string, policy: PathPolicy): Failure | undefined {
  if (policy === PathPolicy.Any) return undefined;
  if (loc.secretPath.startsWith(`${namespace}/`)) return undefined;
  return {
    reason: KmsVaultSecretReason.PathNotAllowed,
    message: `path "${logicalPath(loc)}" is outside ${loc.mount}/${namespace}/, the only place objects in namespace ${namespace} may write (operator path policy "${policy}")`,
    transient: false,
  };
}

/**
 * Tenancy before asking Vault anything: under the namespace policy the
 * namespace must be a segment of the path (after the first, before the last),
 * whatever the mount turns out to be. checkTenancy() decides exactly later.
 */
export function precheckTenancy(path: string, namespace: string, policy: PathPolicy): Failure | undefined {
  if (policy === PathPolicy.Any) return undefined;
  const segments = path.replace(/^\/+|\/+$/g, '').split('/');
  if (segments.slice(1, -1).includes(namespace)) return undefined;
  return {
    reason: KmsVaultSecretReason.PathNotAllowed,
    message: `path "${path}" is not under <mount>/${namespace}/, the only place objects in namespace ${namespace} may write (operator path policy "${policy}")`,
    transient: false,
  };
}

/** A pre-check that needs no Vault: a path with empty, "." or ".." segments can never be allowed. */
export function checkPathSyntax(path: string): Failure | undefined {
  const segments = path.replace(/^\/+|\/+$/g, '').split('/');
  if (segments.length >= 2 && !segments.some((s) => s === '' || s === '.' || s === '..')) return undefined;
  return {
    reason: KmsVaultSecretReason.PathNotAllowed,
    message: `path "${path}" must be <mount>/<secret path> without empty, "." or ".." segments`,
    transient: false,
  };
}

export interface KeyDecryptFailure {
  key: string;
  failure: KmsFailure;
  hasContext: boolean;
}

/** One failure for all keys KMS refused; unreachable KMS wins because it is what to fix first. */
export function summariseDecryptFailures(failures: readonly KeyDecryptFailure[]): Failure {
  if (failures.some((f) => f.failure === KmsFailure.NotConfigured)) {
    return { reason: KmsVaultSecretReason.KMSNotConfigured, message: `could not decrypt: ${explainKmsFailure(KmsFailure.NotConfigured, false)}`, transient: false };
  }
  const unreachable = failures.filter((f) => f.failure === KmsFailure.Unreachable);
  if (unreachable.length > 0) {
    return {
      reason: KmsVaultSecretReason.KMSUnreachable,
      message: `could not decrypt ${unreachable.map((f) => `"${f.key}"`).join(', ')}: ${explainKmsFailure(KmsFailure.Unreachable, false)}`,
      transient: true,
    };
  }
  return {
    reason: KmsVaultSecretReason.DecryptionFailed,
    message: failures.map((f) => `key "${f.key}": ${explainKmsFailure(f.failure, f.hasContext)}`).join('; '),
    transient: false,
  };
}

/** Anything not foreseen above (a Kubernetes API error, mostly): still a condition, retried with backoff. */
export function unexpectedFailure(err: unknown): Failure {
  const code = (err as { code?: unknown }).code;
  const text = err instanceof Error ? err.message : String(err);
  return {
    reason: KmsVaultSecretReason.SyncError,
    message: `${typeof code === 'number' ? `Kubernetes API error ${code}: ` : ''}${text.split('\n')[0]!.slice(0, 300)}; will retry`,
    transient: true,
  };
}

export type VaultPhase = 'detect' | 'read' | 'write' | 'delete';

/** Name a Vault error for the user; the error text comes from Vault and never carries our request body. */
export function vaultFailure(error: { unreachable: boolean; status?: number; message: string }, phase: VaultPhase, path: string): Failure {
  if (error.unreachable) {
    return { reason: KmsVaultSecretReason.VaultUnreachable, message: `Vault is unreachable (${error.message}); will retry`, transient: true };
  }
  const hint = error.status === 403 ? ' — check the operator\'s Vault policy allows it' : '';
  const verb = { detect: 'looking up the mount of', read: 'reading', write: 'writing', delete: 'deleting' }[phase];
  return {
    reason: phase === 'delete' ? KmsVaultSecretReason.VaultDeleteFailed : KmsVaultSecretReason.VaultWriteFailed,
    message: `${verb} "${path}" failed: ${error.message}${hint}`,
    transient: true,
  };
}

/** Why Vault was (re)written: for the event a person reads. */
export const WriteCause = { Created: 'created', Changed: 'changed', Drift: 'drift' } as const;
export type WriteCause = (typeof WriteCause)[keyof typeof WriteCause];

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

export function syncedStatus(obj: KMSVaultSecret, loc: KvLocation, keys: readonly string[], wrote: boolean, now: Date): KMSVaultSecretStatus {
  const prev = obj.status ?? {};
  const generation = obj.metadata?.generation;
  const firstSyncOfGeneration = prev.observedGeneration !== generation || !prev.lastSyncTime;
  const path = logicalPath(loc);
  return {
    ...prev,
    observedGeneration: generation,
    conditions: setCondition(
      prev.conditions,
      {
        type: KmsVaultSecretConditionType.Ready,
        status: 'True',
        reason: KmsVaultSecretReason.Synced,
        message: `${keys.length} key(s) in sync at ${path} (KV ${loc.version})`,
        observedGeneration: generation,
      },
      now,
    ),
    lastSyncTime: wrote || firstSyncOfGeneration ? toKubeTime(now) : prev.lastSyncTime,
    vaultPath: path,
    vaultMount: loc.mount,
    engineVersion: loc.version,
    keys: [...keys].sort(),
  };
}

export function failedStatus(obj: KMSVaultSecret, failure: Failure, now: Date): KMSVaultSecretStatus {
  const prev = obj.status ?? {};
  const generation = obj.metadata?.generation;
  return {
    ...prev,
    observedGeneration: generation,
    conditions: setCondition(
      prev.conditions,
      {
        type: KmsVaultSecretConditionType.Ready,
        status: 'False',
        reason: failure.reason,
        message: failure.message,
        observedGeneration: generation,
      },
      now,
    ),
  };
}

export interface PlannedEvent {
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
}

/** Events after a successful sync: what was written, and recovery from a failure. */
export function syncEvents(obj: KMSVaultSecret, loc: KvLocation, keyCount: number, cause: WriteCause | undefined): PlannedEvent[] {
  const events: PlannedEvent[] = [];
  const path = logicalPath(loc);
  if (cause) {
    const why = {
      [WriteCause.Created]: 'created',
      [WriteCause.Changed]: 'updated from the resource',
      [WriteCause.Drift]: 'restored: the value in Vault had been changed outside the operator',
    }[cause];
    events.push({ type: 'Normal', reason: KmsVaultSecretEventReason.SecretWritten, message: `${keyCount} key(s) at ${path} ${why}` });
  }
  const ready = getCondition(obj.status?.conditions, KmsVaultSecretConditionType.Ready);
  if (ready?.status === 'False') {
    events.push({ type: 'Normal', reason: KmsVaultSecretEventReason.Recovered, message: `in sync again at ${path} after ${ready.reason}` });
  }
  return events;
}

/** A Warning only when the failure is new or different, so a persisting failure does not flood events. */
export function failureEvents(obj: KMSVaultSecret, failure: Failure): PlannedEvent[] {
  const ready = getCondition(obj.status?.conditions, KmsVaultSecretConditionType.Ready);
  if (ready?.status === 'False' && ready.reason === failure.reason && ready.message === failure.message) return [];
  return [{ type: 'Warning', reason: failure.reason, message: failure.message }];
}
