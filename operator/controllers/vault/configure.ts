// spec.externalConfig -> Vault, in the fixed order audit -> auth methods ->
// roles -> policies -> secret engines. normaliseExternalConfig and
// planVaultConfig are pure; configureVault is the I/O edge that reads Vault,
// plans, records intent, applies and reports; configure() is the Vault
// lifecycle's phase around it.
import { OPERATOR_AUTH_PATH, OPERATOR_AUTH_ROLE } from '../../api/naming.js';
import { effectiveAuthPath, VaultConditionType, VaultEventReason, VaultReason, type ExternalConfig, type ManagedRecord } from '../../api/vault.js';
import { cappedMessages, markSecret, mergePatchFor } from '../../framework/index.js';
import { normalisePlugins, planPlugins, pluginPolicyLines, readPlugins, type ActualPlugins, type DesiredPlugin } from '../../vault/plugins.js';
import { mentionsAccessors, readAuthAccessors, replaceAccessors } from '../../vault/accessors.js';
import { normaliseAudit, planAudit, readAudit, type DesiredAuditDevice, type ActualAuditDevices } from '../../vault/audit.js';
import {
  normaliseAuth,
  planAuthMounts,
  planRoles,
  readAuth,
  keyOf,
  roleId,
  type ActualAuth,
  type ClusterDefaults,
  type DesiredAuth,
} from '../../vault/auth.js';
import { VaultError, type VaultClient } from '../../vault/client.js';
import { applyChanges, describeError, type ApplyResult, type Change, type Plan, type Problem } from '../../vault/config-plan.js';
import { normaliseEngineConfig, operatorPolicyFor, planEngineConfig, planOperatorPolicy, readEngineConfig, type ActualEngineConfig, type DesiredEngineConfig } from '../../vault/engine-config.js';
import { identityPolicyLines, normaliseGroupAliases, normaliseGroups, planGroupAliases, planGroups, readIdentity, type ActualIdentity, type DesiredGroup, type DesiredGroupAlias } from '../../vault/identity.js';
import { OPERATOR_POLICY_NAME } from '../../vault/init.js';
import { normaliseStartupSecrets, planStartupSecrets, readStartupSecrets, startupSecretPolicyLines, type DesiredStartupSecret, type SecretKeyReader } from '../../vault/startup-secrets.js';
import { nextRecord, sameRecord, union } from '../../vault/managed-record.js';
import { databaseRevokeLines, mountTypesOf, resolveSecretRefs, secretRefProblems } from '../../vault/secret-refs.js';
import { normalisePolicies, planPolicies, policiesToRead, readListedPolicies, readPolicies, type ActualPolicies, type DesiredPolicy } from '../../vault/policies.js';
import {
  normaliseSecretEngines,
  planSecretEngines,
  readSecretEngines,
  type ActualSecretEngines,
  type DesiredSecretEngine,
} from '../../vault/secret-engines.js';
import { withServiceAccountRoles } from '../serviceaccount/compact.js';
import { configDigest, entryDigests, fullReadDue, ledgerKey, ledgersFor, nextLedger, unsettledKeys, type ConfigLedger } from './config-memo.js';
import { withKmsIdentity } from './kms-identity.js';
import { notAuthorized, readSecret, redactionScope, type VaultPhaseContext } from './phase-context.js';

export { OPERATOR_AUTH_PATH, OPERATOR_AUTH_ROLE } from '../../api/naming.js';

/**
 * externalConfig plus the operator's own Kubernetes-auth mount and role, so
 * they are diffed, kept and restored like every other entry. An entry the
 * user wrote at the same path wins.
 */
export function withOperatorAuth(config: ExternalConfig | undefined, operator: { name: string; namespace: string } | undefined, policy: string): ExternalConfig | undefined {
  if (!operator) return config;
  if (config?.auth?.some((a) => effectiveAuthPath(a) === OPERATOR_AUTH_PATH)) return config;
  return {
    ...(config ?? {}),
    auth: [
      ...(config?.auth ?? []),
      {
        type: 'kubernetes',
        path: OPERATOR_AUTH_PATH,
        description: 'vault-autopilot operator login',
        roles: [
          {
            name: OPERATOR_AUTH_ROLE,
            bound_service_account_names: [operator.name],
            bound_service_account_namespaces: [operator.namespace],
            token_policies: [policy],
            token_ttl: '1h',
          },
        ],
      },
    ],
  };
}

