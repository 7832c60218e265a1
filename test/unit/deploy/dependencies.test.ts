// The production dependency tree (what the image's bundle is built from)
// holds none of the packages with published advisories that
// @dot-i/k8s-operator's client-node 0.20 used to bring (package.json
// `overrides`); read from package-lock.json, which the image build installs.
import { readFileSync } from 'node:fs';
import test from 'ava';

interface LockPackage {
  version?: string;
  dev?: boolean;
}
const lock = JSON.parse(readFileSync('package-lock.json', 'utf8')) as { packages: Record<string, LockPackage> };
const production = Object.entries(lock.packages)
  .filter(([path, p]) => path.startsWith('node_modules/') && !p.dev)
  .map(([path, p]) => ({ name: path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length), path, version: p.version ?? '' }));

const major = (v: string) => Number.parseInt(v.split('.')[0]!, 10);
const atLeast = (v: string, min: [number, number, number]) => {
  const [a = 0, b = 0, c = 0] = v.split('.').map((x) => Number.parseInt(x, 10));
  return a !== min[0] ? a > min[0] : b !== min[1] ? b > min[1] : c >= min[2];
};

test('no request, tough-cookie or client-node 0.x in the production tree', (t) => {
  t.true(production.length > 50, 'the lock file lists the production tree');
  t.deepEqual(production.filter((p) => p.name === 'request' || p.name === 'tough-cookie' || p.name === '@types/request').map((p) => p.path), []);
  const clientNodes = production.filter((p) => p.name === '@kubernetes/client-node');
  t.deepEqual(clientNodes.map((p) => `${p.path}@${p.version}`), [`node_modules/@kubernetes/client-node@${clientNodes[0]?.version}`], 'one client-node, shared with @dot-i/k8s-operator');
  t.true(major(clientNodes[0]!.version) >= 1);
});

test('form-data and jsonpath-plus only in versions past their advisories (client-node 1.x needs them)', (t) => {
  for (const p of production.filter((x) => x.name === 'form-data')) t.true(atLeast(p.version, [4, 0, 4]), `${p.path}@${p.version}`);
  for (const p of production.filter((x) => x.name === 'jsonpath-plus')) t.true(atLeast(p.version, [10, 3, 0]), `${p.path}@${p.version}`);
});
