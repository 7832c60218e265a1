// JSON-lines logging with ONE redaction point: the `redact` format below is the
// last step before a line is serialised, so nothing logged through a Logger made
// here can carry a value wrapped in `secret()`, registered with `markSecret()`
// (the operator's own secrets, everywhere) or with `setScopedSecrets()` (one
// object's plaintext, in the lines and Events about that object).
import { inspect } from 'node:util';
import winston from 'winston';

export type Logger = winston.Logger;

export const REDACTED = '[REDACTED]';


/**
 * A value that must never be printed. Every way of turning it into text
 * yields "[REDACTED]". Registered for redaction in log lines: everywhere (the
 * operator's own secret), or with `scope` only in the lines and Events about
 * that object (a value a tenant could have chosen; see markSecret).
 */
export class Secret {
  readonly #value: string;
  constructor(value: string, scope?: string) {
    this.#value = value;
    markSecret(value, scope);
  }
  reveal(): string {
    return this.#value;
  }
  toString(): string {
    return REDACTED;
  }
  toJSON(): string {
    return REDACTED;
  }
  [inspect.custom](): string {
    return REDACTED;
  }
}

export function secret(value: string, scope?: string): Secret {
  return new Secret(value, scope);
}

/**
 * Values shorter than this are never redacted: they cannot be secrets worth
 * the name, and a tenant who seals `"` or `vault` must not blank or mangle
 * every later log line.
 */
export const MIN_SECRET_LENGTH = 8;
/** The operator's own secrets (keys, tokens) kept at most; the oldest go first. */
export const MAX_GLOBAL_SECRETS = 4096;
/** Characters of object-scoped secrets kept in all; the least recently set objects go first. */
export const MAX_SCOPED_CHARS = 16 * 1024 * 1024;
/** Values one object may register (a KMSVaultSecret has at most 512 keys, plus its partials'). */
export const MAX_SECRETS_PER_SCOPE = 2048;

const globalValues = new Set<string>();
/** scope ("Kind/namespace/name") -> values; Map order = least recently set first. */
const scopedValues = new Map<string, Set<string>>();
let scopedChars = 0;

function worthRedacting(value: unknown): value is string {
  return typeof value === 'string' && value.length >= MIN_SECRET_LENGTH;
}

/** The scope of one object's values: what its log lines (controller, namespace, name) and Events name. */
export function objectScope(kind: string, namespace: string | undefined, name: string | undefined): string {
  return `${kind}/${namespace ?? ''}/${name ?? ''}`;
}

/**
 * The operator's own secret (a TLS key it generated): redacted in every later
 * log line and Event. Bounded: the oldest beyond MAX_GLOBAL_SECRETS are
 * forgotten. With `scope` (objectScope of the object it came through) the
 * value is that object's only: anything a tenant could have chosen (a Secret
 * they can write, an answer of a Vault they run) must take this form, or a
 * tenant who picks `namespace` or `controller` mangles every later line.
 */
export function markSecret(value: string, scope?: string): void {
  if (scope !== undefined) {
    addScopedSecret(scope, value);
    return;
  }
  if (!worthRedacting(value) || globalValues.has(value)) return;
  globalValues.add(value);
  if (globalValues.size > MAX_GLOBAL_SECRETS) globalValues.delete(globalValues.values().next().value as string);
}

function scopeSize(values: Set<string>): number {
  let n = 0;
  for (const v of values) n += v.length;
  return n;
}

/**
 * The secrets of one object (plaintext a tenant chose): replaces what the
 * object had registered, and is redacted only in log lines and Events about
 * that object — a tenant's value cannot touch anyone else's lines.
 */
export function setScopedSecrets(scope: string, values: Iterable<string>): void {
  dropScopedSecrets(scope);
  const kept = new Set<string>();
  for (const v of values) {
    if (!worthRedacting(v)) continue;
    if (kept.size >= MAX_SECRETS_PER_SCOPE) break;
    kept.add(v);
  }
  if (kept.size === 0) return;
  scopedValues.set(scope, kept);
  scopedChars += scopeSize(kept);
  evictScopes(scope);
}

