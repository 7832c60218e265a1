// Where the server binaries live and which versions are pinned. The pins are
// read from build-servers.sh so that the script stays their single source.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const HARNESS_DIR = dirname(fileURLToPath(import.meta.url));
export const REPO_ROOT = resolve(HARNESS_DIR, '..', '..');
export const BUILD_SCRIPT = join(HARNESS_DIR, 'build-servers.sh');

export type ServerName = 'etcd' | 'kube-apiserver' | 'vault' | 'local-kms';
export const SERVER_NAMES: readonly ServerName[] = ['etcd', 'kube-apiserver', 'vault', 'local-kms'];

const VERSION_VARIABLE: Record<ServerName, string> = {
  etcd: 'ETCD_VERSION',
  'kube-apiserver': 'KUBE_VERSION',
  vault: 'VAULT_VERSION',
  'local-kms': 'LOCAL_KMS_VERSION',
};

/** Pure: `NAME=value` assignments at the start of a line of a shell script. */
export function parseShellAssignments(script: string): Map<string, string> {
  const found = new Map<string, string>();
  for (const line of script.split('\n')) {
    const match = /^([A-Z_][A-Z0-9_]*)=([^\s#]+)/.exec(line);
    if (match) found.set(match[1]!, match[2]!.replace(/^["']|["']$/g, ''));
  }
  return found;
}

export function pinnedVersions(script = readFileSync(BUILD_SCRIPT, 'utf8')): Record<ServerName, string> {
  const vars = parseShellAssignments(script);
  const versions = {} as Record<ServerName, string>;
  for (const name of SERVER_NAMES) {
    const value = vars.get(VERSION_VARIABLE[name]);
    if (!value) throw new Error(`${BUILD_SCRIPT} does not pin ${VERSION_VARIABLE[name]}`);
    versions[name] = value;
  }
  return versions;
}

export function cacheDir(): string {
  return process.env.VAULT_AUTOPILOT_CACHE ?? join(homedir(), '.cache', 'vault-autopilot');
}

let goVersion: string | undefined;
/** Binaries are keyed by the Go version that built them (as build-servers.sh does). */
export function binDir(): string {
  if (process.env.VAULT_AUTOPILOT_BIN_DIR) return process.env.VAULT_AUTOPILOT_BIN_DIR;
  goVersion ??= execFileSync('go', ['env', 'GOVERSION'], { encoding: 'utf8', env: { ...process.env, GOTOOLCHAIN: process.env.GOTOOLCHAIN ?? 'local' } }).trim();
  return join(cacheDir(), 'bin', goVersion);
}

export function binaryPath(name: ServerName, versions = pinnedVersions()): string {
  return join(binDir(), `${name}-${versions[name]}`);
}

export function missingBinaries(names: readonly ServerName[] = SERVER_NAMES): ServerName[] {
  const versions = pinnedVersions();
  return names.filter((name) => !existsSync(binaryPath(name, versions)));
}

/** Builds what is missing (progress goes to stderr); a no-op when all are cached. */
export function ensureBinaries(names: readonly ServerName[] = SERVER_NAMES): void {
  const missing = missingBinaries(names);
  if (missing.length === 0) return;
  execFileSync('bash', [BUILD_SCRIPT, ...missing], { stdio: ['ignore', 'ignore', 'inherit'] });
  const still = missingBinaries(names);
  if (still.length > 0) throw new Error(`build-servers.sh did not produce: ${still.join(', ')}`);
}

/** Fails with a message that says how to get the binaries, instead of an ENOENT. */
export function requireBinaries(names: readonly ServerName[]): void {
  const missing = missingBinaries(names);
  if (missing.length === 0) return;
  if (process.env.VAULT_AUTOPILOT_BUILD_SERVERS === '1') return ensureBinaries(names);
  throw new Error(
    `server binaries missing in ${binDir()}: ${missing.join(', ')}. ` +
      'Run `make servers` (or set VAULT_AUTOPILOT_BUILD_SERVERS=1 to build them on demand).',
  );
}
