// Auth methods and their roles: normalise desired, read actual, pure plan(), apply().
// Mounts are enabled/tuned through sys/auth, the method's configuration is
// written to auth/<path>/config, roles to auth/<path>/<role endpoint>/<name>.
import { effectiveAuthPath, type AuthMethodSpec, type VaultParams } from '../api/vault.js';
import type { VaultClient } from './client.js';
import {
  applyChanges,
  differingKeys,
  duplicates,
  paramsSatisfied,
  trimPath,
  type ApplyResult,
  type Change,
  type Plan,
  type Problem,
} from './config-plan.js';
import {
  EXTRA_COLLECTIONS,
  extraEntries,
  entryKey,
  keyOf,
  normaliseRoleParams,
  parseEntryKey,
  ROLE_ENDPOINTS,
  roleId,
  splitRoleId,
  withUserpassUsers,
  WRITE_ONLY_ROLE_PARAMS,
  type DesiredRole,
} from './auth-entries.js';

export * from './auth-entries.js';

/** Paths Vault owns; the operator never mounts, tunes or removes them. */
const RESERVED_AUTH_PATHS = ['token'];

/** Defaults for the `kubernetes` method: the cluster the operator runs in. */
export interface ClusterDefaults {
  kubernetesHost?: string;
  kubernetesCaCert?: string;
}

export interface DesiredAuth {
  path: string;
  type: string;
  description?: string;
  /** tune parameters */
  options: VaultParams;
  /** auth/<path>/config; undefined when the spec sets none and there is no default */
  config?: VaultParams;
  roles: DesiredRole[];
}

export interface ActualAuthMount {
  type: string;
  description: string;
  /** sys/auth's `config` block (tune values, durations in seconds) */
  tune: VaultParams;
  /** auth/<path>/config, when read */
  config?: VaultParams;
  /** entry key (see entryKey) -> parameters as read back, for the entries the plan asks about */
  roles: Map<string, VaultParams>;
  /** all entry keys the method lists (its role endpoint and its extra collections) */
  roleNames: string[];
}

/** auth path -> mount */
export type ActualAuth = Map<string, ActualAuthMount>;
export function normaliseAuth(
  specs: AuthMethodSpec[] | undefined,
  cluster: ClusterDefaults,
): { desired: DesiredAuth[]; problems: Problem[] } {
  const problems: Problem[] = [];
  const desired: DesiredAuth[] = [];
  specs = specs?.map(withUserpassUsers);
  const paths = (specs ?? []).map((s) => trimPath(effectiveAuthPath(s) ?? ''));
  for (const path of duplicates(paths)) {
    problems.push({ concern: 'auth', id: path, message: `auth path "${path}" is listed more than once` });
  }
  for (const spec of specs ?? []) {
    const path = trimPath(effectiveAuthPath(spec) ?? '');
    const type = spec.type ?? '';
    if (!path) {
      problems.push({ concern: 'auth', id: type || '?', message: `auth method of type "${type}" has no path` });
      continue;
    }
    if (!type) {
      problems.push({ concern: 'auth', id: path, message: `auth method at "${path}" has no type` });
      continue;
    }
    if (RESERVED_AUTH_PATHS.includes(path)) {
      problems.push({ concern: 'auth', id: path, message: `auth path "${path}" is built into Vault and cannot be managed` });
      continue;
    }
    if (desired.some((d) => d.path === path)) continue;
    const roles: DesiredRole[] = [];
    if (spec.roles?.length && !ROLE_ENDPOINTS[type]) {
      problems.push({
        concern: 'role',
        id: path,
        message: `auth method "${path}" of type "${type}" has roles, but the operator knows no role endpoint for that type`,
      });
    } else {
      for (const name of duplicates((spec.roles ?? []).map((r) => r.name))) {
        problems.push({ concern: 'role', id: roleId(path, name), message: `role "${name}" is listed more than once in auth "${path}"` });
      }
      for (const role of spec.roles ?? []) {
        if (!role.name || role.name.includes('/')) {
          problems.push({ concern: 'role', id: roleId(path, String(role.name)), message: `role name "${String(role.name)}" in auth "${path}" is invalid` });
          continue;
        }
        if (roles.some((r) => r.name === role.name)) continue;
        roles.push({ name: role.name, params: normaliseRoleParams(role) });
      }
    }
    for (const entry of extraEntries(spec, path, problems)) {
      if (!entry.name || entry.name.includes('/')) {
        problems.push({ concern: 'role', id: roleId(path, keyOf(entry)), message: `name "${entry.name}" in auth "${path}" ${entry.collection} is invalid` });
        continue;
      }
      if (roles.some((r) => keyOf(r) === keyOf(entry))) continue;
      roles.push(entry);
    }
    let config = spec.config ? { ...spec.config } : undefined;
    if (type === 'kubernetes') {
      config = { ...config };
      if (config.kubernetes_host === undefined && cluster.kubernetesHost) config.kubernetes_host = cluster.kubernetesHost;
      if (config.kubernetes_ca_cert === undefined && cluster.kubernetesCaCert) config.kubernetes_ca_cert = cluster.kubernetesCaCert;
      if (Object.keys(config).length === 0) config = undefined;
    }
    desired.push({
      path,
      type,
      ...(spec.description !== undefined ? { description: spec.description } : {}),
      options: { ...(spec.options ?? {}) },
      ...(config ? { config } : {}),
      roles,
    });
  }
  return { desired, problems };
}

