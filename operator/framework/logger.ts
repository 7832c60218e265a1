// JSON-lines logging with ONE redaction point: the `redact` format below is the
// last step before a line is written, so nothing logged through a Logger made
// here can carry a value wrapped in `secret()` or registered with `markSecret()`.
import { inspect } from 'node:util';
import winston from 'winston';

export type Logger = winston.Logger;

export const REDACTED = '[REDACTED]';

// winston keeps the rendered line under this well-known symbol (triple-beam's MESSAGE).
const MESSAGE = Symbol.for('message');

/** A value that must never be printed. Every way of turning it into text yields "[REDACTED]". */
export class Secret {
  readonly #value: string;
  constructor(value: string) {
    this.#value = value;
    markSecret(value);
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

export function secret(value: string): Secret {
  return new Secret(value);
}

const markedValues = new Set<string>();
// Longest first so a secret containing another secret is replaced whole.
let markedInReplaceOrder: string[] = [];

/** Any later log line that contains `value` (raw or JSON-escaped) has it replaced by "[REDACTED]". */
export function markSecret(value: string): void {
  if (typeof value !== 'string' || value.length === 0 || markedValues.has(value)) return;
  markedValues.add(value);
  markedInReplaceOrder = [...markedValues].sort((a, b) => b.length - a.length);
}

/** Test helper: forget every marked value. */
export function clearMarkedSecrets(): void {
  markedValues.clear();
  markedInReplaceOrder = [];
}

/** Replaces every marked value in `text`, including its JSON-escaped spelling. */
export function redactText(text: string): string {
  let out = text;
  for (const value of markedInReplaceOrder) {
    if (out.includes(value)) out = out.split(value).join(REDACTED);
    const escaped = JSON.stringify(value).slice(1, -1);
    if (escaped !== value && out.includes(escaped)) out = out.split(escaped).join(REDACTED);
  }
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

/** The one redaction point: runs on the finished JSON line. */
const redact = winston.format((info) => {
  const slot = info as unknown as Record<symbol, unknown>;
  const rendered = slot[MESSAGE];
  if (typeof rendered !== 'string') return info;
  const redacted = redactText(rendered);
  if (redacted === rendered) return info;
  try {
    // A marked value made of JSON syntax (a quote, a brace) could break the
    // line's structure: then withhold the whole line rather than emit a mangled one.
    JSON.parse(redacted);
    slot[MESSAGE] = redacted;
  } catch {
    slot[MESSAGE] = JSON.stringify({ level: info.level, message: `${REDACTED} (log line withheld: it contained a secret)` });
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
  return winston.createLogger({
    level: opts.level ?? process.env.VAULT_AUTOPILOT_LOG_LEVEL ?? 'info',
    defaultMeta: opts.defaultMeta,
    format: winston.format.combine(
      winston.format.errors({ stack: true }),
      plainErrors(),
      winston.format.timestamp(),
      winston.format.json(),
      redact(),
    ),
    transports: [new winston.transports.Stream({ stream: opts.stream ?? process.stdout })],
  });
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