/** Roles and policies written side by side (config-plan.ts applyChanges); bounded so Vault and the operator stay responsive. */
const WRITE_PARALLELISM = 8;

/** ConfigChanged Events naming one change each, per pass; the rest are counted in one more. */
export const MAX_CHANGE_EVENTS = 20;

const CONCERN_NOUN: Record<Change['concern'], [one: string, many: string]> = {
  audit: ['audit device', 'audit devices'],
  auth: ['auth method', 'auth methods'],
  role: ['role', 'roles'],
  policy: ['policy', 'policies'],
  secret: ['secret engine', 'secret engines'],
  config: ['engine configuration', 'engine configurations'],
  group: ['identity group', 'identity groups'],
  'group-alias': ['group alias', 'group aliases'],
  'startup-secret': ['startup secret', 'startup secrets'],
  plugin: ['plugin', 'plugins'],
};

/**
 * Pure: the ConfigChanged messages of a pass (the framework's cappedMessages),
 * the rest counted by action and concern: a burst of 1,000 annotated
 * ServiceAccounts is 2,000 changes.
 */
export function changeEventMessages(applied: readonly Change[], max = MAX_CHANGE_EVENTS): string[] {
  return cappedMessages(applied, max, (c) => c.summary, countedChanges);
}

/** "and N more changes: created 3 roles, created 3 policies (...)" */
function countedChanges(rest: readonly Change[]): string {
  const counts = new Map<string, { action: Change['action']; concern: Change['concern']; n: number }>();
  for (const c of rest) {
    const key = `${c.action} ${c.concern}`;
    const seen = counts.get(key) ?? { action: c.action, concern: c.concern, n: 0 };
    counts.set(key, { ...seen, n: seen.n + 1 });
  }
  const parts = [...counts.values()].map(({ action, concern, n }) => `${action}d ${n} ${CONCERN_NOUN[concern][n === 1 ? 0 : 1]}`);
  return `and ${rest.length} more changes: ${parts.join(', ')} (the operator's log names each)`;
}

export interface DesiredVaultConfig {
  audit: DesiredAuditDevice[];
  auth: DesiredAuth[];
  policies: DesiredPolicy[];
  secrets: DesiredSecretEngine[];
  engineConfig: DesiredEngineConfig[];
  groups: DesiredGroup[];
  groupAliases: DesiredGroupAlias[];
  startupSecrets: DesiredStartupSecret[];
  plugins: DesiredPlugin[];
  /** secret engine mount path -> type (a removed database role's leases are revoked) */
  mountTypes: Map<string, string>;
  problems: Problem[];
}

export interface ActualVaultConfig {
  audit: ActualAuditDevices;
  auth: ActualAuth;
  policies: ActualPolicies;
  secrets: ActualSecretEngines;
  engineConfig: ActualEngineConfig;
  identity: ActualIdentity;
  /** startup-secret paths that already hold something */
  startupSecrets: Set<string>;
  plugins: ActualPlugins;
  /** the operator's own policy document, when the operator keeps it in line with the engine configuration */
  operatorPolicy?: string;
}

export function normaliseExternalConfig(config: ExternalConfig | undefined, cluster: ClusterDefaults): DesiredVaultConfig {
  const audit = normaliseAudit(config?.audit);
  const auth = normaliseAuth(config?.auth, cluster);
  const policies = normalisePolicies(config?.policies);
  const secrets = normaliseSecretEngines(config?.secrets);
  const engineConfig = normaliseEngineConfig(config?.secrets);
  // credentials only by Secret reference: entries carrying them inline are left out
  const refProblems = secretRefProblems(engineConfig.desired);
  engineConfig.desired = engineConfig.desired.filter((d) => !refProblems.some((p) => p.id === d.id));
  engineConfig.problems.push(...refProblems);
  const groups = normaliseGroups(config?.groups);
  const groupAliases = normaliseGroupAliases(config?.['group-aliases']);
  const startupSecrets = normaliseStartupSecrets(config?.startupSecrets, config?.secrets);
  const plugins = normalisePlugins(config?.plugins);
  return {
    plugins: plugins.desired,
    startupSecrets: startupSecrets.desired,
    groups: groups.desired,
    groupAliases: groupAliases.desired,
    audit: audit.desired,
    auth: auth.desired,
    policies: policies.desired,
    secrets: secrets.desired,
    engineConfig: engineConfig.desired,
    mountTypes: mountTypesOf(config?.secrets),
    problems: [...audit.problems, ...auth.problems, ...policies.problems, ...secrets.problems, ...engineConfig.problems, ...groups.problems, ...groupAliases.problems, ...startupSecrets.problems, ...plugins.problems],
  };
}