interface SysAuthEntry {
  type: string;
  description?: string;
  config?: VaultParams;
}

/** Reads sys/auth, and for the paths the spec or the record mention: config and roles. */
export async function readAuth(
  client: VaultClient,
  desired: DesiredAuth[],
  managedPaths: string[],
  managedRoles: string[],
  /** roles (by roleId) the caller knows hold their desired parameters: listed, not read */
  settled: (id: string) => boolean = () => false,
): Promise<ActualAuth> {
  const res = await client.request<{ data?: Record<string, SysAuthEntry> } & Record<string, unknown>>('GET', 'sys/auth');
  const mounts = (res.data.data ?? res.data) as Record<string, SysAuthEntry>;
  const actual: ActualAuth = new Map();
  for (const [rawPath, entry] of Object.entries(mounts)) {
    if (!entry || typeof entry !== 'object' || typeof entry.type !== 'string') continue;
    actual.set(trimPath(rawPath), {
      type: entry.type,
      description: entry.description ?? '',
      tune: entry.config ?? {},
      roles: new Map(),
      roleNames: [],
    });
  }
  const interesting = new Set([...desired.map((d) => d.path), ...managedPaths, ...managedRoles.map((id) => splitRoleId(id, actual)[0])]);
  for (const path of interesting) {
    const mount = actual.get(path);
    if (!mount) continue;
    const want = desired.find((d) => d.path === path);
    if (want?.config) {
      const cfg = await client.request<{ data?: VaultParams }>('GET', `auth/${path}/config`, undefined, { allowStatus: [404] });
      if (cfg.status !== 404) mount.config = cfg.data.data ?? {};
    }
    const endpoint = ROLE_ENDPOINTS[mount.type];
    const extras = EXTRA_COLLECTIONS[mount.type] ?? [];
    // an extra collection is listed only when the spec or the record uses it (no reads for plain mounts)
    const used = new Set([
      ...(want?.roles ?? []).map((r) => r.collection),
      ...managedRoles.map((id) => splitRoleId(id, actual)).filter(([p]) => p === path).map(([, key]) => parseEntryKey(key, mount.type).collection),
    ]);
    for (const collection of [undefined, ...extras]) {
      const at = collection ?? endpoint;
      if (!at || (collection && !used.has(collection))) continue;
      const list = await client.request<{ data?: { keys?: string[] } }>('LIST', `auth/${path}/${at}`, undefined, { allowStatus: [404] });
      mount.roleNames.push(...(list.status === 404 ? [] : (list.data.data?.keys ?? [])).map((name) => entryKey(name, collection)));
    }
    const listed = new Set(mount.roleNames);
    for (const role of want?.roles ?? []) {
      const key = keyOf(role);
      if (!listed.has(key)) continue;
      if (settled(roleId(path, key))) {
        mount.roles.set(key, role.params);
        continue;
      }
      const at = role.collection ?? endpoint;
      const got = await client.request<{ data?: VaultParams }>('GET', `auth/${path}/${at}/${encodeURIComponent(role.name)}`, undefined, {
        allowStatus: [404],
      });
      if (got.status !== 404) mount.roles.set(key, got.data.data ?? {});
    }
  }
  return actual;
}

/**
 * Auth mounts and their configuration (and removals of managed mounts).
 * A mount whose type differs from the spec is a problem, not a remount:
 * disabling an auth method drops every token it issued.
 */
