// Which parts of the `node` binary a process keeps resident: two thirds of
// the operator's idle RSS are file-backed pages of the binary it runs, and
// which ones is a question of what the process has used (Turbofan, OpenSSL,
// the sources of Node's own JavaScript modules, ICU...).
//
//   node --import=tsx test/bench/memory/binary-pages.ts --pid N [--top 20] [--detail COMPONENT: by symbol]
//   (also: test/bench/memory/run.ts --binary-pages, for each operator run)
//
// Reads /proc/<pid>/maps and /proc/<pid>/pagemap (root: the present bit of
// each page), maps each resident page of the binary back to the symbol at or
// before it (`nm` on the binary, the ELF segments from `readelf`) and sums by
// component. Data without a symbol of its own counts under the symbol before
// it, which is why Node's embedded JavaScript sources show as "node builtin
// sources" (they follow node::crypto's last symbol in .rodata).
import { execFileSync } from 'node:child_process';
import { closeSync, openSync, readFileSync, readlinkSync, readSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { mb, table } from '../support.js';

const PAGE = 4096;

/** The component a (demangled) symbol belongs to. */
export function componentOf(symbol: string): string {
  const rules: Array<[RegExp, string]> = [
    [/^v8::internal::compiler::|turboshaft/, 'V8 Turbofan'],
    [/^v8::internal::maglev::/, 'V8 Maglev'],
    [/^v8::internal::wasm::/, 'V8 WebAssembly'],
    [/^Builtins_|embedded_blob/, 'V8 embedded builtins'],
    [/^(v8::|cppgc::)/, 'V8 (runtime, GC, parser, interpreter)'],
    [/^node::crypto::CryptoJob<node::crypto::HKDFTraits>::Run/, 'node builtin sources (unnamed .rodata)'],
    [/^(node::|ncrypto::)/, 'node (C++)'],
    [/^(icu_|icudt|u_|uprv_|ucol|ures_|udata|ubidi|uloc|ucase|unorm|ustr|props)/, 'ICU'],
    [/^(uv_|uv__)/, 'libuv'],
    [/^(llhttp|ada::|simdutf|simdjson|ares_|nghttp2|sqlite3|zng|deflate|inflate|Brotli|ZSTD|HUF_|FSE_)/, 'other bundled libraries'],
    [/^(ossl|OSSL|EVP|evp|SSL|ssl|tls|X509|x509|BN_|bn_|EC_|ec_|ecp_|ECDSA|RSA|rsa|ASN1|asn1|d2i_|i2d_|PEM|pem|BIO|bio|CRYPTO|OPENSSL|OBJ_|ERR_|err_|sha|SHA|aes|AES|gcm|dh_|DH_|PKCS|pkcs|HMAC|kdf|x25519|X25519|ChaCha|chacha|Poly1305|mlkem|v3_|CONF|conf|RAND|rand|ENGINE|DECODER|ENCODER|encoder|decoder|property)/, 'OpenSSL'],
  ];
  return rules.find(([re]) => re.test(symbol))?.[1] ?? 'other';
}

interface Segment {
  offset: number;
  vaddr: number;
  size: number;
}

function segmentsOf(binary: string): Segment[] {
  const out = execFileSync('readelf', ['-lW', binary], { encoding: 'utf8' });
  return [...out.matchAll(/^\s+LOAD\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+0x[0-9a-f]+\s+0x([0-9a-f]+)/gm)].map((m) => ({ offset: parseInt(m[1]!, 16), vaddr: parseInt(m[2]!, 16), size: parseInt(m[3]!, 16) }));
}

function symbolsOf(binary: string): { addrs: number[]; names: string[] } {
  const addrs: number[] = [];
  const names: string[] = [];
  const out = execFileSync('nm', ['-n', '--defined-only', '-C', binary], { encoding: 'utf8', maxBuffer: 512 * 1024 * 1024 });
  for (const line of out.split('\n')) {
    const m = /^([0-9a-f]+) \S (.*)$/.exec(line);
    if (!m) continue;
    addrs.push(parseInt(m[1]!, 16));
    names.push(m[2]!);
  }
  return { addrs, names };
}

/** Largest i with sorted[i] <= x, or -1. */
function floorIndex(sorted: number[], x: number): number {
  let [lo, hi] = [0, sorted.length - 1];
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid]! <= x) [found, lo] = [mid, mid + 1];
    else hi = mid - 1;
  }
  return found;
}

/** Resident bytes of `binary`'s pages in process `pid`, by component (or, with `detail`, by symbol of that component). */
export function binaryPages(pid: number, detail?: string, binary = readlinkSync(`/proc/${pid}/exe`)): Map<string, number> {
  const segments = segmentsOf(binary);
  const { addrs, names } = symbolsOf(binary);
  const byComponent = new Map<string, number>();
  const add = (k: string) => byComponent.set(k, (byComponent.get(k) ?? 0) + PAGE);
  const pagemap = openSync(`/proc/${pid}/pagemap`, 'r');
  const entry = Buffer.alloc(8);
  try {
    for (const line of readFileSync(`/proc/${pid}/maps`, 'utf8').split('\n')) {
      const f = line.split(/\s+/);
      if (f[5] !== binary) continue;
      const [lo, hi] = f[0]!.split('-').map((h) => parseInt(h, 16)) as [number, number];
      const fileOffset = parseInt(f[2]!, 16);
      for (let va = lo; va < hi; va += PAGE) {
        readSync(pagemap, entry, 0, 8, (va / PAGE) * 8);
        if (!(entry.readBigUInt64LE() >> 63n)) continue; // not present
        const offset = fileOffset + (va - lo);
        const segment = segments.find((s) => offset + PAGE > s.offset && offset < s.offset + s.size);
        if (!segment) add('other');
        else if (segment.offset === 0) {
          if (!detail) add('ELF headers and dynamic symbol tables');
        }
        else {
          const i = floorIndex(addrs, segment.vaddr + offset - segment.offset);
          const component = i < 0 ? 'other' : componentOf(names[i]!);
          if (!detail) add(component);
          else if (component === detail) add(names[i]!.slice(0, 100));
        }
      }
    }
  } finally {
    closeSync(pagemap);
  }
  return byComponent;
}

export function binaryPagesTable(pages: Map<string, number>, label: string, top = 20): string {
  const total = [...pages.values()].reduce((a, b) => a + b, 0);
  const rows = [...pages.entries()].sort((a, b) => b[1] - a[1]).slice(0, top).map(([k, v]) => [k, mb(v)]);
  return table([`${label}: resident pages of the node binary`, 'MB'], [...rows, ['total', mb(total)]]);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({ options: { pid: { type: 'string' }, top: { type: 'string', default: '20' }, detail: { type: 'string' } } });
  if (!values.pid) throw new Error('--pid N: the process to look at');
  process.stdout.write(`${binaryPagesTable(binaryPages(Number(values.pid), values.detail), `pid ${values.pid}${values.detail ? `, ${values.detail}` : ''}`, Number(values.top))}\n`);
}
