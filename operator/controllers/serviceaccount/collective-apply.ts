// The one server-side apply that carries every ServiceAccount entry a field
// manager keeps in a `Vault` resource. Pure.
import { API_GROUP_VERSION } from '../../api/naming.js';
import { pickDatabaseRole, type DatabaseRole } from './database.js';
import type { KubernetesAuthRole, PolicyEntry, ServiceAccountEntries } from './intent.js';
import type { VaultRef } from './settings.js';
import {
  authAt,
  engineKey,
  engineRoles,
  ownedEntries,
  sameJson,
  splitEngineKey,
  type CurrentConfig,
  type OwnedEntries,
  type VaultResourceLike,
} from './vault-entries.js';

export interface VaultApplyConfiguration {
  apiVersion: string;
  kind: 'Vault';
  metadata: { name: string; namespace: string; uid?: string };
  spec?: {
    externalConfig: {
      auth?: Array<{ path: string; type: 'kubernetes'; roles: KubernetesAuthRole[] }>;
      policies?: PolicyEntry[];
      secrets?: Array<{ type: string; path: string; configuration: { roles: DatabaseRole[] } }>;
    };
  };
}

/** One ServiceAccount's change to a `Vault` resource: its entries, or `null` to take them out. */
export interface EntryChange {
  serviceAccount: string;
  roleName: string;
  policyName: string;
  entries: ServiceAccountEntries | null;
}

export interface CollectiveApply {
  /** the object to apply with the manager; it lists every entry the manager keeps */
  config: VaultApplyConfiguration;
  /** false when applying would change nothing */
  changed: boolean;
  /** changes left out: another manager owns an entry of that name (a hand-written role or policy) */
  conflicts: Array<{ serviceAccount: string; fields: string[] }>;
}

const ROLE_KEYS: ReadonlyArray<keyof KubernetesAuthRole> = [
  'name',
  'bound_service_account_names',
  'bound_service_account_namespaces',
  'token_policies',
  'token_ttl',
  'token_max_ttl',
];

/**
 * The apply of ALL ServiceAccount entries the manager keeps in one `Vault`
 * resource, after `changes`. Server-side apply removes what the manager owned
 * and no longer lists, and never touches what other managers own (hand-written
 * entries); one apply carries a whole batch of ServiceAccounts. Pure.
 */
export function collectiveApply(
  target: VaultRef,
  current: VaultResourceLike,
  manager: string,
  changes: readonly EntryChange[],
): CollectiveApply {
  const owned = ownedEntries(current, manager);
  const config = current.spec?.externalConfig;
  // what we keep today: our entries with their current values
  const roles = new Map<string, Map<string, KubernetesAuthRole>>();
  for (const [path, names] of owned.roles) {
    const auth = authAt(config, path);
    const byName = new Map<string, KubernetesAuthRole>();
    for (const role of auth?.roles ?? []) {
      const name = role['name'];
      if (typeof name === 'string' && names.has(name)) byName.set(name, pickRole(role));
    }
    roles.set(path, byName);
  }
  const policies = new Map<string, PolicyEntry>();
  for (const policy of config?.policies ?? []) {
    if (policy.name && owned.policies.has(policy.name)) policies.set(policy.name, { name: policy.name, rules: String(policy.rules ?? '') });
  }
  const databaseRoles = new Map<string, Map<string, DatabaseRole>>();
  for (const [key, names] of owned.databaseRoles) {
    const byName = new Map<string, DatabaseRole>();
    for (const role of engineRoles(config, key)) {
      const name = role['name'];
      if (typeof name === 'string' && names.has(name)) byName.set(name, pickDatabaseRole(role));
    }
    databaseRoles.set(key, byName);
  }

  const conflicts: CollectiveApply['conflicts'] = [];
  for (const change of changes) {
    for (const byName of roles.values()) byName.delete(change.roleName);
    for (const byName of databaseRoles.values()) byName.delete(change.roleName);
    policies.delete(change.policyName);
    if (!change.entries) continue;
    const { authPath, role, policy, database } = change.entries;
    const fields: string[] = [];
    if (database) {
      const key = engineKey(database.type, database.path);
      if (engineRoles(config, key).some((r) => r['name'] === database.role.name) && !owned.databaseRoles.get(key)?.has(database.role.name)) {
        fields.push(`.spec.externalConfig.secrets[type="${database.type}",path="${database.path}"].configuration.roles[name="${database.role.name}"]`);
      }
    }
    const existingAuth = authAt(config, authPath);
    if ((existingAuth?.roles ?? []).some((r) => r['name'] === role.name) && !owned.roles.get(authPath)?.has(role.name)) {
      fields.push(`.spec.externalConfig.auth[path="${authPath}"].roles[name="${role.name}"]`);
    }
    if (existingAuth?.type !== undefined && existingAuth.type !== 'kubernetes') {
      fields.push(`.spec.externalConfig.auth[path="${authPath}"].type (${existingAuth.type})`);
    }
    if ((config?.policies ?? []).some((p) => p.name === policy.name) && !owned.policies.has(policy.name)) {
      fields.push(`.spec.externalConfig.policies[name="${policy.name}"]`);
    }
    if (fields.length > 0) {
      conflicts.push({ serviceAccount: change.serviceAccount, fields });
      continue;
    }
    const byName = roles.get(authPath) ?? new Map<string, KubernetesAuthRole>();
    byName.set(role.name, { ...role });
    roles.set(authPath, byName);
    policies.set(policy.name, { ...policy });
    if (database) {
      const key = engineKey(database.type, database.path);
      const dbByName = databaseRoles.get(key) ?? new Map<string, DatabaseRole>();
      dbByName.set(database.role.name, pickDatabaseRole({ ...database.role }));
      databaseRoles.set(key, dbByName);
    }
  }

  const auth = [...roles.entries()]
    .filter(([, byName]) => byName.size > 0)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([path, byName]) => ({
      // join the entry already mounted there under the list key it was written with
      path: authAt(config, path)?.path ?? path,
      type: 'kubernetes' as const,
      roles: [...byName.values()].sort((a, b) => a.name.localeCompare(b.name)),
    }));
  const policyList = [...policies.values()].sort((a, b) => a.name.localeCompare(b.name));
  const secrets = databaseList(databaseRoles);
  const next: VaultApplyConfiguration = {
    apiVersion: API_GROUP_VERSION,
    kind: 'Vault',
    metadata: { name: target.name, namespace: target.namespace, ...(current.metadata?.uid ? { uid: current.metadata.uid } : {}) },
    ...(auth.length || policyList.length || secrets.length
      ? {
          spec: {
            externalConfig: {
              ...(auth.length ? { auth } : {}),
              ...(policyList.length ? { policies: policyList } : {}),
              ...(secrets.length ? { secrets } : {}),
            },
          },
        }
      : {}),
  };
  return { config: next, changed: !sameEntries(next, roles0(owned, config), policies0(owned, config), databases0(owned, config)), conflicts };
}

