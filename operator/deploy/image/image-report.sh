#!/usr/bin/env bash
# Prints, per platform of an OCI archive's image index, the compressed size
# (what a node pulls) and the uncompressed size (what it stores).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

archive="${1:-$ARCHIVE}"
[ -f "$archive" ] || die "no archive at $archive (run make image)"
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
tar xf "$archive" -C "$dir"

node --input-type=module - "$dir" <<'JS'
import { readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
const dir = process.argv[2];
const blob = (digest) => `${dir}/blobs/${digest.replace(':', '/')}`;
const json = (digest) => JSON.parse(readFileSync(blob(digest), 'utf8'));
const mib = (n) => `${(n / 1024 / 1024).toFixed(1)} MiB`;
const index = JSON.parse(readFileSync(`${dir}/index.json`, 'utf8'));
const list = json(index.manifests[0].digest);
console.log(`index ${index.manifests[0].digest} (${index.manifests[0].annotations?.['org.opencontainers.image.ref.name'] ?? 'unnamed'})`);
for (const m of list.manifests ?? [index.manifests[0]]) {
  const manifest = json(m.digest);
  const config = json(manifest.config.digest);
  const compressed = manifest.layers.reduce((n, l) => n + l.size, 0) + manifest.config.size;
  const uncompressed = manifest.layers.reduce(
    (n, l) => n + Number(execFileSync('sh', ['-c', `gzip -dc '${blob(l.digest)}' | wc -c`]).toString().trim()), 0);
  const platform = `${config.os}/${config.architecture}${config.variant ? '/' + config.variant : ''}`;
  console.log(`${platform.padEnd(16)} compressed ${mib(compressed).padStart(10)}  uncompressed ${mib(uncompressed).padStart(10)}  layers ${manifest.layers.length}  user ${config.config.User}`);
}
JS
