// The production bundle the image runs (operator/deploy/image/esbuild.ts):
// it starts without any node_modules next to it, its lazily loaded chunks
// load too, and it leaves out what it was made to leave out.
import { execFile, execFileSync } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { bundleOperator, K8S_OPERATOR_CLIENT_NODE_IMPORTS } from '../../../operator/deploy/image/esbuild.js';
import { REPO_ROOT } from '../../../operator/deploy/generate.js';

test('the client-node names @dot-i/k8s-operator uses are the ones the bundle gives it', (t) => {
  const source = readFileSync(join(REPO_ROOT, 'node_modules/@dot-i/k8s-operator/dist/operator.js'), 'utf8');
  // `const k8s = require("@kubernetes/client-node")` and `const client_node_1 = require(...)`
  const bindings = [...source.matchAll(/const (\w+) = (?:__importStar\()?require\("@kubernetes\/client-node"\)/g)].map((m) => m[1]!);
  t.true(bindings.length > 0, 'found its require of client-node');
  const used = new Set(bindings.flatMap((b) => [...source.matchAll(new RegExp(`(?<![\\w.'"-])${b}\\.([A-Za-z_]\\w*)`, 'g'))].map((m) => m[1]!)));
  t.deepEqual([...used].sort(), [...K8S_OPERATOR_CLIENT_NODE_IMPORTS].sort());
});

test('the bundle runs with no node_modules, its chunks load, unused client-node APIs and tr46 are left out', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'operator-bundle-'));
  try {
    const out = join(dir, 'dist/operator');
    await bundleOperator({ root: REPO_ROOT, outdir: out });
    copyFileSync(join(REPO_ROOT, 'package.json'), join(dir, 'package.json'));
    const version = (JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
    const run = (args: string[]) => execFileSync(process.execPath, args, { cwd: dir, encoding: 'utf8', env: { PATH: process.env.PATH ?? '' } });
    t.is(run([join(out, 'main.js'), '--version']).trim(), version);
    t.regex(run([join(out, 'main.js'), '--self-check']), /self-check OK/);
    const chunks = readdirSync(out).filter((f) => f !== 'main.js' && f.endsWith('.js'));
    t.true(chunks.length >= 2, `lazily loaded SDKs in chunks of their own: ${chunks.join(', ')}`);
    const loaded = run(['--input-type=module', '-e', `for (const f of ${JSON.stringify(chunks.map((c) => join(out, c)))}) await import(f); console.log('ok');`]);
    t.is(loaded.trim(), 'ok');
    // the lazily loaded CommonJS SDKs work through the bundle's interop: an
    // Encrypt call reaches a KMS endpoint (a stand-in answering like KMS)
    const kmsCalls: string[] = [];
    const kms = createServer((req, res) => {
      kmsCalls.push(String(req.headers['x-amz-target']));
      req.resume();
      req.on('end', () => {
        res.writeHead(200, { 'content-type': 'application/x-amz-json-1.1' });
        res.end(JSON.stringify({ CiphertextBlob: Buffer.from('sealed').toString('base64'), KeyId: 'arn:aws:kms:us-east-1:111122223333:key/k' }));
      });
    });
    await new Promise<void>((r) => kms.listen(0, '127.0.0.1', r));
    try {
      const chunk = readdirSync(out).find((f) => readFileSync(join(out, f), 'utf8').includes('class AwsKms') || /\bAwsKms\s*=\s*class\b/.test(readFileSync(join(out, f), 'utf8')))!;
      const endpoint = `http://127.0.0.1:${(kms.address() as AddressInfo).port}`;
      const script = `const m = await import(${JSON.stringify(join(out, chunk))});
        const kms = new m.AwsKms({ region: 'us-east-1', endpoint: ${JSON.stringify(endpoint)}, credentials: { accessKeyId: 'a', secretAccessKey: 'b' }, maxAttempts: 1 });
        const r = await kms.encrypt({ keyId: 'alias/k', plaintext: Buffer.from('x') });
        kms.destroy();
        console.log(Buffer.from(r.ciphertext).toString(), r.keyId);`;
      const result = await new Promise<string>((resolve, reject) =>
        execFile(process.execPath, ['--input-type=module', '-e', script], { cwd: dir, env: { PATH: process.env.PATH ?? '' } }, (err, stdout, stderr) => (err ? reject(new Error(`${err.message}${stderr}`)) : resolve(stdout))),
      );
      t.is(result.trim(), 'sealed arn:aws:kms:us-east-1:111122223333:key/k');
      t.deepEqual(kmsCalls, ['TrentService.Encrypt']);
    } finally {
      kms.close();
    }
    const code = readdirSync(out).map((f) => readFileSync(join(out, f), 'utf8')).join('\n');
    t.regex(code, /class CoreV1ApiRequestFactory\b|\bCoreV1ApiRequestFactory\s*=\s*class\b/, 'a client-node API the operator uses is in');
    t.false(code.includes('FlowcontrolApiserverV1ApiRequestFactory'), 'one it does not use is left out');
    t.regex(code, /async readNamespacedSecret\(/, 'a method the operator calls is in (narrow-client.ts)');
    t.false(code.includes('connectDeleteNamespacedPodProxy'), 'one it never names is left out');
    t.false(code.includes('V1CSIDriverSpec.attributeTypeMap'), 'so is a model nothing it uses refers to');
    t.false(/tr46|mappingTable/.test(code), "whatwg-url's Unicode tables are left out");
    t.false(/from\s*["'](node:)?http["']/.test(code), 'node:http is required, not imported (an import reads its lazy exports)');
    // what starts with the operator (main.js's static imports) leaves undici unloaded
    const startup = [...readFileSync(join(out, 'main.js'), 'utf8').matchAll(/import(?:\{[^}]*\}|\s*[\w$]+\s*)?from\s*"(\.\/[^"]+)"|import\s*"(\.\/[^"]+)"/g)].map((m) => join(out, m[1] ?? m[2]!));
    t.true(startup.length > 0, 'main.js imports its start-up chunks');
    const modules = run(['--input-type=module', '-e', `for (const f of ${JSON.stringify(startup)}) await import(f); console.log(process.moduleLoadList.filter((m) => /undici|http2/.test(m)).join(' ') || 'none');`]);
    t.is(modules.trim(), 'none');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