/** The ids the spec asks the operator to manage. */
export function desiredRecord(desired: DesiredVaultConfig): ManagedRecord {
  return {
    audit: desired.audit.map((d) => d.path),
    auth: desired.auth.map((d) => d.path),
    roles: desired.auth.flatMap((d) => d.roles.map((r) => roleId(d.path, keyOf(r)))),
    policies: desired.policies.map((p) => p.name),
    secrets: desired.secrets.map((s) => s.path),
    ...(desired.engineConfig.some((c) => c.tracked) ? { engineConfig: desired.engineConfig.filter((c) => c.tracked).map((c) => c.id) } : {}),
    ...(desired.groups.length ? { groups: desired.groups.map((g) => g.name) } : {}),
    ...(desired.groupAliases.length ? { groupAliases: desired.groupAliases.map((a) => a.id) } : {}),
    ...(desired.startupSecrets.length ? { startupSecrets: desired.startupSecrets.map((s) => s.path) } : {}),
    ...(desired.plugins.length ? { plugins: desired.plugins.map((p) => p.id) } : {}),
  };
}

export async function readVaultConfig(
  client: VaultClient,
  desired: DesiredVaultConfig,
  managed: ManagedRecord | undefined,
  manageOperatorPolicy = false,
  /** ledger keys (config-memo.ts ledgerKey) whose content Vault is known to hold: listed, not read */
  settled: (key: string) => boolean = () => false,
): Promise<ActualVaultConfig> {
  const needsAudit = desired.audit.length > 0 || (managed?.audit?.length ?? 0) > 0;
  const engineConfigInPlay = desired.engineConfig.length > 0 || (managed?.engineConfig?.length ?? 0) > 0;
  const groupNames = [...new Set([...desired.groups.map((g) => g.name), ...desired.groupAliases.map((a) => a.group), ...(managed?.groups ?? [])])];
  const aliasesInPlay = desired.groupAliases.length > 0 || (managed?.groupAliases?.length ?? 0) > 0;
  const identityInPlay = groupNames.length > 0 || aliasesInPlay;
  // the operator's own policy first: the reads below may need what it grants
  let operatorPolicy: string | undefined;
  const startupInPlay = desired.startupSecrets.length > 0 || (managed?.startupSecrets?.length ?? 0) > 0;
  const pluginsInPlay = desired.plugins.length > 0 || (managed?.plugins?.length ?? 0) > 0;
  if (manageOperatorPolicy && (engineConfigInPlay || identityInPlay || startupInPlay || pluginsInPlay)) {
    operatorPolicy = (await readPolicies(client, [OPERATOR_POLICY_NAME])).get(OPERATOR_POLICY_NAME);
    const revokeLines = databaseRevokeLines(desired.engineConfig, managed?.engineConfig ?? [], desired.mountTypes);
    const fix = planOperatorPolicy(operatorPolicyFor(desired.engineConfig, managed?.engineConfig ?? [], [...identityPolicyLines(groupNames, aliasesInPlay), ...startupSecretPolicyLines(desired.startupSecrets), ...revokeLines, ...pluginPolicyLines(desired.plugins, managed?.plugins ?? [])]), operatorPolicy);
    if (fix.length) {
      await applyChanges(client, fix);
      operatorPolicy = (fix[0]!.writes[0]!.body as { policy: string }).policy;
    }
  }
  return {
    engineConfig: engineConfigInPlay ? await readEngineConfig(client, desired.engineConfig, managed?.engineConfig ?? []) : new Map(),
    startupSecrets: desired.startupSecrets.length ? await readStartupSecrets(client, desired.startupSecrets) : new Set(),
    plugins: pluginsInPlay ? await readPlugins(client, desired.plugins, managed?.plugins ?? []) : new Map(),
    identity: identityInPlay ? await readIdentity(client, groupNames, aliasesInPlay) : { groups: new Map(), accessors: new Map() },
    ...(operatorPolicy !== undefined ? { operatorPolicy } : {}),
    // sys/audit needs sudo: only read it when audit is in play
    audit: needsAudit ? await readAudit(client) : new Map(),
    auth: await readAuth(client, desired.auth, managed?.auth ?? [], managed?.roles ?? [], (id) => settled(ledgerKey('role', id))),
    policies: await readListedPolicies(client, policiesToRead(desired.policies, managed?.policies ?? []), new Map(desired.policies.map((p) => [p.name, p.rules])), (name) => settled(ledgerKey('policy', name))),
    secrets: await readSecretEngines(client),
  };
}

