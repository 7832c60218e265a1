// Pure decisions of the ServiceAccount lifecycle: what a ServiceAccount asks
// for (annotations + settings -> intent), the role and policy it is owed, the
// server-side-apply object that carries them into the target `Vault`
// resource, and whether that resource already holds them (so an in-sync
// reconcile writes nothing). No I/O here.
import { API_GROUP_VERSION, serviceAccountPolicyName, serviceAccountRoleName } from '../../api/naming.js';
import {
  AUTO_CONFIGURE_ENABLED,
  ServiceAccountAnnotation,
  ServiceAccountReason,
} from '../../api/serviceaccount.js';
import {
  asksForDatabase,
  databasePolicyRules,
  desiredDatabase,
  pickDatabaseRole,
  type DatabaseEntry,
  type DatabaseProblem,
  type DatabaseRole,
  type DatabaseVaultLike,
} from './database.js';
import type { SelfServiceSpec } from '../../api/vault.js';
import { capRefusal, countNamespaceRoles, namespaceRefusal, type Refusal } from './self-service.js';
import {
  formatVaultRef,
  parseVaultRef,
  renderPolicyTemplate,
  type ServiceAccountSettings,
  type VaultRef,
} from './settings.js';

/** The parts of a ServiceAccount this lifecycle reads. */
export interface ServiceAccountLike {
  metadata?: {
    name?: string;
    namespace?: string;
    annotations?: Record<string, string>;
    finalizers?: string[];
    deletionTimestamp?: Date | string;
  };
}

/** A Kubernetes-auth role as written into `spec.externalConfig.auth[].roles[]` (free-form besides name). */
export interface KubernetesAuthRole {
  name: string;
  bound_service_account_names: string[];
  bound_service_account_namespaces: string[];
  token_policies: string[];
  token_ttl: number;
  token_max_ttl: number;
}

export interface PolicyEntry {
  name: string;
  rules: string;
}

/** The role and policy one ServiceAccount is owed. */
export interface ServiceAccountEntries {
  authPath: string;
  role: KubernetesAuthRole;
  policy: PolicyEntry;
  /** a database role on a connection the target Vault offers (db-dynamic-creds annotation) */
  database?: DatabaseEntry;
}

export interface Problem {
  reason: ServiceAccountReason;
  message: string;
}

/** `secrets[]` list-map key (type, path as stored) as one map key. */
export function engineKey(type: string, path: string): string {
  return `${type}\n${path}`;
}

function splitEngineKey(key: string): { type: string; path: string } {
  const at = key.indexOf('\n');
  return { type: key.slice(0, at), path: key.slice(at + 1) };
}

/**
 * What the ServiceAccount asks for right now.
 * - configure: its entries belong in `target`;
 * - unconfigure: it should have no entries anywhere; `problem` (if any) is
 *   bad input the user should hear about (a Warning Event), not a reason to retry.
 */
export type Intent =
  | { kind: 'configure'; target: VaultRef; entries: ServiceAccountEntries }
  | { kind: 'unconfigure'; problem?: Problem };

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
  };
}

export function annotationName(settings: Pick<ServiceAccountSettings, 'annotationPrefix'>, suffix: string): string {
  return `${settings.annotationPrefix}${suffix}`;
}

/** Whether the controller should look at this ServiceAccount at all (the framework also passes ones carrying our finalizer). */
export function mentionsAutoConfigure(sa: ServiceAccountLike, settings: Pick<ServiceAccountSettings, 'annotationPrefix'>): boolean {
  const annotations = sa.metadata?.annotations ?? {};
  return (
    annotationName(settings, ServiceAccountAnnotation.AutoConfigure) in annotations ||
    annotationName(settings, ServiceAccountAnnotation.AppliedVault) in annotations ||
    asksForDatabase(annotations, settings)
  );
}

