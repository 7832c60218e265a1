// The one server-side apply that carries every ServiceAccount a `Vault`
// resource serves, in compact form (spec.serviceAccountRoles, one atomic
// field). It also migrates what an earlier version wrote: rendered roles and
// policies owned by the manager in externalConfig become compact entries, and
// the same apply (which no longer lists them) takes them out. Pure.
import { API_GROUP_VERSION } from '../../api/naming.js';
import { canonicalJson } from '../../framework/index.js';
import type { ServiceAccountRoleEntry, ServiceAccountRolesSpec } from '../../api/vault.js';
import { compactEntry, parseEntryName, storedEntries, type RolesHeader } from './compact.js';
import { pickDatabaseRole } from './database.js';
import type { ServiceAccountEntries } from './intent.js';
import type { VaultRef } from './settings.js';
import { authAt, engineRoles, ownedEntries, splitEngineKey, type OwnedEntries, type VaultResourceLike } from './vault-entries.js';

export interface VaultApplyConfiguration {
  apiVersion: string;
  kind: 'Vault';
  metadata: { name: string; namespace: string; uid?: string };
  spec?: { serviceAccountRoles: ServiceAccountRolesSpec };
}

/** One ServiceAccount's change to a `Vault` resource: its entries, or `null` to take them out. */
export interface EntryChange {
  serviceAccount: string;
  roleName: string;
  policyName: string;
  entries: ServiceAccountEntries | null;
}

export interface CollectiveApply {
  /** the object to apply with the manager; it lists every ServiceAccount the Vault serves */
  config: VaultApplyConfiguration;
  /** false when applying would change nothing */
  changed: boolean;
  /** changes left out: externalConfig already has a role or policy of that name (hand-written) */
  conflicts: Array<{ serviceAccount: string; fields: string[] }>;
  /** ServiceAccounts whose entry already was as asked (added and present, or removed and absent) */
  unchanged: Set<string>;
}

/**
 * The compact entries an earlier version's rendered entries stand for (role
 * names owned by the manager in externalConfig, with their database roles).
 */
export function legacyEntries(current: VaultResourceLike, owned: OwnedEntries): Map<string, ServiceAccountRoleEntry> {
  const out = new Map<string, ServiceAccountRoleEntry>();
  const names = new Set<string>(owned.policies);
  for (const set of owned.roles.values()) for (const n of set) names.add(n);
  for (const set of owned.databaseRoles.values()) for (const n of set) names.add(n);
  for (const roleName of names) {
    const who = parseEntryName(roleName);
    if (who) out.set(roleName, { namespace: who.namespace, name: who.name });
  }
  for (const [key, set] of owned.databaseRoles) {
    const { type, path } = splitEngineKey(key);
    for (const stored of engineRoles(current.spec?.externalConfig, key)) {
      const name = stored['name'];
      const entry = typeof name === 'string' && set.has(name) ? out.get(name) : undefined;
      if (!entry) continue;
      const mount = (path || type).replace(/^\/+|\/+$/g, '');
      out.set(name as string, { ...entry, database: { type: 'database', path, mount, role: pickDatabaseRole(stored) } });
    }
  }
  return out;
}

/** Role names the manager keeps in this resource: compact entries, and rendered ones an earlier version left. */
export function heldRoleNames(current: VaultResourceLike, manager: string): Set<string> {
  const names = new Set(storedEntries(current.spec?.serviceAccountRoles).keys());
  for (const name of legacyEntries(current, ownedEntries(current, manager)).keys()) names.add(name);
  return names;
}

/** Where externalConfig already has what this ServiceAccount would get (and the manager did not write it). */
function conflictsOf(current: VaultResourceLike, entries: ServiceAccountEntries, legacy: ReadonlySet<string>): string[] {
  const config = current.spec?.externalConfig;
  const { authPath, role, policy, database } = entries;
  const fields: string[] = [];
  if (database && !legacy.has(database.role.name)) {
    const key = `${database.type}\n${database.path}`;
    if (engineRoles(config, key).some((r) => r['name'] === database.role.name)) {
      fields.push(`.spec.externalConfig.secrets[type="${database.type}",path="${database.path}"].configuration.roles[name="${database.role.name}"]`);
    }
  }
  const auth = authAt(config, authPath);
  if (!legacy.has(role.name) && (auth?.roles ?? []).some((r) => r['name'] === role.name)) {
    fields.push(`.spec.externalConfig.auth[path="${authPath}"].roles[name="${role.name}"]`);
  }
  if (auth?.type !== undefined && auth.type !== 'kubernetes') fields.push(`.spec.externalConfig.auth[path="${authPath}"].type (${auth.type})`);
  if (!legacy.has(policy.name) && (config?.policies ?? []).some((p) => p.name === policy.name)) {
    fields.push(`.spec.externalConfig.policies[name="${policy.name}"]`);
  }
  return fields;
}

/**
 * The apply of ALL ServiceAccounts the `Vault` resource serves, after
 * `changes`, under `header` (the operator's settings). One apply carries a
 * whole batch; server-side apply removes the rendered entries an earlier
 * version owned, since this one no longer lists them.
 */
export function collectiveApply(
  target: VaultRef,
  current: VaultResourceLike,
  manager: string,
  changes: readonly EntryChange[],
  header: RolesHeader,
): CollectiveApply {
  const legacy = legacyEntries(current, ownedEntries(current, manager));
  const held = new Map([...legacy, ...storedEntries(current.spec?.serviceAccountRoles)]);
  const legacyNames = new Set(legacy.keys());
  const conflicts: CollectiveApply['conflicts'] = [];
  const unchanged = new Set<string>();
  for (const change of changes) {
    const before = held.get(change.roleName);
    held.delete(change.roleName);
    if (!change.entries) {
      if (!before) unchanged.add(change.serviceAccount);
      continue;
    }
    const fields = conflictsOf(current, change.entries, legacyNames);
    if (fields.length > 0) conflicts.push({ serviceAccount: change.serviceAccount, fields });
    else {
      const entry = compactEntry(change.serviceAccount, change.entries);
      if (before && !legacyNames.has(change.roleName) && canonicalJson(before) === canonicalJson(entry)) unchanged.add(change.serviceAccount);
      held.set(change.roleName, entry);
    }
  }
  const entries = [...held.values()].sort((a, b) => a.namespace.localeCompare(b.namespace) || a.name.localeCompare(b.name));
  const next: VaultApplyConfiguration = {
    apiVersion: API_GROUP_VERSION,
    kind: 'Vault',
    metadata: { name: target.name, namespace: target.namespace, ...(current.metadata?.uid ? { uid: current.metadata.uid } : {}) },
    ...(entries.length ? { spec: { serviceAccountRoles: { ...header, entries } } } : {}),
  };
  const stored = current.spec?.serviceAccountRoles;
  const changed = legacy.size > 0 || comparable(next.spec?.serviceAccountRoles) !== comparable(stored);
  return { config: next, changed, conflicts, unchanged };
}

/** The stored copy and the apply as one text (key order aside: canonicalJson); no entries = none. */
function comparable(spec: ServiceAccountRolesSpec | undefined): string | undefined {
  if (!spec || spec.entries.length === 0) return undefined;
  return canonicalJson({ ...spec, entries: spec.entries.map((e) => (e.database ? { ...e, database: { ...e.database, role: pickDatabaseRole({ ...e.database.role }) } } : e)) });
}