/** Pure: every change in apply order, plus what cannot be applied. */
export function planVaultConfig(desired: DesiredVaultConfig, actual: ActualVaultConfig, managed: ManagedRecord | undefined): Plan {
  const plans = [
    // first: mounts may name a plugin registered in the same pass
    planPlugins(desired.plugins, actual.plugins, managed?.plugins ?? []),
    planAudit(desired.audit, actual.audit, managed?.audit ?? []),
    planAuthMounts(desired.auth, actual.auth, managed?.auth ?? []),
    planRoles(desired.auth, actual.auth, managed?.roles ?? []),
    planPolicies(desired.policies, actual.policies, managed?.policies ?? []),
    planSecretEngines(desired.secrets, actual.secrets, managed?.secrets ?? []),
    planEngineConfig(desired.engineConfig, actual.engineConfig, managed?.engineConfig ?? [], new Set(desired.secrets.map((s) => s.path)), desired.mountTypes),
    planGroups(desired.groups, actual.identity, managed?.groups ?? []),
  ];
  const changes: Change[] = [];
  for (const plan of plans) changes.push(...plan.changes);
  return { changes, problems: [...desired.problems, ...plans.flatMap((p) => p.problems)] };
}

export interface ConfigureOutcome {
  plan: Plan;
  result: ApplyResult;
  record: ManagedRecord;
  /** ledger key -> digest of every desired role and policy, and those this pass did not settle */
  digests: Map<string, string>;
  unsettled: Set<string>;
}

/**
 * Read, plan, record intent (so a crash after a Vault write never orphans an
 * entry), apply. `saveRecord` is called only when the record changes.
 */
