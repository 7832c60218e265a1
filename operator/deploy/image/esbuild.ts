// The production build of the operator: operator/main.ts bundled by esbuild
// into one ES module (dist/operator/main.js in the image), plus one chunk per
// module loaded on first use (the AWS SDK, hashi-vault-js). Why: memory. Node
// keeps the source text and the compiled code of every module it loads, and
// `@dot-i/k8s-operator` (CommonJS) requires the whole `@kubernetes/client-node`
// namespace: ~70 generated API classes and ~700 models where the operator uses
// a dozen. Bundled, only what is reachable stays, and of the generated API
// classes only the methods the operator names (narrow-client.ts; README
// "Performance").
//
//   node --import=tsx operator/deploy/image/esbuild.ts [--outdir dist/bundle] [--no-minify] [--metafile f.json]
//
// Used by operator/deploy/image/build-image.sh, the Dockerfile and the memory
// benchmark. Runs from the repository root (or a copy of it with node_modules).
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { build, type Plugin } from 'esbuild';
import { narrowClientNodeApis } from './narrow-client.js';

/**
 * What `@dot-i/k8s-operator` takes from client-node (dist/operator.js:
 * KubeConfig, CoreV1Api, ApiextensionsV1Api, loadYaml, Watch). Its
 * `require('@kubernetes/client-node')` would otherwise keep every export.
 * unit test: test/unit/deploy/esbuild.test.ts checks this list against its source.
 */
export const K8S_OPERATOR_CLIENT_NODE_IMPORTS = ['KubeConfig', 'CoreV1Api', 'ApiextensionsV1Api', 'loadYaml', 'Watch'];

/** Narrow what one CommonJS package sees of an ES module to the names it uses. */
function narrowImport(importer: string, specifier: string, names: string[], root: string): Plugin {
  const filter = new RegExp(`^${specifier.replace(/[/.@-]/g, (c) => `\\${c}`)}$`);
  return {
    name: `narrow ${specifier} for ${importer}`,
    setup(b) {
      b.onResolve({ filter }, (args) => (args.importer.includes(`/node_modules/${importer}/`) ? { path: specifier, namespace: 'narrowed' } : undefined));
      b.onLoad({ filter: /.*/, namespace: 'narrowed' }, () => ({
        contents: `export { ${names.join(', ')} } from '${specifier}';`,
        resolveDir: root,
        loader: 'js',
      }));
    },
  };
}

/**
 * node-fetch 2 (client-node's HTTP) takes `URL` from Node and falls back to
 * whatwg-url only where Node has none; whatwg-url loads tr46's Unicode
 * tables (~260 kB of code, several MB once parsed) for that dead branch.
 */
const nodeUrlForWhatwgUrl: Plugin = {
  name: 'whatwg-url -> node:url',
  setup(b) {
    b.onResolve({ filter: /^whatwg-url$/ }, () => ({ path: 'whatwg-url', namespace: 'node-url' }));
    b.onLoad({ filter: /.*/, namespace: 'node-url' }, () => ({ contents: 'module.exports = { URL: globalThis.URL, URLSearchParams: globalThis.URLSearchParams };', loader: 'js' }));
  },
};

/**
 * Node 22 builds an ES module's view of `node:http` by reading every export,
 * the lazy WebSocket, CloseEvent and MessageEvent included, and those load
 * undici, which loads http2, zlib, worker_threads and perf_hooks (~70
 * internal modules; +10 MB RSS in a bare node, -3 MB idle in the operator)
 * for classes the operator never uses. Through require() nothing is read
 * until it is used. (`node:util` and `node:process` also read every export
 * but cost ~1 MB in a bare node and nothing measurable here: left as they are.)
 */
const httpThroughRequire: Plugin = {
  name: 'node:http through require()',
  setup(b) {
    // the stand-in's own require() resolves as usual: to the built-in module
    b.onResolve({ filter: /^(node:)?http$/ }, (args) => (args.namespace === 'required-builtin' ? undefined : { path: 'node:http', namespace: 'required-builtin' }));
    b.onLoad({ filter: /.*/, namespace: 'required-builtin' }, () => ({ contents: "module.exports = require('node:http');", loader: 'js' }));
  },
};

export async function bundleOperator(opts: { root: string; outdir: string; minify?: boolean; metafile?: string }): Promise<void> {
  const result = await build({
    absWorkingDir: opts.root,
    entryPoints: [join(opts.root, 'operator/main.ts')],
    outdir: opts.outdir,
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node22',
    // whitespace and syntax only: stack traces keep their function names
    minifyWhitespace: opts.minify !== false,
    minifySyntax: opts.minify !== false,
    keepNames: true,
    legalComments: 'none',
    metafile: Boolean(opts.metafile),
    logLevel: 'warning',
    // CommonJS dependencies call require(): give the ES module one
    banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
    plugins: [narrowImport('@dot-i/k8s-operator', '@kubernetes/client-node', K8S_OPERATOR_CLIENT_NODE_IMPORTS, opts.root), nodeUrlForWhatwgUrl, httpThroughRequire, narrowClientNodeApis(opts.root)],
  });
  if (opts.metafile && result.metafile) writeFileSync(opts.metafile, JSON.stringify(result.metafile));
}

if (process.argv[1] && fileURLToPath(import.meta.url) === resolve(process.argv[1])) {
  const { values } = parseArgs({ options: { outdir: { type: 'string', default: 'dist/bundle' }, 'no-minify': { type: 'boolean', default: false }, metafile: { type: 'string' } } });
  await bundleOperator({ root: process.cwd(), outdir: values.outdir, minify: !values['no-minify'], ...(values.metafile ? { metafile: values.metafile } : {}) });
}
