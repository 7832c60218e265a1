// A comma inside an unquoted description of a YAML flow mapping
// (`{type: string, description: a, b}`) silently adds a key `b` with a null
// value to the schema; the apiserver then refuses `kubectl apply
// --server-side` of install.yaml ("field not declared in schema"). No CRD
// file may hold a null anywhere.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import yaml from 'js-yaml';
import { REPO_ROOT } from '../../harness/versions.js';

function nullPaths(node: unknown, path: string, out: string[]): string[] {
  if (node === null) out.push(path);
  else if (Array.isArray(node)) node.forEach((v, i) => nullPaths(v, `${path}[${i}]`, out));
  else if (typeof node === 'object') for (const [k, v] of Object.entries(node as Record<string, unknown>)) nullPaths(v, `${path}.${k}`, out);
  return out;
}

for (const file of readdirSync(join(REPO_ROOT, 'crds')).filter((f) => f.endsWith('.yaml'))) {
  test(`crds/${file}: no null value (an unquoted description with a comma in a flow mapping)`, (t) => {
    const docs = yaml.loadAll(readFileSync(join(REPO_ROOT, 'crds', file), 'utf8'));
    t.deepEqual(docs.flatMap((doc, i) => nullPaths(doc, `doc${i}`, [])), []);
  });
}
