// Reading one object out of a file in samples/. A sample file creates what it
// uses (its Namespace, ServiceAccount, ...), so tests pick the document of the
// kind they exercise instead of assuming one document per file.
import { readFileSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import yaml from 'js-yaml';
import { REPO_ROOT } from '../harness/versions.js';

/** Every document of a sample file, in order. */
export function sampleDocs(file: string): Array<{ kind?: string; metadata?: { name?: string; namespace?: string } } & Record<string, unknown>> {
  const text = readFileSync(isAbsolute(file) ? file : join(REPO_ROOT, file), 'utf8');
  return (yaml.loadAll(text) as unknown[]).filter((d): d is Record<string, unknown> => typeof d === 'object' && d !== null) as never;
}

/** The one document of `kind` in a sample file; throws when there is none or several. */
export function sampleOf<T>(file: string, kind: string): T {
  const found = sampleDocs(file).filter((d) => d.kind === kind);
  if (found.length !== 1) throw new Error(`${file}: expected one ${kind}, found ${found.length}`);
  return found[0] as T;
}
