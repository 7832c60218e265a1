// Key/value secrets in Vault, engine versions 1 and 2, on top of client.ts.
// Where a secret lives is asked of Vault (sys/internal/ui/mounts/<path>)
// rather than guessed from the path; the pure helpers turn a logical path
// ("secret/team/app") plus its mount into the API paths each verb uses.
import { VaultError, type VaultClient } from './client.js';

export type KvVersion = 'v1' | 'v2';

export interface KvMount {
  /** Mount path without trailing slash, e.g. "secret" or "kv/team". */
  path: string;
  /** Engine type as Vault reports it ("kv", "generic", ...). */
  type: string;
  /** Set for KV engines; undefined for anything else. */
  version: KvVersion | undefined;
}

export interface KvLocation {
  mount: string;
  version: KvVersion;
  /** Path of the secret inside the mount, no leading/trailing slash, never starting with data/ or metadata/ for v2. */
  secretPath: string;
}

/** Plain data: string values as the operator writes them; other JSON as found in Vault. */
export type KvData = Record<string, unknown>;

export interface KvSecret {
  /** Undefined when the secret does not exist (v2: or its latest version is deleted/destroyed). */
  data?: KvData;
  /** KV v2 current version (0 when the secret has never existed); undefined for v1. */
  version?: number;
}

/** Split and normalise a logical path; undefined when it is not a usable secret path. Pure. */
export function normaliseSecretPath(path: string): string | undefined {
  const segments = path.trim().replace(/^\/+|\/+$/g, '').split('/');
  if (segments.some((s) => s === '' || s === '.' || s === '..')) return undefined;
  return segments.join('/');
}

/**
 * Where a logical path lands inside a mount. For v2 a leading `data/`
 * (kms-vault-operator users wrote the API path) is accepted and dropped. Pure.
 */
export function locateInMount(logicalPath: string, mountPath: string, version: KvVersion): KvLocation | undefined {
  const path = normaliseSecretPath(logicalPath);
  const mount = mountPath.replace(/^\/+|\/+$/g, '');
  if (!path || !mount || !path.startsWith(`${mount}/`)) return undefined;
  let secretPath = path.slice(mount.length + 1);
  if (version === 'v2' && secretPath.startsWith('data/')) secretPath = secretPath.slice('data/'.length);
  if (!secretPath) return undefined;
  return { mount, version, secretPath };
}

/** The API paths for reading/writing and for deleting a secret. Pure. */
export function kvApiPaths(loc: KvLocation): { data: string; delete: string } {
  if (loc.version === 'v1') {
    const p = `${loc.mount}/${loc.secretPath}`;
    return { data: p, delete: p };
  }
  return { data: `${loc.mount}/data/${loc.secretPath}`, delete: `${loc.mount}/metadata/${loc.secretPath}` };
}

/** The logical path a user writes for this location (the form `spec.path` takes). Pure. */
export function logicalPath(loc: KvLocation): string {
  return `${loc.mount}/${loc.secretPath}`;
}

/** True when Vault already holds exactly these string values (same keys, same strings). Pure. */
export function kvDataMatches(current: KvData | undefined, desired: Record<string, string>): boolean {
  if (!current) return false;
  const currentKeys = Object.keys(current);
  const desiredKeys = Object.keys(desired);
  if (currentKeys.length !== desiredKeys.length) return false;
  return desiredKeys.every((k) => Object.prototype.hasOwnProperty.call(current, k) && current[k] === desired[k]);
}

interface UiMountResponse {
  data?: { path?: string; type?: string; options?: { version?: string } | null };
}

/**
 * Ask Vault which mount serves `logicalPath`. Returns undefined when no mount
 * serves it (or the token may not see it). Throws VaultError when Vault is
 * unreachable or answers with an unexpected error.
 */
export async function detectMount(client: VaultClient, logicalPath: string): Promise<KvMount | undefined> {
  const path = normaliseSecretPath(logicalPath);
  if (!path) return undefined;
  const res = await client.request<UiMountResponse>('GET', `sys/internal/ui/mounts/${path}`, undefined, {
    allowStatus: [400, 403, 404],
  });
  const info = res.data.data;
  if (res.status >= 400 || !info?.path) return undefined;
  const type = info.type ?? '';
  let version: KvVersion | undefined;
  if (type === 'kv' || type === 'generic') version = info.options?.version === '2' ? 'v2' : 'v1';
  return { path: info.path.replace(/\/+$/, ''), type, version };
}

interface V2ReadResponse {
  data?: { data?: KvData | null; metadata?: { version?: number } | null } | null;
}
interface V1ReadResponse {
  data?: KvData | null;
}

/** Read a secret; `data` is undefined when it is absent. */
export async function readKv(client: VaultClient, loc: KvLocation): Promise<KvSecret> {
  const path = kvApiPaths(loc).data;
  if (loc.version === 'v1') {
    const res = await client.request<V1ReadResponse>('GET', path, undefined, { allowStatus: [404] });
    if (res.status === 404 || !res.data.data) return {};
    return { data: res.data.data };
  }
  const res = await client.request<V2ReadResponse>('GET', path, undefined, { allowStatus: [404] });
  const version = res.data.data?.metadata?.version ?? 0;
  const data = res.data.data?.data;
  if (res.status === 404 || !data) return { version };
  return { data, version };
}

/**
 * Write the whole secret. For v2, `cas` makes Vault refuse the write when the
 * secret changed since it was read (0 = only if it does not exist yet).
 */
export async function writeKv(
  client: VaultClient,
  loc: KvLocation,
  data: Record<string, string>,
  options: { cas?: number } = {},
): Promise<void> {
  const path = kvApiPaths(loc).data;
  if (loc.version === 'v1') {
    await client.request('PUT', path, data);
    return;
  }
  const body: { data: Record<string, string>; options?: { cas: number } } = { data };
  if (options.cas !== undefined) body.options = { cas: options.cas };
  await client.request('PUT', path, body);
}

/** Delete the secret (v2: its metadata and every version). Absent is not an error. */
export async function deleteKv(client: VaultClient, loc: KvLocation): Promise<void> {
  await client.request('DELETE', kvApiPaths(loc).delete, undefined, { allowStatus: [404] });
}

export function isUnreachable(err: unknown): boolean {
  return err instanceof VaultError && err.unreachable;
}