export function decideIntent(sa: ServiceAccountLike, settings: ServiceAccountSettings): Intent {
  const meta = sa.metadata ?? {};
  const namespace = meta.namespace ?? '';
  const name = meta.name ?? '';
  if (meta.deletionTimestamp) return { kind: 'unconfigure' };
  const annotations = meta.annotations ?? {};
  const autoConfigureKey = annotationName(settings, ServiceAccountAnnotation.AutoConfigure);
  // db-dynamic-creds alone implies auto-configure: the credentials are read with the ServiceAccount's own role
  const value = annotations[autoConfigureKey] ?? (asksForDatabase(annotations, settings) ? AUTO_CONFIGURE_ENABLED : undefined);
  if (value === undefined) return { kind: 'unconfigure' };
  if (value !== AUTO_CONFIGURE_ENABLED) {
    return {
      kind: 'unconfigure',
      problem: {
        reason: ServiceAccountReason.InvalidAnnotation,
        message: `${autoConfigureKey} is "${value}"; the only accepted value is "${AUTO_CONFIGURE_ENABLED}" (remove the annotation to opt out). No Vault role is configured for this ServiceAccount.`,
      },
    };
  }
  if (name === 'default' && !settings.allowDefaultServiceAccount) {
    return {
      kind: 'unconfigure',
      problem: {
        reason: ServiceAccountReason.DefaultServiceAccountRefused,
        message:
          'the "default" ServiceAccount is used by every pod of the namespace that names no other, so it is not given a Vault role; create a dedicated ServiceAccount (or the operator can allow this with VAULT_AUTOPILOT_ALLOW_DEFAULT_SERVICEACCOUNT=true)',
      },
    };
  }
  const target = targetVault(sa, settings);
  if ('problem' in target) return { kind: 'unconfigure', problem: target.problem };
  return { kind: 'configure', target: target.ref, entries: desiredEntries(namespace, name, settings) };
}

/** The `Vault` resource named by the ServiceAccount's annotation, else the operator's default. */
export function targetVault(
  sa: ServiceAccountLike,
  settings: ServiceAccountSettings,
): { ref: VaultRef } | { problem: Problem } {
  const key = annotationName(settings, ServiceAccountAnnotation.Vault);
  const value = sa.metadata?.annotations?.[key];
  if (value === undefined) return { ref: settings.defaultTargetVault };
  const ref = parseVaultRef(value);
  if (!ref) {
    return {
      problem: {
        reason: ServiceAccountReason.InvalidTargetVault,
        message: `${key} is "${value}"; it must be <namespace>/<name> of a Vault resource (or be left out to use ${formatVaultRef(settings.defaultTargetVault)})`,
      },
    };
  }
  return { ref };
}

/** The target recorded by the operator when it last applied, if any. */
export function appliedVault(sa: ServiceAccountLike, settings: ServiceAccountSettings): VaultRef | undefined {
  const value = sa.metadata?.annotations?.[annotationName(settings, ServiceAccountAnnotation.AppliedVault)];
  return value === undefined ? undefined : parseVaultRef(value);
}

export function desiredEntries(namespace: string, name: string, settings: ServiceAccountSettings): ServiceAccountEntries {
  const policyName = serviceAccountPolicyName(namespace, name);
  return {
    authPath: settings.kubernetesAuthPath,
    role: {
      name: serviceAccountRoleName(namespace, name),
      bound_service_account_names: [name],
      bound_service_account_namespaces: [namespace],
      token_policies: [policyName],
      token_ttl: settings.tokenTtlSeconds,
      token_max_ttl: settings.tokenMaxTtlSeconds,
    },
    policy: { name: policyName, rules: renderPolicyTemplate(settings.policyTemplate, { namespace, name }) },
  };
}

/**
 * The `Vault` resources to remove this ServiceAccount's entries from:
 * where it recorded applying them, unless that is where they belong now; when
 * unconfiguring, also the target it names (entries may have been applied just
 * before a crash that prevented recording it).
 */