/**
 * Adds one value to an object's secrets (kept with the ones already set; past
 * MAX_SECRETS_PER_SCOPE that object's oldest value goes, so its current ones
 * are always redacted). The object becomes the most recently set.
 */
export function addScopedSecret(scope: string, value: string): void {
  if (!worthRedacting(value)) return;
  const values = scopedValues.get(scope) ?? new Set<string>();
  scopedValues.delete(scope);
  if (values.has(value)) values.delete(value);
  else scopedChars += value.length;
  values.add(value);
  if (values.size > MAX_SECRETS_PER_SCOPE) {
    const oldest = values.values().next().value as string;
    values.delete(oldest);
    scopedChars -= oldest.length;
  }
  scopedValues.set(scope, values);
  evictScopes(scope);
}

/** Forgets the least recently set objects until the total fits (never `keep`). */
function evictScopes(keep: string): void {
  for (const [oldest, values] of scopedValues) {
    if (scopedChars <= MAX_SCOPED_CHARS || oldest === keep) break;
    scopedValues.delete(oldest);
    scopedChars -= scopeSize(values);
  }
}

/** The object is gone: forget its values. */
export function dropScopedSecrets(scope: string): void {
  const had = scopedValues.get(scope);
  if (!had) return;
  scopedValues.delete(scope);
  scopedChars -= scopeSize(had);
}

/** Test helper: forget every marked value. */
export function clearMarkedSecrets(): void {
  globalValues.clear();
  scopedValues.clear();
  scopedChars = 0;
}

/** How many values are registered (global, and per scope in all): for tests and bounds checks. */
export function markedSecretCounts(): { global: number; scopes: number; scopedChars: number } {
  return { global: globalValues.size, scopes: scopedValues.size, scopedChars };
}

/** Replaces every marked value (the operator's, and `scope`'s) in `text`; longer values first. */
export function redactText(text: string, scope?: string): string {
  if (text.length < MIN_SECRET_LENGTH) return text;
  const candidates: string[] = [];
  for (const v of globalValues) if (text.includes(v)) candidates.push(v);
  const own = scope === undefined ? undefined : scopedValues.get(scope);
  if (own) for (const v of own) if (text.includes(v)) candidates.push(v);
  if (candidates.length === 0) return text;
  // longest first, so a secret containing another secret is replaced whole
  candidates.sort((a, b) => b.length - a.length);
  let out = text;
  for (const v of candidates) out = out.split(v).join(REDACTED);
  return out;
}

/**
 * Redaction on the structured line, before it is serialised: every string
 * (keys too) is redacted where it stands, so the line stays valid JSON
 * whatever a secret is made of.
 */
function redactValue(value: unknown, scope: string | undefined, seen = new WeakSet<object>()): unknown {
  if (typeof value === 'string') return redactText(value, scope);
  if (value === null || typeof value !== 'object' || value instanceof Secret) return value;
  if (seen.has(value)) return '[Circular]';
  seen.add(value);
  if (Array.isArray(value)) return value.map((v) => redactValue(v, scope, seen));
  if (Object.getPrototypeOf(value) !== Object.prototype) {
    // class instances, Buffers, Dates: what JSON would print of them
    let plain: unknown;
    try {
      plain = JSON.parse(JSON.stringify(value) ?? 'null');
    } catch {
      return '[Unserializable]';
    }
    return redactValue(plain, scope, seen);
  }
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[redactText(k, scope)] = redactValue(v, scope, seen);
  return out;
}