/** `secrets[]` entries carrying only our database roles, in canonical order. */
function databaseList(byKey: Map<string, Map<string, DatabaseRole>>): NonNullable<NonNullable<VaultApplyConfiguration['spec']>['externalConfig']['secrets']> {
  return [...byKey.entries()]
    .filter(([, byName]) => byName.size > 0)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([key, byName]) => ({ ...splitEngineKey(key), configuration: { roles: [...byName.values()].sort((a, b) => a.name.localeCompare(b.name)) } }));
}

function databases0(owned: OwnedEntries, config: CurrentConfig): ReturnType<typeof databaseList> {
  const byKey = new Map<string, Map<string, DatabaseRole>>();
  for (const [key, names] of owned.databaseRoles) {
    const byName = new Map<string, DatabaseRole>();
    for (const role of engineRoles(config, key)) {
      if (typeof role['name'] === 'string' && names.has(role['name'])) byName.set(role['name'], pickDatabaseRole(role));
    }
    byKey.set(key, byName);
  }
  return databaseList(byKey);
}

function pickRole(role: Record<string, unknown>): KubernetesAuthRole {
  const picked: Record<string, unknown> = {};
  for (const key of ROLE_KEYS) if (role[key] !== undefined) picked[key] = role[key];
  return picked as unknown as KubernetesAuthRole;
}


/** Our entries as they are now, in the same canonical form as the apply. */
function roles0(owned: OwnedEntries, config: CurrentConfig): Array<{ path: string; roles: KubernetesAuthRole[] }> {
  return [...owned.roles.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([path, names]) => ({
      path,
      roles: (authAt(config, path)?.roles ?? [])
        .filter((r) => typeof r['name'] === 'string' && names.has(r['name'] as string))
        .map(pickRole)
        .sort((a, b) => a.name.localeCompare(b.name)),
    }))
    .filter((a) => a.roles.length > 0);
}

function policies0(owned: OwnedEntries, config: CurrentConfig): PolicyEntry[] {
  return (config?.policies ?? [])
    .filter((p) => p.name && owned.policies.has(p.name))
    .map((p) => ({ name: p.name!, rules: String(p.rules ?? '') }))
    .sort((a, b) => a.name.localeCompare(b.name));
}

function sameEntries(
  next: VaultApplyConfiguration,
  roles: Array<{ path: string; roles: KubernetesAuthRole[] }>,
  policies: PolicyEntry[],
  databases: ReturnType<typeof databaseList>,
): boolean {
  const nextRoles = (next.spec?.externalConfig.auth ?? []).map((a) => ({ path: a.path || a.type, roles: a.roles }));
  return sameJson(nextRoles, roles) && sameJson(next.spec?.externalConfig.policies ?? [], policies) && sameJson(next.spec?.externalConfig.secrets ?? [], databases);
}