export function removalTargets(
  sa: ServiceAccountLike,
  intent: Intent,
  settings: ServiceAccountSettings,
  finalizerName: string,
): VaultRef[] {
  const refs: VaultRef[] = [];
  const applied = appliedVault(sa, settings);
  if (applied) refs.push(applied);
  // the finalizer is added before the first apply: without it (and no record) nothing was ever applied
  const mayHaveApplied = applied !== undefined || (sa.metadata?.finalizers ?? []).includes(finalizerName);
  if (intent.kind === 'unconfigure' && mayHaveApplied) {
    const target = targetVault(sa, settings);
    if ('ref' in target) refs.push(target.ref);
  }
  const keep = intent.kind === 'configure' ? formatVaultRef(intent.target) : undefined;
  const unique = new Map(refs.map((ref) => [formatVaultRef(ref), ref]));
  if (keep) unique.delete(keep);
  return [...unique.values()];
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
function engineRoles(config: CurrentConfig, key: string): Array<Record<string, unknown>> {
  const { type, path } = splitEngineKey(key);
  const engine = (config?.secrets ?? []).find((e) => e.type === type && (e.path ?? '') === path);
  const roles = engine?.configuration?.['roles'];
  return Array.isArray(roles) ? (roles.filter((r) => r && typeof r === 'object') as Array<Record<string, unknown>>) : [];
}

/** True when the resource already holds these entries, owned by the manager: applying again would change nothing. */
export function holdsEntries(vault: VaultResourceLike, entries: ServiceAccountEntries, manager: string): boolean {
  const owned = ownedEntries(vault, manager);
  if (!owned.roles.get(entries.authPath)?.has(entries.role.name) || !owned.policies.has(entries.policy.name)) return false;
  // owned under another auth path too (the path setting changed): not in sync yet
  for (const [path, names] of owned.roles) if (path !== entries.authPath && names.has(entries.role.name)) return false;
  const config = vault.spec?.externalConfig;
  const auth = authAt(config, entries.authPath);
  if (!auth || auth.type !== 'kubernetes') return false;
  const role = (auth.roles ?? []).find((r) => r['name'] === entries.role.name);
  if (!role) return false;
  for (const [key, value] of Object.entries(entries.role)) {
    if (!sameJson(role[key], value)) return false;
  }
  const policy = (config?.policies ?? []).find((p) => p.name === entries.policy.name);
  if (policy === undefined || policy.rules !== entries.policy.rules) return false;
  // the database role: owned exactly where it belongs (and nowhere else), with the same values
  const want = entries.database;
  const wantKey = want ? engineKey(want.type, want.path) : undefined;
  for (const [key, names] of owned.databaseRoles) if (key !== wantKey && names.has(entries.role.name)) return false;
  if (!want || !wantKey) return true;
  if (!owned.databaseRoles.get(wantKey)?.has(want.role.name)) return false;
  const stored = engineRoles(config, wantKey).find((r) => r['name'] === want.role.name);
  return stored !== undefined && sameJson(pickDatabaseRole(stored), pickDatabaseRole({ ...want.role }));
}

function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

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

type CurrentConfig = NonNullable<VaultResourceLike['spec']>['externalConfig'];

/**
 * The auth entry mounted at `path`: its effective path (`path`, or `type` when
 * empty as in Bank-Vaults) decides, so a migrated `{type: kubernetes}` and our
 * `kubernetes` path are one mount (the CRD refuses two entries for one path).
 */
function authAt(config: CurrentConfig, path: string): NonNullable<NonNullable<CurrentConfig>['auth']>[number] | undefined {
  return (config?.auth ?? []).find((a) => (a.path || a.type) === path);
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

/** The `Vault` resources a reconcile must read before planning: removal targets, then the target. */
export function vaultsToRead(
  sa: ServiceAccountLike,
  intent: Intent,
  settings: ServiceAccountSettings,
  finalizerName: string,
): VaultRef[] {
  const refs = removalTargets(sa, intent, settings, finalizerName);
  if (intent.kind === 'configure') refs.push(intent.target);
  return refs;
}

/** Everything one reconcile of a ServiceAccount should do, in order. */
export interface ServiceAccountPlan {
  intent: Intent;
  /**
   * ServiceAccounts carry no finalizer (their namespace must never wait for the
   * operator; sweep.ts cleans up the Vault side instead): one an earlier
   * version added is removed once this pass succeeded
   */
  finalizer: 'remove' | undefined;
  /** resources to take this ServiceAccount's entries out of (the manager owns some there) */
  removals: EntryChangeAt[];
  /** the change that puts its entries into the target; absent when already there or impossible */
  apply: EntryChangeAt | undefined;
  /** the target `Vault` resource does not exist (or is being deleted): retry later */
  targetMissing: VaultRef | undefined;
  /** new value of the applied-vault annotation: a ref, `null` to remove it, `undefined` to leave it */
  appliedVault: string | null | undefined;
  /** database credentials were asked for and refused: said in a Warning Event; the rest goes ahead */
  databaseRefused?: DatabaseProblem;
  /** the target Vault does not serve this namespace, or its cap is reached: nothing is written there */
  selfServiceRefused?: Refusal;
}

/**
 * The entries with the database role the target Vault grants (and the policy
 * line to read its credentials), or the entries alone and why not.
 */
export function withDatabase(
  sa: ServiceAccountLike,
  entries: ServiceAccountEntries,
  settings: ServiceAccountSettings,
  vault: VaultResourceLike,
  vaultRef: string,
): { entries: ServiceAccountEntries; refused?: DatabaseProblem } {
  const meta = sa.metadata ?? {};
  const decision = desiredDatabase(meta.namespace ?? '', meta.name ?? '', meta.annotations, settings, vault, vaultRef);
  if (!decision) return { entries };
  if ('problem' in decision) return { entries, refused: decision.problem };
  const policy = { ...entries.policy, rules: `${entries.policy.rules.replace(/\n*$/, '\n')}${databasePolicyRules(decision.entry)}` };
  return { entries: { ...entries, policy, database: decision.entry } };
}

export interface EntryChangeAt {
  target: VaultRef;
  change: EntryChange;
}

/**
 * Plan one reconcile from the ServiceAccount and the `Vault` resources read
 * for it (`null` = not found). Every step is skipped when its effect is
 * already there, so a ServiceAccount in sync plans nothing.
 */
export function planServiceAccount(
  sa: ServiceAccountLike,
  settings: ServiceAccountSettings,
  vaults: ReadonlyMap<string, VaultResourceLike | null>,
  finalizerName: string,
  manager: string,
  /** labels of the ServiceAccount's namespace (needed only when the target admits by selector) */
  namespaceLabels: Record<string, string> = {},
): ServiceAccountPlan {
  const intent = decideIntent(sa, settings);
  const namespace = sa.metadata?.namespace ?? '';
  const name = sa.metadata?.name ?? '';
  const roleName = serviceAccountRoleName(namespace, name);
  const policyName = serviceAccountPolicyName(namespace, name);
  const serviceAccount = `${namespace}/${name}`;
  const hasFinalizer = (sa.metadata?.finalizers ?? []).includes(finalizerName);
  const deleting = Boolean(sa.metadata?.deletionTimestamp);
  const appliedKey = annotationName(settings, ServiceAccountAnnotation.AppliedVault);
  const recorded = sa.metadata?.annotations?.[appliedKey];

  const removals: EntryChangeAt[] = [];
  for (const target of removalTargets(sa, intent, settings, finalizerName)) {
    const vault = vaults.get(formatVaultRef(target));
    if (vault && ownsAnyOf(ownedEntries(vault, manager), roleName, policyName)) {
      removals.push({ target, change: { serviceAccount, roleName, policyName, entries: null } });
    }
  }

  if (intent.kind === 'unconfigure') {
    return {
      intent,
      finalizer: hasFinalizer ? 'remove' : undefined,
      removals,
      apply: undefined,
      targetMissing: undefined,
      // a ServiceAccount being deleted needs no annotation write
      appliedVault: recorded !== undefined && !deleting ? null : undefined,
    };
  }

  const targetKey = formatVaultRef(intent.target);
  const vault = vaults.get(targetKey) ?? null;
  const missing = vault === null || Boolean(vault.metadata?.deletionTimestamp);
  // a Vault that does not (or no longer) serve this namespace gets nothing, and loses what it had of it
  const refused = missing || !vault ? undefined : admission(vault, namespace, namespaceLabels, roleName, manager, `${describeOwed(roleName)}`);
  if (refused && vault) {
    const owns = ownsAnyOf(ownedEntries(vault, manager), roleName, policyName);
    const already = removals.some((r) => formatVaultRef(r.target) === targetKey);
    return {
      intent,
      finalizer: hasFinalizer ? 'remove' : undefined,
      removals: owns && !already ? [...removals, { target: intent.target, change: { serviceAccount, roleName, policyName, entries: null } }] : removals,
      apply: undefined,
      targetMissing: undefined,
      appliedVault: recorded !== undefined && !deleting ? null : undefined,
      selfServiceRefused: refused,
    };
  }
  const owed = missing ? { entries: intent.entries } : withDatabase(sa, intent.entries, settings, vault, targetKey);
  const inSync = !missing && holdsEntries(vault, owed.entries, manager);
  return {
    intent: { ...intent, entries: owed.entries },
    finalizer: hasFinalizer ? 'remove' : undefined,
    removals,
    apply: missing || inSync ? undefined : { target: intent.target, change: { serviceAccount, roleName, policyName, entries: owed.entries } },
    targetMissing: missing ? intent.target : undefined,
    appliedVault: missing || recorded === targetKey ? undefined : targetKey,
    ...(owed.refused ? { databaseRefused: owed.refused } : {}),
  };
}

function describeOwed(roleName: string): string {
  return `The role and policy ${roleName}`;
}

/** Pure: namespace admission, then the per-namespace cap (counted over the roles the manager keeps there). */
export function admission(
  vault: VaultResourceLike & { metadata?: { namespace?: string; name?: string } },
  namespace: string,
  labels: Record<string, string>,
  roleName: string,
  manager: string,
  what: string,
): Refusal | undefined {
  const refused = namespaceRefusal(vault, namespace, labels, what);
  if (refused) return refused;
  const owned = ownedEntries(vault, manager);
  // already configured: never refused by the cap (a cap lowered later does not evict)
  if ([...owned.roles.values()].some((names) => names.has(roleName))) return undefined;
  const names = new Set<string>();
  for (const set of owned.roles.values()) for (const n of set) names.add(n);
  return capRefusal(vault, namespace, countNamespaceRoles(names, namespace, roleName));
}
