// Reading the CRDs (the single source of the schemas) and writing YAML streams.
// Output is deterministic so that regenerating a checked-in file gives no diff.

import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { KubernetesObject, V1CustomResourceDefinition } from '@kubernetes/client-node';
import yaml from 'js-yaml';

/** Every CustomResourceDefinition in `dir` (*.yaml / *.yml, multi-document allowed), sorted by name. */
export function readCrds(dir: string): V1CustomResourceDefinition[] {
  const files = readdirSync(dir).filter((f) => /\.ya?ml$/.test(f)).sort();
  return parseCrds(files.map((f) => readFileSync(join(dir, f), 'utf8')));
}

/** Pure: YAML texts in, CRDs out; anything else in those files is an error. */
export function parseCrds(texts: string[]): V1CustomResourceDefinition[] {
  const crds = texts.flatMap((text) => yaml.loadAll(text)).filter((doc) => doc != null) as KubernetesObject[];
  for (const doc of crds) {
    if (doc.kind !== 'CustomResourceDefinition') throw new Error(`crds/ holds a ${doc.kind ?? 'document without kind'} (${doc.metadata?.name ?? '?'})`);
  }
  return (crds as V1CustomResourceDefinition[]).sort((a, b) => (a.metadata?.name ?? '').localeCompare(b.metadata?.name ?? ''));
}

export function toYaml(value: unknown): string {
  return yaml.dump(value, { noRefs: true, lineWidth: -1, sortKeys: false, quotingType: '"' });
}

/** A multi-document YAML stream with a leading comment. */
export function yamlStream(header: string, objects: unknown[]): string {
  const comment = header.split('\n').map((line) => (line ? `# ${line}` : '#')).join('\n');
  return `${comment}\n${objects.map((o) => `---\n${toYaml(o)}`).join('')}`;
}
