// spec.externalConfig -> Vault, in the fixed order audit -> auth methods ->
// roles -> policies -> secret engines. normaliseExternalConfig and
// planVaultConfig are pure; configureVault is the I/O edge that reads Vault,
// plans, records intent, applies and reports.
import type { ExternalConfig, ManagedRecord } from '../../api/vault.js';
import { normaliseAudit, planAudit, readAudit, type DesiredAuditDevice, type ActualAuditDevices } from '../../vault/audit.js';
import {
  normaliseAuth,
  planAuthMounts,
  planRoles,
  readAuth,
  roleId,
  type ActualAuth,
  type ClusterDefaults,
  type DesiredAuth,
} from '../../vault/auth.js';
import type { VaultClient } from '../../vault/client.js';
import { applyChanges, type ApplyResult, type Change, type Plan, type Problem } from '../../vault/config-plan.js';
import { nextRecord, sameRecord, union } from '../../vault/managed-record.js';
import { normalisePolicies, planPolicies, policiesToRead, readPolicies, type ActualPolicies, type DesiredPolicy } from '../../vault/policies.js';
import {
  normaliseSecretEngines,
  planSecretEngines,
  readSecretEngines,
  type ActualSecretEngines,
  type DesiredSecretEngine,
} from '../../vault/secret-engines.js';

/** The Kubernetes-auth mount and role through which the operator logs in. */
export const OPERATOR_AUTH_PATH = 'vault-autopilot';
export const OPERATOR_AUTH_ROLE = 'operator';

/**
 * externalConfig plus the operator's own Kubernetes-auth mount and role, so
 * they are diffed, kept and restored like every other entry. An entry the
 * user wrote at the same path wins.
 */
export function withOperatorAuth(config: ExternalConfig | undefined, operator: { name: string; namespace: string } | undefined, policy: string): ExternalConfig | undefined {
  if (!operator) return config;
  if (config?.auth?.some((a) => a.path === OPERATOR_AUTH_PATH)) return config;
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

export interface DesiredVaultConfig {
  audit: DesiredAuditDevice[];
  auth: DesiredAuth[];
  policies: DesiredPolicy[];
  secrets: DesiredSecretEngine[];
  problems: Problem[];
}

export interface ActualVaultConfig {
  audit: ActualAuditDevices;
  auth: ActualAuth;
  policies: ActualPolicies;
  secrets: ActualSecretEngines;
}

export function normaliseExternalConfig(config: ExternalConfig | undefined, cluster: ClusterDefaults): DesiredVaultConfig {
  const audit = normaliseAudit(config?.audit);
  const auth = normaliseAuth(config?.auth, cluster);
  const policies = normalisePolicies(config?.policies);
  const secrets = normaliseSecretEngines(config?.secrets);
  return {
    audit: audit.desired,
    auth: auth.desired,
    policies: policies.desired,
    secrets: secrets.desired,
    problems: [...audit.problems, ...auth.problems, ...policies.problems, ...secrets.problems],
  };
}

/** The ids the spec asks the operator to manage. */
export function desiredRecord(desired: DesiredVaultConfig): ManagedRecord {
  return {
    audit: desired.audit.map((d) => d.path),
    auth: desired.auth.map((d) => d.path),
    roles: desired.auth.flatMap((d) => d.roles.map((r) => roleId(d.path, r.name))),
    policies: desired.policies.map((p) => p.name),
    secrets: desired.secrets.map((s) => s.path),
  };
}

export async function readVaultConfig(client: VaultClient, desired: DesiredVaultConfig, managed: ManagedRecord | undefined): Promise<ActualVaultConfig> {
  const needsAudit = desired.audit.length > 0 || (managed?.audit?.length ?? 0) > 0;
  return {
    // sys/audit needs sudo: only read it when audit is in play
    audit: needsAudit ? await readAudit(client) : new Map(),
    auth: await readAuth(client, desired.auth, managed?.auth ?? [], managed?.roles ?? []),
    policies: await readPolicies(client, policiesToRead(desired.policies, managed?.policies ?? [])),
    secrets: await readSecretEngines(client),
  };
}

/** Pure: every change in apply order, plus what cannot be applied. */
export function planVaultConfig(desired: DesiredVaultConfig, actual: ActualVaultConfig, managed: ManagedRecord | undefined): Plan {
  const plans = [
    planAudit(desired.audit, actual.audit, managed?.audit ?? []),
    planAuthMounts(desired.auth, actual.auth, managed?.auth ?? []),
    planRoles(desired.auth, actual.auth, managed?.roles ?? []),
    planPolicies(desired.policies, actual.policies, managed?.policies ?? []),
    planSecretEngines(desired.secrets, actual.secrets, managed?.secrets ?? []),
  ];
  const changes: Change[] = [];
  for (const plan of plans) changes.push(...plan.changes);
  return { changes, problems: [...desired.problems, ...plans.flatMap((p) => p.problems)] };
}

export interface ConfigureOutcome {
  plan: Plan;
  result: ApplyResult;
  record: ManagedRecord;
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
): Promise<ConfigureOutcome> {
  const desired = normaliseExternalConfig(config, cluster);
  const actual = await readVaultConfig(client, desired, managed);
  const plan = planVaultConfig(desired, actual, managed);
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
  const result = plan.changes.length ? await applyChanges(client, plan.changes) : { applied: [], failed: [] };
  const record = nextRecord(managed, wanted, plan.problems, result);
  if (!sameRecord(record, current)) await saveRecord(record);
  return { plan, result, record };
}