// Errors are plain objects to JSON.stringify (their fields are not enumerable):
// render them as { name, message, stack } so the error text reaches the line.
function errorsToPlain(value: unknown, seen = new WeakSet<object>()): unknown {
  if (value instanceof Secret) return value;
  if (value instanceof Error) {
    const plain: Record<string, unknown> = { name: value.name, message: value.message };
    if (value.stack) plain.stack = value.stack;
    const extra = value as unknown as Record<string, unknown>;
    for (const key of Object.keys(extra)) plain[key] = errorsToPlain(extra[key], seen);
    return plain;
  }
  if (Array.isArray(value)) {
    if (seen.has(value)) return '[Circular]';
    seen.add(value);
    return value.map((v) => errorsToPlain(v, seen));
  }
  if (value && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    if (seen.has(value)) return '[Circular]';
    seen.add(value);
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = errorsToPlain(v, seen);
    return out;
  }
  return value;
}

const plainErrors = winston.format((info) => {
  for (const key of Object.keys(info)) {
    if (key === 'level') continue;
    info[key] = errorsToPlain(info[key]);
  }
  if (info.message instanceof Error) info.message = info.message.message;
  return info;
});

/** Field names every line has (or a controller's lines have): kept as they are, their values still redacted. */
const LINE_FIELDS = new Set(['level', 'message', 'timestamp', 'controller', 'namespace', 'name']);

/**
 * The one redaction point, the last step before serialisation. A line about
 * an object (controller, namespace, name: what ctx.log carries) also gets
 * that object's scoped secrets redacted.
 */
const redact = winston.format((info) => {
  const fields = info as unknown as Record<string, unknown>;
  const scope =
    typeof fields.controller === 'string' && typeof fields.name === 'string'
      ? objectScope(fields.controller, typeof fields.namespace === 'string' ? fields.namespace : undefined, fields.name)
      : undefined;
  for (const key of Object.keys(fields)) {
    if (key === 'level') continue;
    const value = redactValue(fields[key], scope);
    // the line's own field names are never a secret: a value that happens to be `namespace` cannot unname the line
    const safeKey = LINE_FIELDS.has(key) ? key : redactText(key, scope);
    if (safeKey !== key) delete fields[key];
    fields[safeKey] = value;
  }
  return info;
});

export interface LoggerOptions {
  level?: string;
  /** Where JSON lines go; stdout by default. Tests pass a capture stream. */
  stream?: NodeJS.WritableStream;
  /** Fields on every line, e.g. { component: 'vault-autopilot' }. */
  defaultMeta?: Record<string, unknown>;
}

export function createLogger(opts: LoggerOptions = {}): Logger {
  return skipDisabledLevels(winston.createLogger({
    level: opts.level ?? process.env.VAULT_AUTOPILOT_LOG_LEVEL ?? 'info',
    defaultMeta: opts.defaultMeta,
    format: winston.format.combine(
      winston.format.errors({ stack: true }),
      plainErrors(),
      winston.format.timestamp(),
      redact(),
      winston.format.json(),
    ),
    transports: [new winston.transports.Stream({ stream: opts.stream ?? process.stdout })],
  }));
}

/**
 * winston builds a line and runs every format on it (errors, redaction, JSON)
 * before its transport drops it for its level: each review's debug line cost
 * the admission path that work at level info. The level methods (`info`,
 * `debug`, ...; a child logger's too) return before anything when no
 * transport takes the level.
 */
function skipDisabledLevels(logger: winston.Logger): winston.Logger {
  const methods = Object.getPrototypeOf(logger) as Record<string, unknown>;
  for (const level of Object.keys(logger.levels)) {
    const write = methods[level];
    if (typeof write !== 'function') continue;
    Object.defineProperty(logger, level, {
      configurable: true,
      writable: true,
      value: function (this: winston.Logger, ...args: unknown[]): unknown {
        return this.isLevelEnabled(level) ? (write as (...a: unknown[]) => unknown).apply(this, args) : this;
      },
    });
  }
  return logger;
}

/** Text of an unknown thrown value, for conditions and events (never includes a stack). */
export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  if (typeof err === 'string') return err;
  try {
    return JSON.stringify(err);
  } catch {
    return String(err);
  }
}
