// The compact form of the ServiceAccount entries a `Vault` resource holds
// (spec.serviceAccountRoles): what every role and policy shares, once, then
// namespace and name per ServiceAccount. The ServiceAccount lifecycle writes
// it; the Vault lifecycle renders the roles and policies from it when it
// applies externalConfig. Rendered entries were ~700 B each in the resource
// (plus their managedFields); a compact one is ~45 B. Pure.
import { serviceAccountPolicyName, serviceAccountRoleName } from '../../api/naming.js';
import type { ExternalConfig } from '../../api/vault-config.js';
import type { ServiceAccountRoleEntry, ServiceAccountRolesSpec } from '../../api/vault.js';
import { databasePolicyRules, type DatabaseEntry } from './database.js';
import type { ServiceAccountEntries } from './intent.js';
import { renderPolicyTemplate, type ServiceAccountSettings } from './settings.js';

/** What every role and policy of one operator's ServiceAccounts shares. */
export type RolesHeader = Omit<ServiceAccountRolesSpec, 'entries'>;

export function headerOf(settings: Pick<ServiceAccountSettings, 'kubernetesAuthPath' | 'tokenTtlSeconds' | 'tokenMaxTtlSeconds' | 'policyTemplate'>): RolesHeader {
  return {
    authPath: settings.kubernetesAuthPath,
    tokenTtl: settings.tokenTtlSeconds,
    tokenMaxTtl: settings.tokenMaxTtlSeconds,
    policyTemplate: settings.policyTemplate,
  };
}

/** The role and policy one entry stands for (the database line added to the policy, as the ServiceAccount lifecycle owes it). */
export function renderEntry(header: RolesHeader, entry: ServiceAccountRoleEntry): ServiceAccountEntries {
  const { namespace, name } = entry;
  const policyName = serviceAccountPolicyName(namespace, name);
  const base = renderPolicyTemplate(header.policyTemplate, { namespace, name });
  const database = entry.database as DatabaseEntry | undefined;
  return {
    authPath: header.authPath,
    role: {
      name: serviceAccountRoleName(namespace, name),
      bound_service_account_names: [name],
      bound_service_account_namespaces: [namespace],
      token_policies: [policyName],
      token_ttl: header.tokenTtl,
      token_max_ttl: header.tokenMaxTtl,
    },
    policy: { name: policyName, rules: database ? withDatabaseRules(base, database) : base },
    ...(database ? { database } : {}),
  };
}

export function withDatabaseRules(rules: string, database: DatabaseEntry): string {
  return `${rules.replace(/\n*$/, '\n')}${databasePolicyRules(database)}`;
}

/** The compact entry of what a ServiceAccount is owed. */
export function compactEntry(serviceAccount: string, entries: ServiceAccountEntries): ServiceAccountRoleEntry {
  const at = serviceAccount.indexOf('/');
  return {
    namespace: serviceAccount.slice(0, at),
    name: serviceAccount.slice(at + 1),
    ...(entries.database ? { database: { ...entries.database, role: { ...entries.database.role } } } : {}),
  };
}

/** `sa.<namespace>.<name>` -> namespace and name (a namespace has no dots; a name may). */
export function parseEntryName(entry: string): { namespace: string; name: string } | undefined {
  const m = /^sa\.([a-z0-9]([-a-z0-9]*[a-z0-9])?)\.(.+)$/.exec(entry);
  if (!m) return undefined;
  const parsed = { namespace: m[1]!, name: m[3]! };
  return serviceAccountRoleName(parsed.namespace, parsed.name) === entry ? parsed : undefined;
}

const NO_ENTRIES: ReadonlyMap<string, ServiceAccountRoleEntry> = new Map();
/** storedEntries per spec object: each ServiceAccount pass reads it from the same watched copy (1,000 passes x 1,000 entries was ~0.5 s of CPU in a burst, and the garbage) */
const storedMemo = new WeakMap<object, ReadonlyMap<string, ServiceAccountRoleEntry>>();

/** Role name -> entry, as stored. The spec is read as it is (the watch's copies are never changed in place). */
export function storedEntries(spec: ServiceAccountRolesSpec | undefined): ReadonlyMap<string, ServiceAccountRoleEntry> {
  if (!spec?.entries) return NO_ENTRIES;
  let out = storedMemo.get(spec.entries);
  if (!out) {
    const map = new Map<string, ServiceAccountRoleEntry>();
    for (const e of spec.entries) map.set(serviceAccountRoleName(e.namespace, e.name), e);
    storedMemo.set(spec.entries, (out = map));
  }
  return out;
}

type AuthEntry = NonNullable<ExternalConfig['auth']>[number];

/**
 * externalConfig with the roles and policies spec.serviceAccountRoles stands
 * for, as the Vault lifecycle applies it. A role or policy of the same name
 * written in externalConfig wins (the ServiceAccount lifecycle reports it as
 * a conflict); so does an auth mount of another type at that path.
 */
export function withServiceAccountRoles(config: ExternalConfig | undefined, spec: ServiceAccountRolesSpec | undefined): ExternalConfig | undefined {
  if (!spec || spec.entries.length === 0) return config;
  const auth: AuthEntry[] = [...(config?.auth ?? [])];
  const policies = [...(config?.policies ?? [])];
  const secrets = [...(config?.secrets ?? [])];
  const policyNames = new Set(policies.map((p) => p.name));
  let at = auth.findIndex((a) => (a.path || a.type) === spec.authPath);
  if (at < 0) {
    auth.push({ type: 'kubernetes', path: spec.authPath, roles: [] });
    at = auth.length - 1;
  }
  const mount = auth[at]!;
  const usable = mount.type === 'kubernetes';
  const roles = [...((mount.roles as Array<Record<string, unknown>> | undefined) ?? [])];
  const roleNames = new Set(roles.map((r) => r['name']));
  for (const entry of spec.entries) {
    const rendered = renderEntry(spec, entry);
    if (!usable || roleNames.has(rendered.role.name) || policyNames.has(rendered.policy.name)) continue;
    const db = rendered.database;
    const engineAt = db ? secrets.findIndex((s) => s.type === db.type && (s.path ?? '') === db.path) : -1;
    if (db) {
      if (engineAt < 0) continue;
      const engine = secrets[engineAt]!;
      const configuration = (engine.configuration ?? {}) as Record<string, unknown>;
      const dbRoles = Array.isArray(configuration['roles']) ? (configuration['roles'] as Array<Record<string, unknown>>) : [];
      if (dbRoles.some((r) => r['name'] === db.role.name)) continue;
      secrets[engineAt] = { ...engine, configuration: { ...configuration, roles: [...dbRoles, { ...db.role }] } };
    }
    roles.push({ ...rendered.role });
    policies.push({ ...rendered.policy });
  }
  auth[at] = { ...mount, roles } as AuthEntry;
  return { ...(config ?? {}), auth, policies, ...(secrets.length ? { secrets } : {}) } as ExternalConfig;
}
