// KEY=VALUE input for `seal`: command-line arguments and dotenv-style files.
// Parse errors name the line or argument number, never its content, because
// the content is the secret.
import { UsageError } from './io.js';

export const KEY_PATTERN = /^[A-Za-z0-9_.-]+$/;

export interface KeyValue {
  key: string;
  value: string;
}

function checkKey(key: string, where: string): void {
  if (!KEY_PATTERN.test(key)) throw new UsageError(`${where}: key must match ${KEY_PATTERN.source}`);
}

/** `KEY=VALUE` command-line arguments. Pure. */
export function parseAssignments(args: readonly string[]): KeyValue[] {
  return args.map((arg, i) => {
    const eq = arg.indexOf('=');
    if (eq <= 0) throw new UsageError(`argument ${i + 1} after the options is not KEY=VALUE`);
    const key = arg.slice(0, eq);
    checkKey(key, `argument ${i + 1}`);
    return { key, value: arg.slice(eq + 1) };
  });
}

/**
 * A dotenv-style file: `KEY=VALUE` per line, optional `export `, `#` comments,
 * single quotes literal, double quotes with \n \" \\ escapes. Pure.
 */
export function parseEnvFile(text: string): KeyValue[] {
  const out: KeyValue[] = [];
  const lines = text.split(/\r?\n/);
  lines.forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const body = line.startsWith('export ') ? line.slice('export '.length).trimStart() : line;
    const eq = body.indexOf('=');
    const where = `line ${i + 1}`;
    if (eq <= 0) throw new UsageError(`${where} is not KEY=VALUE`);
    const key = body.slice(0, eq).trim();
    checkKey(key, where);
    let value = body.slice(eq + 1).trim();
    if (value.startsWith("'")) {
      if (value.length < 2 || !value.endsWith("'")) throw new UsageError(`${where}: unterminated single quote`);
      value = value.slice(1, -1);
    } else if (value.startsWith('"')) {
      if (value.length < 2 || !value.endsWith('"')) throw new UsageError(`${where}: unterminated double quote`);
      value = value.slice(1, -1).replace(/\\(["\\n])/g, (_m, c: string) => (c === 'n' ? '\n' : c));
    } else {
      const comment = value.search(/\s#/);
      if (comment >= 0) value = value.slice(0, comment).trimEnd();
    }
    out.push({ key, value });
  });
  return out;
}

/** Refuse a key given twice (the CRD's list is keyed by `key`). Pure. */
export function checkUniqueKeys(values: readonly KeyValue[]): void {
  const seen = new Set<string>();
  for (const { key } of values) {
    if (seen.has(key)) throw new UsageError(`key ${key} is given more than once`);
    seen.add(key);
  }
}
