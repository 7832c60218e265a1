// What a `Vault` resource already holds for the ServiceAccount lifecycle:
// its compact entries (spec.serviceAccountRoles), the rendered entries an
// earlier version's field manager still owns in externalConfig (read from
// managedFields, migrated by the next apply), and whether they match what a
// ServiceAccount is owed. Pure.
import type { SelfServiceSpec, ServiceAccountRolesSpec } from '../../api/vault.js';
import { renderEntry, storedEntries } from './compact.js';
import { pickDatabaseRole, type DatabaseVaultLike } from './database.js';
import type { ServiceAccountEntries } from './intent.js';

/** `secrets[]` list-map key (type, path as stored) as one map key. */
export function engineKey(type: string, path: string): string {
  return `${type}\n${path}`;
}

export function splitEngineKey(key: string): { type: string; path: string } {
  const at = key.indexOf('\n');
  return { type: key.slice(0, at), path: key.slice(at + 1) };
}

/** The parts of a `Vault` resource this lifecycle reads. */
export interface VaultResourceLike {
  metadata?: {
    uid?: string;
    namespace?: string;
    name?: string;
    managedFields?: Array<{ manager?: string; operation?: string; fieldsV1?: unknown }>;
    deletionTimestamp?: Date | string;
  };
  spec?: {
    externalConfig?: {
      auth?: Array<{ path?: string; type?: string; roles?: Array<Record<string, unknown>> }>;
      policies?: Array<{ name?: string; rules?: unknown }>;
      secrets?: Array<{ type?: string; path?: string; configuration?: Record<string, unknown> }>;
    };
    selfService?: NonNullable<DatabaseVaultLike['spec']>['selfService'] & SelfServiceSpec;
    serviceAccountRoles?: ServiceAccountRolesSpec;
  };
}

/** Names of the entries one field manager owns in a `Vault` resource (from managedFields). */
export interface OwnedEntries {
  /** auth path -> role names */
  roles: Map<string, Set<string>>;
  policies: Set<string>;
  /** engineKey(type, path) of a `secrets[]` entry -> database role names */
  databaseRoles: Map<string, Set<string>>;
}

/**
 * What `manager` owns, read from the resource's managedFields (fieldsV1 keys
 * like `k:{"name":"sa.shop.orders"}`). This, not the names, decides what is
 * ours: a hand-written role that happens to look like ours is not.
 */
export function ownedEntries(vault: VaultResourceLike, manager: string): OwnedEntries {
  const owned: OwnedEntries = { roles: new Map(), policies: new Set(), databaseRoles: new Map() };
  for (const entry of vault.metadata?.managedFields ?? []) {
    if (entry.manager !== manager || entry.operation !== 'Apply') continue;
    const config = child(child(entry.fieldsV1, 'f:spec'), 'f:externalConfig');
    for (const [key, auth] of Object.entries(child(config, 'f:auth') ?? {})) {
      const literal = listKey(key, 'path');
      if (literal === undefined) continue;
      // a pathless entry (`{type: kubernetes}`, Bank-Vaults' shape) mounts at its type
      const path = literal || (listKey(key, 'type') ?? '');
      const names = owned.roles.get(path) ?? new Set<string>();
      for (const roleKey of Object.keys(child(auth, 'f:roles') ?? {})) {
        const name = listKey(roleKey, 'name');
        if (name !== undefined) names.add(name);
      }
      if (names.size > 0) owned.roles.set(path, names);
    }
    for (const key of Object.keys(child(config, 'f:policies') ?? {})) {
      const name = listKey(key, 'name');
      if (name !== undefined) owned.policies.add(name);
    }
    for (const [key, engine] of Object.entries(child(config, 'f:secrets') ?? {})) {
      const type = listKey(key, 'type');
      const path = listKey(key, 'path');
      if (type === undefined || path === undefined) continue;
      const ek = engineKey(type, path);
      const names = owned.databaseRoles.get(ek) ?? new Set<string>();
      for (const roleKey of Object.keys(child(child(engine, 'f:configuration'), 'f:roles') ?? {})) {
        const name = listKey(roleKey, 'name');
        if (name !== undefined) names.add(name);
      }
      if (names.size > 0) owned.databaseRoles.set(ek, names);
    }
  }
  return owned;
}

