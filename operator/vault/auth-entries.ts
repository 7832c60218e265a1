// The entries an auth method carries besides its config: roles at the
// method's role endpoint and Bank-Vaults' extra collections (ldap groups,
// github map, ...), with their keys and ids as the plan and the record know them.
import type { AuthMethodSpec, VaultParams } from '../api/vault.js';
import type { Problem } from './config-plan.js';

/** Where each method keeps its roles. Methods not listed cannot carry `roles`. */
export const ROLE_ENDPOINTS: Readonly<Record<string, string>> = {
  kubernetes: 'role',
  approle: 'role',
  jwt: 'role',
  oidc: 'role',
  aws: 'role',
  gcp: 'role',
  azure: 'role',
  cert: 'certs',
  userpass: 'users',
};

/**
 * Bank-Vaults' other per-method collections, written like roles (one object
 * per name under auth/<path>/<collection>/<name>, tracked, removed when they
 * leave the spec): ldap/okta `groups` and `users` (maps name -> parameters),
 * github `map` ({teams|users: {name: policies}}), aws `crossaccountrole`
 * ([{sts_account, sts_role}] -> config/sts/<account>).
 */
export const EXTRA_COLLECTIONS: Readonly<Record<string, readonly string[]>> = {
  ldap: ['groups', 'users'],
  okta: ['groups', 'users'],
  github: ['map/teams', 'map/users'],
  aws: ['config/sts'],
};

/** Role parameters Vault takes but never returns (so they cannot be compared, and are no typo). */
export const WRITE_ONLY_ROLE_PARAMS: Readonly<Record<string, readonly string[]>> = { userpass: ['password'] };

/**
 * Bank-Vaults' userpass `users` list ({username, password, ...}) is this
 * operator's `roles` of a userpass method (auth/<path>/users/<name>).
 */
export function withUserpassUsers(spec: AuthMethodSpec): AuthMethodSpec {
  if (spec.type !== 'userpass' || !Array.isArray(spec.users) || !spec.users.length) return spec;
  const users = (spec.users as Array<Record<string, unknown>>).map(({ username, ...rest }) => ({ ...rest, name: String(username ?? rest['name'] ?? '') }));
  const { users: _users, ...rest } = spec;
  return { ...rest, roles: [...(spec.roles ?? []), ...users] };
}

/** `name` of an entry as the plan and the record know it: bare in the type's role endpoint, else `<collection>/<name>`. */
export function entryKey(name: string, collection?: string): string {
  return collection ? `${collection}/${name}` : name;
}

/** `groups/dev` -> {collection: 'groups', name: 'dev'}; a bare name is in the role endpoint. */
export function parseEntryKey(key: string, type: string): { collection: string | undefined; name: string } {
  for (const collection of EXTRA_COLLECTIONS[type] ?? []) {
    if (key.startsWith(`${collection}/`)) return { collection, name: key.slice(collection.length + 1) };
  }
  return { collection: undefined, name: key };
}

/** Bank-Vaults' extra collections of one method, as entries (problems for shapes that do not fit). */
export function extraEntries(spec: AuthMethodSpec, path: string, problems: Problem[]): DesiredRole[] {
  const out: DesiredRole[] = [];
  const objectOf = (value: unknown): Record<string, unknown> | undefined =>
    value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  const bad = (field: string, why: string) => problems.push({ concern: 'role', id: `${path}/${field}`, message: `auth "${path}" ${field}: ${why}` });
  if (spec.type === 'ldap' || spec.type === 'okta') {
    for (const collection of ['groups', 'users'] as const) {
      const value = spec[collection];
      if (value === undefined || value === null) continue;
      const map = objectOf(value);
      if (!map) {
        bad(collection, 'must be a map of name -> parameters');
        continue;
      }
      for (const [name, params] of Object.entries(map)) {
        const body = objectOf(params);
        if (!body) bad(`${collection}.${name}`, 'must be an object of parameters (e.g. {policies: [...]})');
        else out.push({ name, collection, params: { ...body } });
      }
    }
  }
  if (spec.type === 'github' && spec.map !== undefined && spec.map !== null) {
    for (const [kind, entries] of Object.entries(objectOf(spec.map) ?? {})) {
      if (kind !== 'teams' && kind !== 'users') {
        bad(`map.${kind}`, 'only teams and users can be mapped');
        continue;
      }
      for (const [name, value] of Object.entries(objectOf(entries) ?? {})) {
        out.push({ name, collection: `map/${kind}`, params: { value: Array.isArray(value) ? value.join(',') : String(value) } });
      }
    }
  }
  if (spec.type === 'aws' && Array.isArray(spec.crossaccountrole)) {
    for (const item of spec.crossaccountrole) {
      const entry = objectOf(item);
      const account = entry?.['sts_account'];
      if (!entry || (typeof account !== 'string' && typeof account !== 'number')) {
        bad('crossaccountrole', 'each entry needs sts_account and sts_role');
        continue;
      }
      // the account is the name (config/sts/<account>); Vault does not store it as a field
      const { sts_account: _account, ...params } = entry;
      out.push({ name: String(account), collection: 'config/sts', params });
    }
  }
  return out;
}


/** Bank-Vaults and older Vault role parameter names -> current token_* names. */
const ROLE_ALIASES: Readonly<Record<string, string>> = {
  policies: 'token_policies',
  ttl: 'token_ttl',
  max_ttl: 'token_max_ttl',
  period: 'token_period',
  bound_cidrs: 'token_bound_cidrs',
};


export interface DesiredRole {
  name: string;
  /** one of EXTRA_COLLECTIONS[type]; absent: the type's role endpoint */
  collection?: string;
  params: VaultParams;
}

/** The key of a desired entry in ActualAuthMount.roles / roleNames and in role ids. */
export function keyOf(role: DesiredRole): string {
  return entryKey(role.name, role.collection);
}

export function roleId(path: string, role: string): string {
  return `${path}/${role}`;
}

/**
 * `kubernetes/app` -> ['kubernetes', 'app'] (a role name never contains a
 * slash); with the mounts known, `ldap/groups/dev` -> ['ldap', 'groups/dev']
 * when `ldap` is an ldap mount (an extra collection of its type).
 */
export function splitRoleId(id: string, mounts?: ReadonlyMap<string, { type: string }>): [string, string] {
  const at = id.lastIndexOf('/');
  const head = id.slice(0, at);
  if (mounts && !mounts.has(head)) {
    for (const [path, mount] of mounts) {
      for (const collection of EXTRA_COLLECTIONS[mount.type] ?? []) {
        if (head === `${path}/${collection}`) return [path, id.slice(path.length + 1)];
      }
    }
  }
  return [head, id.slice(at + 1)];
}

export function normaliseRoleParams(role: VaultParams): VaultParams {
  const params: VaultParams = {};
  for (const [key, value] of Object.entries(role)) {
    if (key === 'name') continue;
    const canonical = ROLE_ALIASES[key] ?? key;
    // an explicit token_* wins over its alias
    if (canonical !== key && role[canonical] !== undefined) continue;
    params[canonical] = value;
  }
  return params;
}