export async function configureVault(
  client: VaultClient,
  config: ExternalConfig | undefined,
  cluster: ClusterDefaults,
  managed: ManagedRecord | undefined,
  saveRecord: (record: ManagedRecord) => Promise<void>,
  options: {
    manageOperatorPolicy?: boolean;
    readSecretKey?: SecretKeyReader;
    accessorPass?: boolean;
    /** the ledger to trust (a role or policy it holds with the desired digest is listed, not read); 'all': every listed one (a restart whose persisted digest matches) */
    ledger?: ConfigLedger | 'all';
  } = {},
): Promise<ConfigureOutcome> {
  // __accessor__<auth mount> placeholders: replaced by the accessors of the mounts that exist
  let unresolved: string[] = [];
  if (config && mentionsAccessors(config)) ({ config, unresolved } = replaceAccessors(config, await readAuthAccessors(client)));
  const desired = normaliseExternalConfig(config, cluster);
  const digests = entryDigests(desired);
  const { ledger } = options;
  const settled = ledger === 'all' ? (key: string) => digests.has(key) : ledger ? (key: string) => ledger.entries.get(key) === digests.get(key) : undefined;
  const actual = await readVaultConfig(client, desired, managed, options.manageOperatorPolicy, settled);
  const planned = planVaultConfig(desired, actual, managed);
  // values from Kubernetes Secrets (secretKeyRef) only for what is about to be written
  const resolved = await resolveSecretRefs(planned.changes, options.readSecretKey);
  const plan: Plan = { changes: resolved.changes, problems: [...planned.problems, ...resolved.problems] };
  // startup secrets last: their kv mounts exist by then; values from Kubernetes Secrets are resolved only for absent paths
  const startup = await planStartupSecrets(desired.startupSecrets, actual.startupSecrets, options.readSecretKey);
  plan.changes.push(...startup.changes);
  plan.problems.push(...startup.problems);
  const wanted = desiredRecord(desired);
  const creating = plan.changes.filter((c) => c.action === 'create');
  let current = managed;
  if (creating.length) {
    const intent = union(managed, nextRecord(undefined, wanted, plan.problems, { applied: [], failed: [] }));
    if (!sameRecord(intent, managed)) {
      await saveRecord(intent);
      current = intent;
    }
  }
  const result = plan.changes.length ? await applyChanges(client, plan.changes, WRITE_PARALLELISM) : { applied: [], failed: [] };
  // group aliases need their group's id and the mount's accessor: planned once groups and mounts exist
  if (desired.groupAliases.length || managed?.groupAliases?.length) {
    const groupNames = [...new Set([...desired.groups.map((g) => g.name), ...desired.groupAliases.map((a) => a.group), ...(managed?.groups ?? [])])];
    const identity = plan.changes.some((c) => c.concern === 'group' || c.concern === 'auth') ? await readIdentity(client, groupNames, true) : actual.identity;
    const aliases = planGroupAliases(desired.groupAliases, identity, managed?.groupAliases ?? []);
    plan.changes.push(...aliases.changes);
    plan.problems.push(...aliases.problems);
    if (aliases.changes.some((c) => c.action === 'create')) {
      const intent = union(current, { groupAliases: aliases.changes.filter((c) => c.action === 'create').map((c) => c.id) });
      if (!sameRecord(intent, current)) {
        await saveRecord(intent);
        current = intent;
      }
    }
    const aliasResult = aliases.changes.length ? await applyChanges(client, aliases.changes) : { applied: [], failed: [] };
    result.applied.push(...aliasResult.applied);
    result.failed.push(...aliasResult.failed);
  }
  const record = nextRecord(managed, wanted, plan.problems, result);
  if (!sameRecord(record, current)) await saveRecord(record);
  // the last configured path is gone: the operator's policy goes back to its base
  const extras = (r: ManagedRecord | undefined) => (r?.engineConfig?.length ?? 0) + (r?.groups?.length ?? 0) + (r?.groupAliases?.length ?? 0) + (r?.startupSecrets?.length ?? 0) + (r?.plugins?.length ?? 0);
  if (options.manageOperatorPolicy && extras(managed) > 0 && extras(record) === 0) {
    await applyChanges(client, planOperatorPolicy(undefined, actual.operatorPolicy));
  }
  if (unresolved.length) {
    const created = new Set(result.applied.filter((c) => c.concern === 'auth' && c.action === 'create').map((c) => c.id));
    // a placeholder of a mount this pass enabled: once more, now that its accessor exists
    if (!options.accessorPass && unresolved.some((path) => created.has(path))) {
      const again = await configureVault(client, config, cluster, record, saveRecord, { ...options, accessorPass: true });
      const failed = [...result.failed, ...again.result.failed];
      return {
        plan: { changes: [...plan.changes, ...again.plan.changes], problems: again.plan.problems },
        result: { applied: [...result.applied, ...again.result.applied], failed },
        record: again.record,
        digests: again.digests,
        unsettled: new Set([...again.unsettled, ...unsettledKeys(desired, plan, { applied: [], failed })]),
      };
    }
    for (const path of unresolved) {
      plan.problems.push({ concern: 'policy', id: `__accessor__${path}`, message: `placeholder __accessor__${path} names no auth mount of this Vault (written as it is)` });
    }
  }
  return { plan, result, record, digests, unsettled: unsettledKeys(desired, plan, result) };
}

// ------------------------------------------------------------ the phase
// (the controller's configure(): the operator's identity added, one call to
// configureVault, the outcome turned into events and the Configured condition)

