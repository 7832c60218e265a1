// One way to read settings from the environment: int, bool, duration, oneOf
// and plain strings, each problem collected, and one SettingsError that lists
// every problem (so an operator that will not start says everything at once).
// One duration grammar for the whole operator (settings and Vault parameters).

export class SettingsError extends Error {
  /** `what`: whose settings, for the message ("invalid Vault controller settings: ..."). */
  constructor(
    readonly problems: string[],
    what = 'settings',
  ) {
    super(`invalid ${what}: ${problems.join('; ')}`);
    this.name = 'SettingsError';
  }
}

export type Env = Record<string, string | undefined>;

const DURATION_UNIT_MS: Readonly<Record<string, number>> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const DURATION = /^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h|d))+$/;

/**
 * Vault's and Go's duration form: `300` (seconds), `1.5`, `500ms`, `30s`,
 * `5m`, `1h30m`, `7d`; no sign, no spaces inside. Milliseconds (may be
 * fractional below 1 ms), or undefined when it is not a duration.
 */
export function parseDuration(text: string): number | undefined {
  const value = text.trim();
  if (/^\d+(\.\d+)?$/.test(value)) return Number(value) * 1000;
  if (!DURATION.test(value)) return undefined;
  let ms = 0;
  for (const [, amount, unit] of value.matchAll(/(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h|d)/g)) ms += Number(amount) * DURATION_UNIT_MS[unit!]!;
  return ms;
}

/**
 * Reads settings from `env`; every reader returns the fallback when the
 * variable is unset or blank, and records a problem (returning the fallback)
 * when it is malformed. Call done() at the end: it throws one SettingsError
 * listing every problem.
 */
export class SettingsReader {
  readonly problems: string[] = [];

  constructor(readonly env: Env) {}

  /** The trimmed value, or undefined when unset or blank. */
  raw(key: string): string | undefined {
    const value = this.env[key]?.trim();
    return value ? value : undefined;
  }

  str(key: string, fallback: string): string {
    return this.raw(key) ?? fallback;
  }

  int(key: string, fallback: number, range: { min?: number; max?: number } = {}): number {
    const raw = this.raw(key);
    if (raw === undefined) return fallback;
    const n = Number(raw);
    const { min = Number.MIN_SAFE_INTEGER, max = Number.MAX_SAFE_INTEGER } = range;
    if (!/^-?\d+$/.test(raw) || n < min || n > max) {
      this.problems.push(`${key} must be an integer${describeRange(range)}, got ${JSON.stringify(raw)}`);
      return fallback;
    }
    return n;
  }

  bool(key: string, fallback: boolean): boolean {
    const raw = this.raw(key);
    if (raw === undefined) return fallback;
    if (raw !== 'true' && raw !== 'false') return this.#bad(key, raw, 'expected "true" or "false"', fallback);
    return raw === 'true';
  }

  oneOf<T extends string>(key: string, fallback: T, accepted: readonly T[]): T {
    const raw = this.raw(key);
    if (raw === undefined) return fallback;
    if (!(accepted as readonly string[]).includes(raw)) return this.#bad(key, raw, `expected one of ${accepted.join(', ')}`, fallback);
    return raw as T;
  }

  /** A duration (see parseDuration) in milliseconds, at least `min` ms. */
  duration(key: string, fallbackMs: number, range: { min?: number } = {}): number {
    const raw = this.raw(key);
    if (raw === undefined) return fallbackMs;
    const ms = parseDuration(raw);
    const min = range.min ?? 0;
    if (ms === undefined || ms < min) return this.#bad(key, raw, `expected a duration such as 30s, 5m or 1h${min > 0 ? ` (at least ${min} ms)` : ''}`, fallbackMs);
    return Math.round(ms);
  }

  /**
   * A value of the caller's own form: `parse` returns undefined when `raw` is
   * malformed; then `problem(raw)` is recorded and the fallback returned.
   */
  parsed<T>(key: string, fallback: T, parse: (raw: string) => T | undefined, problem: (raw: string) => string): T {
    const raw = this.raw(key);
    if (raw === undefined) return fallback;
    const value = parse(raw);
    if (value === undefined) this.problems.push(problem(raw));
    return value ?? fallback;
  }

  /** A comma- (or `separator`-) separated list, blanks dropped; [] when unset. */
  list(key: string, separator: string | RegExp = ','): string[] {
    return (this.raw(key) ?? '')
      .split(separator)
      .map((s) => s.trim())
      .filter(Boolean);
  }

  /** A problem of the reader's own (a rule between settings). */
  problem(message: string): void {
    this.problems.push(message);
  }

  /** Throws one SettingsError listing every problem, if there is any. */
  done(what?: string): void {
    if (this.problems.length) throw new SettingsError(this.problems, what);
  }

  #bad<T>(key: string, raw: string, expected: string, fallback: T): T {
    this.problems.push(`${key}=${JSON.stringify(raw)}: ${expected}`);
    return fallback;
  }
}

function describeRange({ min, max }: { min?: number; max?: number }): string {
  if (min !== undefined && max !== undefined) return ` from ${min} to ${max}`;
  if (min !== undefined) return ` >= ${min}`;
  if (max !== undefined) return ` <= ${max}`;
  return '';
}
