// An esbuild plugin for the production bundle (esbuild.ts): it keeps only the
// methods of client-node's generated API classes that the operator can call.
// Why: memory. Tree-shaking drops whole unused classes, but a class it keeps
// keeps all its methods, and each API method exists in four layers (request
// factory, response processor, Observable, object-parameter API): CoreV1Api
// alone is ~1.3 MB of source for the ~20 calls the operator makes. Node holds
// the source text and a function object per method of every class it loads.
//
// Which methods stay: every method whose name (less a `WithHttpInfo` suffix)
// appears as a word anywhere in the code that can call the generated API (the
// operator's source, @dot-i/k8s-operator, client-node's hand-written part).
// That is a superset of what is called: it never removes a method a literal
// call names (the operator never calls an API method by a computed name).
//
// The models (~700 classes, each with an attribute map built at load) are
// narrowed the same way: ObjectSerializer's type map keeps the models the
// callers or the kept API methods name, the versions of every kind the callers
// name (KubernetesObjectApi looks up `<Version><Kind>` at run time), and every
// model those refer to; the others become empty classes tree-shaking drops.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Plugin } from 'esbuild';
import ts from 'typescript';

/** The generated files whose classes are narrowed (paths inside @kubernetes/client-node/dist). */
export const NARROWED_FILES = /\/@kubernetes\/client-node\/dist\/gen\/(apis\/\w+Api|types\/(ObservableAPI|ObjectParamAPI|PromiseAPI))\.js$/;

const GEN = 'node_modules/@kubernetes/client-node/dist/gen';
const SERIALIZER = /\/@kubernetes\/client-node\/dist\/gen\/models\/ObjectSerializer\.js$/;
const MODEL = /\/@kubernetes\/client-node\/dist\/gen\/models\/(\w+)\.js$/;
const TYPE_MAP_ENTRY = /^ {4}"(\w+)": \w+,?\n/gm;

/** Every word (identifier-like token) in the given texts. */
export function wordsOf(texts: Iterable<string>): Set<string> {
  const words = new Set<string>();
  for (const text of texts) for (const m of text.matchAll(/[A-Za-z_$][\w$]*/g)) words.add(m[0]);
  return words;
}

/**
 * `source` (an ES module) without the class methods whose name, less a
 * `WithHttpInfo` suffix, is not in `keep` (constructors always stay), and
 * the names it removed. Pure: no I/O.
 */
export function withoutUnusedMethods(source: string, keep: ReadonlySet<string>): { code: string; removed: string[] } {
  const file = ts.createSourceFile('api.js', source, ts.ScriptTarget.Latest, true, ts.ScriptKind.JS);
  const cuts: Array<[number, number]> = [];
  const removed: string[] = [];
  for (const statement of file.statements) {
    if (!ts.isClassDeclaration(statement)) continue;
    for (const member of statement.members) {
      if (!ts.isMethodDeclaration(member) || !ts.isIdentifier(member.name)) continue;
      const name = member.name.text;
      if (keep.has(name.replace(/WithHttpInfo$/, ''))) continue;
      cuts.push([member.getFullStart(), member.getEnd()]); // with its doc comment
      removed.push(`${statement.name?.text ?? '?'}.${name}`);
    }
  }
  let code = source;
  for (const [start, end] of cuts.reverse()) code = code.slice(0, start) + code.slice(end);
  return { code, removed };
}

function filesUnder(dir: string, ext: RegExp, skip?: RegExp): string[] {
  return readdirSync(dir).flatMap((entry) => {
    const path = join(dir, entry);
    if (skip?.test(path)) return [];
    if (statSync(path).isDirectory()) return filesUnder(path, ext, skip);
    return ext.test(entry) ? [path] : [];
  });
}

/** The words of everything that may call client-node's generated API. */
export function callerWords(root: string): Set<string> {
  const clientNode = join(root, 'node_modules/@kubernetes/client-node/dist');
  const callers = [
    ...filesUnder(join(root, 'operator'), /\.ts$/),
    ...filesUnder(join(root, 'node_modules/@dot-i/k8s-operator/dist'), /\.js$/),
    ...filesUnder(clientNode, /\.js$/, /\/dist\/gen$/), // the hand-written part (Watch, KubernetesObjectApi, ...)
  ];
  return wordsOf(callers.map((f) => readFileSync(f, 'utf8')));
}

/** The model names in ObjectSerializer's type map. */
export function typeMapNames(serializer: string): string[] {
  return [...serializer.slice(serializer.indexOf('let typeMap = {')).matchAll(TYPE_MAP_ENTRY)].map((m) => m[1]!);
}

/**
 * The models to keep: those `words` name, `V1StatefulSet`-like versions of a
 * kind `words` names, and everything their sources (`modelSource`) name. Pure.
 */
export function modelsToKeep(models: readonly string[], words: ReadonlySet<string>, modelSource: (name: string) => string): Set<string> {
  const known = new Set(models);
  const keep = new Set<string>();
  const queue = models.filter((m) => words.has(m) || words.has(m.replace(/^V\d+(?:alpha\d+|beta\d+)?/, '')));
  for (let m = queue.pop(); m !== undefined; m = queue.pop()) {
    if (keep.has(m)) continue;
    keep.add(m);
    for (const w of wordsOf([modelSource(m)])) if (known.has(w) && !keep.has(w)) queue.push(w);
  }
  return keep;
}

/** What the bundle keeps of client-node's generated code. */
export function clientNodeNarrowing(root: string): { methods: Set<string>; models: Set<string> } {
  const methods = callerWords(root);
  // the API classes the callers name, narrowed: the models their methods (de)serialize
  const apis = readdirSync(join(root, GEN, 'apis')).filter((f) => methods.has(f.replace(/\.js$/, '')));
  const apiWords = wordsOf(apis.map((f) => withoutUnusedMethods(readFileSync(join(root, GEN, 'apis', f), 'utf8'), methods).code));
  const models = typeMapNames(readFileSync(join(root, GEN, 'models/ObjectSerializer.js'), 'utf8'));
  const keep = modelsToKeep(models, new Set([...methods, ...apiWords]), (m) => readFileSync(join(root, GEN, 'models', `${m}.js`), 'utf8'));
  return { methods, models: keep };
}

/** The plugin: narrows client-node's generated API classes and models to what `clientNodeNarrowing(root)` keeps. */
export function narrowClientNodeApis(root: string): Plugin {
  return {
    name: 'client-node: only the API methods and models the operator needs',
    setup(b) {
      let kept: ReturnType<typeof clientNodeNarrowing> | undefined;
      const keep = () => (kept ??= clientNodeNarrowing(root));
      b.onLoad({ filter: NARROWED_FILES }, (args) => ({ contents: withoutUnusedMethods(readFileSync(args.path, 'utf8'), keep().methods).code, loader: 'js' }));
      b.onLoad({ filter: SERIALIZER }, (args) => {
        const source = readFileSync(args.path, 'utf8');
        const start = source.indexOf('let typeMap = {');
        const typeMap = source.slice(start).replace(TYPE_MAP_ENTRY, (line, name: string) => (keep().models.has(name) ? line : ''));
        return { contents: source.slice(0, start) + typeMap, loader: 'js' };
      });
      b.onLoad({ filter: MODEL }, (args) => {
        const name = MODEL.exec(args.path)![1]!;
        if (name === 'ObjectSerializer' || name === 'all' || keep().models.has(name)) return undefined;
        return { contents: `export class ${name} { static getAttributeTypeMap() { return []; } }\n`, loader: 'js' };
      });
    },
  };
}