/** Applies spec.externalConfig through `client`; the Configured condition says how it went. */
export async function configure(p: VaultPhaseContext, client: VaultClient): Promise<void> {
  const { vault, ctx, status, updates } = p;
  const cluster = {
    ...(p.deps.settings.kubernetesHost ? { kubernetesHost: p.deps.settings.kubernetesHost } : {}),
    ...(p.deps.settings.kubernetesCaCert ? { kubernetesCaCert: p.deps.settings.kubernetesCaCert } : {}),
  };
  const saveRecord = async (record: ManagedRecord) => {
    status.managed = record;
    // written at once (not with the final status) so a crash cannot lose it
    await ctx.patchStatus(mergePatchFor({ managed: vault.status?.managed ?? {} }, { managed: record }));
    vault.status = { ...(vault.status ?? {}), managed: record };
  };
  // with spec.external.auth the user decides how the operator gets in
  const identity = vault.spec.external?.auth ? undefined : p.deps.settings.operatorServiceAccount;
  // the annotated ServiceAccounts' roles and policies, rendered from their compact entries
  const withServiceAccounts = withServiceAccountRoles(vault.spec.externalConfig, vault.spec.serviceAccountRoles);
  const withOperator = withOperatorAuth(withServiceAccounts, identity, OPERATOR_POLICY_NAME);
  const kms = p.deps.kmsIdentity;
  const config = kms ? withKmsIdentity(withOperator, identity, vault.spec.externalConfig, kms.pathPolicy) : withOperator;
  // what Vault is known to hold (config-memo.ts): kept in memory; after a restart, every listed entry when the
  // persisted digest of the last pass that applied everything matches (Vault's LIST still shows what went missing)
  const ledgers = ledgersFor(p.deps);
  const uid = vault.metadata?.uid ?? '';
  const now = ctx.clock.now().getTime();
  const intervalMs = p.deps.settings.configDriftCheckMs;
  const digestOf = (record: ManagedRecord | undefined) => configDigest([config, cluster, record ?? null, !vault.spec.external?.auth]);
  const kept = ledgers.get(uid);
  ledgers.delete(uid);
  const restored = !kept && intervalMs && vault.status?.configDigest === digestOf(vault.status?.managed) ? 'all' : undefined;
  const full = !restored && fullReadDue(kept, now, intervalMs);
  const ledger = full ? undefined : (restored ?? kept);
  let outcome;
  try {
    // the operator's own policy grows by the engine-configuration paths only when it uses its own token
    outcome = await configureVault(client, config, cluster, vault.status?.managed, saveRecord, {
      manageOperatorPolicy: !vault.spec.external?.auth,
      ...(ledger ? { ledger } : {}),
      // startupSecrets' secretKeyRef: Secrets of the Vault resource's own namespace only
      readSecretKey: async (name, key) => {
        const raw = (await readSecret(ctx, vault.metadata!.namespace!, name))?.data?.[key];
        if (raw === undefined) return undefined;
        const value = Buffer.from(raw, 'base64').toString('utf8');
        // the tenant's value: redacted in this Vault's lines only
        markSecret(value, redactionScope(vault));
        return value;
      },
    });
  } catch (err) {
    if (err instanceof VaultError && !err.unreachable && (err.status === 403 || err.status === 401)) {
      throw notAuthorized(`Vault refused the operator's token: ${describeError(err)}`);
    }
    throw err;
  }
  status.managed = outcome.record;
  const fullReadAt = full || !kept ? now : kept.fullReadAt;
  if (intervalMs) ledgers.set(uid, nextLedger(outcome.digests, outcome.unsettled, fullReadAt));
  for (const change of outcome.result.applied) {
    ctx.log.info('vault config changed', { vault: `${vault.metadata!.namespace}/${vault.metadata!.name}`, change: change.summary });
  }
  for (const message of changeEventMessages(outcome.result.applied)) await ctx.event('Normal', VaultEventReason.ConfigChanged, message);
  const issues = [
    ...outcome.plan.problems.map((p) => `${p.concern} ${p.id}: ${p.message}`),
    ...outcome.result.failed.map((f) => `${f.change.concern} ${f.change.id}: ${f.error}`),
  ];
  if (issues.length) {
    const message = `${issues.length} entr${issues.length === 1 ? 'y' : 'ies'} not applied (the rest is): ${issues.join('; ')}`;
    await ctx.event('Warning', VaultEventReason.ConfigInvalid, message);
    updates.push({ type: VaultConditionType.Configured, status: 'False', reason: VaultReason.InvalidEntries, message });
    delete status.configDigest;
    return;
  }
  const record = outcome.record;
  const count = (k: keyof ManagedRecord) => record[k]?.length ?? 0;
  const condition = {
    type: VaultConditionType.Configured,
    status: 'True' as const,
    reason: VaultReason.Applied,
    message: `externalConfig applied: ${count('policies')} policies, ${count('auth')} auth methods, ${count('roles')} roles, ${count('secrets')} secret engines, ${count('audit')} audit devices`,
  };
  updates.push(condition);
  // a digest only (no values): a restarted operator with the same config lists Vault instead of reading it
  status.configDigest = digestOf(record);
}