function child(node: unknown, key: string): Record<string, unknown> | undefined {
  if (!node || typeof node !== 'object') return undefined;
  const value = (node as Record<string, unknown>)[key];
  return value && typeof value === 'object' ? (value as Record<string, unknown>) : undefined;
}

/** `k:{"name":"x"}` -> "x" */
function listKey(key: string, field: string): string | undefined {
  if (!key.startsWith('k:')) return undefined;
  try {
    const value = (JSON.parse(key.slice(2)) as Record<string, unknown>)[field];
    return typeof value === 'string' ? value : undefined;
  } catch {
    return undefined;
  }
}

/** Whether this ServiceAccount's role (under any auth path) or policy is among what the manager owns. */
export function ownsAnyOf(owned: OwnedEntries, roleName: string, policyName: string): boolean {
  if (owned.policies.has(policyName)) return true;
  for (const names of owned.roles.values()) if (names.has(roleName)) return true;
  for (const names of owned.databaseRoles.values()) if (names.has(roleName)) return true;
  return false;
}

/** The database roles listed in a `secrets[]` entry's configuration. */
export function engineRoles(config: CurrentConfig, key: string): Array<Record<string, unknown>> {
  const { type, path } = splitEngineKey(key);
  const engine = (config?.secrets ?? []).find((e) => e.type === type && (e.path ?? '') === path);
  const roles = engine?.configuration?.['roles'];
  return Array.isArray(roles) ? (roles.filter((r) => r && typeof r === 'object') as Array<Record<string, unknown>>) : [];
}

/**
 * True when the resource already serves this ServiceAccount exactly so
 * (its compact entry renders to these entries, nothing hand-written of the
 * same name shadows it, nothing of an earlier version left to migrate):
 * applying again would change nothing.
 */
export function holdsEntries(vault: VaultResourceLike, entries: ServiceAccountEntries, manager: string): boolean {
  const owned = ownedEntries(vault, manager);
  if (owned.roles.size > 0 || owned.policies.size > 0 || owned.databaseRoles.size > 0) return false;
  const spec = vault.spec?.serviceAccountRoles;
  const stored = storedEntries(spec).get(entries.role.name);
  if (!spec || !stored) return false;
  const rendered = renderEntry(spec, stored);
  if (!sameJson(rendered.role, entries.role) || rendered.authPath !== entries.authPath || rendered.policy.rules !== entries.policy.rules) return false;
  const want = entries.database;
  const have = rendered.database;
  if (Boolean(want) !== Boolean(have)) return false;
  if (want && have && !(want.type === have.type && want.path === have.path && want.mount === have.mount && sameJson(pickDatabaseRole({ ...have.role }), pickDatabaseRole({ ...want.role })))) return false;
  // a hand-written role or policy of that name shadows ours: not in sync (the apply reports the conflict)
  const config = vault.spec?.externalConfig;
  const auth = authAt(config, entries.authPath);
  if (auth?.type !== undefined && auth.type !== 'kubernetes') return false;
  if ((auth?.roles ?? []).some((r) => r['name'] === entries.role.name)) return false;
  return !(config?.policies ?? []).some((p) => p.name === entries.policy.name);
}

export function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

export type CurrentConfig = NonNullable<VaultResourceLike['spec']>['externalConfig'];

/**
 * The auth entry mounted at `path`: its effective path (`path`, or `type` when
 * empty as in Bank-Vaults) decides, so a migrated `{type: kubernetes}` and our
 * `kubernetes` path are one mount (the CRD refuses two entries for one path).
 */
export function authAt(config: CurrentConfig, path: string): NonNullable<NonNullable<CurrentConfig>['auth']>[number] | undefined {
  return (config?.auth ?? []).find((a) => (a.path || a.type) === path);
}