export function planAuthMounts(desired: DesiredAuth[], actual: ActualAuth, managedPaths: string[]): Plan {
  const changes: Change[] = [];
  const problems: Problem[] = [];
  for (const want of desired) {
    const have = actual.get(want.path);
    if (have && have.type !== want.type) {
      problems.push({
        concern: 'auth',
        id: want.path,
        message: `auth path "${want.path}" already holds a "${have.type}" method, the spec asks for "${want.type}"; disable it by hand to switch`,
      });
      continue;
    }
    if (!have) {
      const writes: Change['writes'] = [
        {
          method: 'POST',
          path: `sys/auth/${want.path}`,
          body: { type: want.type, ...(want.description !== undefined ? { description: want.description } : {}), config: want.options },
        },
      ];
      if (want.config) writes.push({ method: 'POST', path: `auth/${want.path}/config`, body: want.config });
      changes.push({ concern: 'auth', action: 'create', id: want.path, writes, summary: `enabled auth method ${want.path} (${want.type})` });
      continue;
    }
    const tuneKeys = differingKeys(want.options, have.tune);
    const descriptionDiffers = want.description !== undefined && want.description !== have.description;
    if (tuneKeys.length || descriptionDiffers) {
      changes.push({
        concern: 'auth',
        action: 'update',
        id: want.path,
        writes: [
          {
            method: 'POST',
            path: `sys/auth/${want.path}/tune`,
            body: { ...want.options, ...(want.description !== undefined ? { description: want.description } : {}) },
          },
        ],
        summary: `tuned auth method ${want.path} (${[...tuneKeys, ...(descriptionDiffers ? ['description'] : [])].join(', ')})`,
      });
    }
    if (want.config && !paramsSatisfied(want.config, have.config)) {
      const keys = have.config ? differingKeys(want.config, have.config) : Object.keys(want.config).sort();
      changes.push({
        concern: 'auth',
        action: 'update',
        id: want.path,
        writes: [{ method: 'POST', path: `auth/${want.path}/config`, body: want.config }],
        summary: `configured auth method ${want.path} (${keys.join(', ')})`,
      });
    }
  }
  const wanted = new Set(desired.map((d) => d.path));
  for (const path of managedPaths) {
    if (wanted.has(path) || RESERVED_AUTH_PATHS.includes(path) || !actual.has(path)) continue;
    changes.push({ concern: 'auth', action: 'delete', id: path, writes: [{ method: 'DELETE', path: `sys/auth/${path}` }], summary: `disabled auth method ${path}` });
  }
  return { changes, problems };
}

/** Roles: write what differs, delete managed roles the spec dropped (down to a single role). */
export function planRoles(desired: DesiredAuth[], actual: ActualAuth, managedRoles: string[]): Plan {
  const changes: Change[] = [];
  const problems: Problem[] = [];
  const mountsBeingCreated = new Set(desired.filter((d) => !actual.has(d.path)).map((d) => d.path));
  for (const want of desired) {
    const have = actual.get(want.path);
    if (have && have.type !== want.type) continue; // reported by planAuthMounts
    for (const role of want.roles) {
      const endpoint = role.collection ?? ROLE_ENDPOINTS[want.type];
      if (!endpoint) continue;
      const key = keyOf(role);
      const what = role.collection ? `${role.collection} entry` : 'role';
      const current = have?.roles.get(key);
      if (current) {
        // a role read returns every field the method knows: one it does not return is a typo Vault ignored
        const unknown = Object.keys(role.params).filter((key) => current[key] === undefined && !WRITE_ONLY_ROLE_PARAMS[want.type]?.includes(key));
        if (unknown.length) {
          problems.push({
            concern: 'role',
            id: roleId(want.path, key),
            message: `${what} "${role.name}" in auth "${want.path}" sets ${unknown.join(', ')}, which Vault does not know (ignored)`,
          });
        }
      }
      if (current && paramsSatisfied(role.params, current)) continue;
      const fields = current ? differingKeys(role.params, current) : [];
      changes.push({
        concern: 'role',
        action: current ? 'update' : 'create',
        id: roleId(want.path, key),
        writes: [{ method: 'POST', path: `auth/${want.path}/${endpoint}/${encodeURIComponent(role.name)}`, body: role.params }],
        summary: current
          ? `updated ${what} ${role.name} in auth ${want.path} (${fields.join(', ')})`
          : `created ${what} ${role.name} in auth ${want.path}`,
      });
    }
  }
  const wanted = new Set(desired.flatMap((d) => d.roles.map((r) => roleId(d.path, keyOf(r)))));
  const listed = new Map<string, Set<string>>();
  const listedIn = (path: string, mount: ActualAuthMount) => listed.get(path) ?? listed.set(path, new Set(mount.roleNames)).get(path)!;
  const desiredPaths = new Set(desired.map((d) => d.path));
  for (const id of managedRoles) {
    if (wanted.has(id)) continue;
    const [path, key] = splitRoleId(id, actual);
    const mount = actual.get(path);
    // a mount that goes away takes its roles with it
    if (!mount || !desiredPaths.has(path) || mountsBeingCreated.has(path)) continue;
    const { collection, name } = parseEntryKey(key, mount.type);
    const endpoint = collection ?? ROLE_ENDPOINTS[mount.type];
    if (!endpoint || !listedIn(path, mount).has(key)) continue;
    changes.push({
      concern: 'role',
      action: 'delete',
      id,
      writes: [{ method: 'DELETE', path: `auth/${path}/${endpoint}/${encodeURIComponent(name)}` }],
      summary: `deleted ${collection ? `${collection} entry` : 'role'} ${name} from auth ${path}`,
    });
  }
  return { changes, problems };
}

export function applyAuth(client: VaultClient, changes: Change[]): Promise<ApplyResult> {
  return applyChanges(client, changes);
}
