// `make bundle` / `make install-manifest`: writes olm-bundle/ from the single
// sources. With --check, writes nothing and exits 1 if a checked-in file
// differs from what would be generated (or a stale file is left over).
//
//   tsx operator/deploy/generate.ts [bundle|install-manifest|all] [--check]
// Env: IMAGE (operator image, e.g. pinned by digest; default
// ghcr.io/vault-autopilot/vault-autopilot:<version>), NAMESPACE (kubectl install),
// WEBHOOK_FAILURE_POLICY (Fail|Ignore; default Fail for install.yaml, Ignore for OLM).
//
//   tsx operator/deploy/generate.ts install-manifest --watch-namespaces=a,b > install-scoped.yaml
// prints an install.yaml whose operator watches only namespaces a and b (a
// Role in each, no cluster-wide rights to their objects); nothing is written.

import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { KubernetesObject } from '@kubernetes/client-node';
import yaml from 'js-yaml';
import { bundleFiles, installFiles } from './bundle.js';
import { defaultInstallSettings, InstallMode, type InstallSettings } from './install-settings.js';
import { readCrds } from './manifests.js';
import { parseWatchNamespaces } from '../settings.js';

export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const BUNDLE_DIR = join(REPO_ROOT, 'olm-bundle');
/** Generated subfolders of olm-bundle/: anything else in them is stale. */
const GENERATED_DIRS = ['manifests', 'metadata'];

export function readVersion(root = REPO_ROOT): string {
  return (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version;
}

export function readSamples(root = REPO_ROOT): KubernetesObject[] {
  const dir = join(root, 'samples');
  if (!existsSync(dir)) return [];
  const walk = (d: string): string[] =>
    readdirSync(d, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(d, e.name)) : /\.ya?ml$/.test(e.name) ? [join(d, e.name)] : []));
  return walk(dir)
    .sort()
    .flatMap((f) => yaml.loadAll(readFileSync(f, 'utf8')))
    .filter((doc): doc is KubernetesObject => typeof doc === 'object' && doc !== null && 'kind' in doc);
}

export function settingsFor(mode: InstallMode, env: Record<string, string | undefined> = process.env, root = REPO_ROOT): InstallSettings {
  const settings = defaultInstallSettings(mode, readVersion(root));
  const problems: string[] = [];
  const watchNamespaces = parseWatchNamespaces(env['WATCH_NAMESPACES'], problems);
  if (problems.length) throw new Error(problems.join('; '));
  return {
    ...settings,
    ...(env['IMAGE'] ? { image: env['IMAGE'] } : {}),
    ...(env['NAMESPACE'] && mode === InstallMode.Kubectl ? { namespace: env['NAMESPACE'] } : {}),
    ...(env['WEBHOOK_FAILURE_POLICY'] ? { webhookFailurePolicy: failurePolicyFrom(env['WEBHOOK_FAILURE_POLICY']) } : {}),
    ...(watchNamespaces && mode === InstallMode.Kubectl ? { watchNamespaces } : {}),
  };
}

function failurePolicyFrom(value: string): 'Fail' | 'Ignore' {
  if (value !== 'Fail' && value !== 'Ignore') throw new Error(`WEBHOOK_FAILURE_POLICY must be Fail or Ignore, got "${value}"`);
  return value;
}

export type Target = 'bundle' | 'install-manifest' | 'all';

/** Every file the target generates, relative to olm-bundle/. */
export function generatedFiles(target: Target, env: Record<string, string | undefined> = process.env, root = REPO_ROOT): Map<string, string> {
  const crds = readCrds(join(root, 'crds'));
  const files = new Map<string, string>();
  if (target !== 'install-manifest') for (const [p, c] of bundleFiles(settingsFor(InstallMode.Olm, env, root), crds, readSamples(root))) files.set(p, c);
  if (target !== 'bundle') for (const [p, c] of installFiles(settingsFor(InstallMode.Kubectl, env, root), crds)) files.set(p, c);
  return files;
}

/** Paths (relative to olm-bundle/) that differ from, are missing from, or are stale next to, the generated files. */
export function differences(files: Map<string, string>, target: Target, bundleDir = BUNDLE_DIR): string[] {
  const problems: string[] = [];
  for (const [path, content] of files) {
    const full = join(bundleDir, path);
    if (!existsSync(full)) problems.push(`missing: ${path}`);
    else if (readFileSync(full, 'utf8') !== content) problems.push(`differs: ${path}`);
  }
  if (target !== 'install-manifest') {
    for (const dir of GENERATED_DIRS) {
      const full = join(bundleDir, dir);
      if (!existsSync(full)) continue;
      for (const f of readdirSync(full)) {
        const path = `${dir}/${f}`;
        if (!files.has(path)) problems.push(`stale: ${path}`);
      }
    }
  }
  return problems;
}

function write(files: Map<string, string>, target: Target, bundleDir = BUNDLE_DIR): void {
  if (target !== 'install-manifest') for (const dir of GENERATED_DIRS) rmSync(join(bundleDir, dir), { recursive: true, force: true });
  for (const [path, content] of files) {
    const full = join(bundleDir, path);
    mkdirSync(dirname(full), { recursive: true });
    writeFileSync(full, content);
    console.log(`wrote ${relative(REPO_ROOT, full)}`);
  }
}

function main(argv: string[]): number {
  const check = argv.includes('--check');
  const target = (argv.find((a) => !a.startsWith('--')) ?? 'all') as Target;
  if (!['bundle', 'install-manifest', 'all'].includes(target)) {
    console.error(`usage: generate.ts [bundle|install-manifest|all] [--check]`);
    return 2;
  }
  const scoped = argv.find((a) => a.startsWith('--watch-namespaces='));
  if (scoped) {
    if (target !== 'install-manifest' || check) {
      console.error('--watch-namespaces goes with install-manifest (printed to stdout)');
      return 2;
    }
    process.stdout.write(generatedFiles('install-manifest', { ...process.env, WATCH_NAMESPACES: scoped.slice('--watch-namespaces='.length) }).get('install.yaml')!);
    return 0;
  }
  const files = generatedFiles(target);
  if (!check) {
    write(files, target);
    return 0;
  }
  const problems = differences(files, target);
  for (const p of problems) console.error(p);
  if (problems.length) console.error(`olm-bundle/ is out of date: run make ${target === 'all' ? 'bundle install-manifest' : target}`);
  return problems.length ? 1 : 0;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) process.exitCode = main(process.argv.slice(2));
