// Pure decisions of the ServiceAccount lifecycle: what a ServiceAccount asks
// for (annotations + settings -> intent), the role and policy it is owed, the
// server-side-apply object that carries them into the target `Vault`
// resource, and whether that resource already holds them (so an in-sync
// reconcile writes nothing). No I/O here.
import { createHash } from 'node:crypto';
import { API_GROUP_VERSION, serviceAccountPolicyName, serviceAccountRoleName } from '../../api/naming.js';
import {
  AUTO_CONFIGURE_ENABLED,
  SERVICE_ACCOUNT_FIELD_MANAGER_PREFIX,
  ServiceAccountAnnotation,
  ServiceAccountReason,
} from '../../api/serviceaccount.js';
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
}

export interface Problem {
  reason: ServiceAccountReason;
  message: string;
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
    managedFields?: Array<{ manager?: string; operation?: string }>;
    deletionTimestamp?: Date | string;
  };
  spec?: {
    externalConfig?: {
      auth?: Array<{ path?: string; type?: string; roles?: Array<Record<string, unknown>> }>;
      policies?: Array<{ name?: string; rules?: unknown }>;
    };
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
    annotationName(settings, ServiceAccountAnnotation.AppliedVault) in annotations
  );
}

export function decideIntent(sa: ServiceAccountLike, settings: ServiceAccountSettings): Intent {
  const meta = sa.metadata ?? {};
  const namespace = meta.namespace ?? '';
  const name = meta.name ?? '';
  if (meta.deletionTimestamp) return { kind: 'unconfigure' };
  const annotations = meta.annotations ?? {};
  const autoConfigureKey = annotationName(settings, ServiceAccountAnnotation.AutoConfigure);
  const value = annotations[autoConfigureKey];
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

/**
 * The server-side-apply field manager of one ServiceAccount. Managers are per
 * ServiceAccount so hundreds apply into the same resource without conflicts,
 * and applying an empty object under one removes exactly its entries.
 * `/` separates the parts: a namespace cannot contain one, so the name is
 * unique (a `-` separator would make `a-b`/`c` and `a`/`b-c` collide).
 * The API server limits a manager to 128 characters; longer ones are hashed.
 */
export function fieldManagerFor(namespace: string, name: string): string {
  const plain = `${SERVICE_ACCOUNT_FIELD_MANAGER_PREFIX}/${namespace}/${name}`;
  if (plain.length <= 128) return plain;
  const digest = createHash('sha256').update(`${namespace}/${name}`).digest('hex').slice(0, 16);
  return `${plain.slice(0, 128 - digest.length - 1)}~${digest}`;
}

/**
 * The object applied with the ServiceAccount's field manager. With entries it
 * claims exactly its role and policy; without, it owns nothing, and the API
 * server removes every field only that manager owned. `uid` (of the resource
 * as read) is a precondition: an apply would otherwise *create* a `Vault`
 * deleted in the meantime, and the API server answers 409 instead.
 */
export function applyConfiguration(
  target: VaultRef,
  entries: ServiceAccountEntries | undefined,
  uid?: string,
): VaultApplyConfiguration {
  const metadata = { name: target.name, namespace: target.namespace, ...(uid ? { uid } : {}) };
  if (!entries) return { apiVersion: API_GROUP_VERSION, kind: 'Vault', metadata };
  return {
    apiVersion: API_GROUP_VERSION,
    kind: 'Vault',
    metadata,
    spec: {
      externalConfig: {
        auth: [{ path: entries.authPath, type: 'kubernetes', roles: [{ ...entries.role }] }],
        policies: [{ ...entries.policy }],
      },
    },
  };
}

export interface VaultApplyConfiguration {
  apiVersion: string;
  kind: 'Vault';
  metadata: { name: string; namespace: string; uid?: string };
  spec?: {
    externalConfig: {
      auth: Array<{ path: string; type: 'kubernetes'; roles: KubernetesAuthRole[] }>;
      policies: PolicyEntry[];
    };
  };
}

export function hasFieldManager(vault: VaultResourceLike, manager: string): boolean {
  return (vault.metadata?.managedFields ?? []).some((f) => f.manager === manager && f.operation === 'Apply');
}

/** True when the resource already holds these entries under this manager: applying again would change nothing. */
export function holdsEntries(vault: VaultResourceLike, entries: ServiceAccountEntries, manager: string): boolean {
  if (!hasFieldManager(vault, manager)) return false;
  const config = vault.spec?.externalConfig;
  const auth = (config?.auth ?? []).find((a) => a.path === entries.authPath);
  if (!auth || auth.type !== 'kubernetes') return false;
  const role = (auth.roles ?? []).find((r) => r['name'] === entries.role.name);
  if (!role) return false;
  for (const [key, value] of Object.entries(entries.role)) {
    if (!sameJson(role[key], value)) return false;
  }
  const policy = (config?.policies ?? []).find((p) => p.name === entries.policy.name);
  return policy !== undefined && policy.rules === entries.policy.rules;
}

function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
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
   * add the finalizer before touching any Vault resource; remove it once every
   * removal succeeded and the ServiceAccount leaves the controller's care
   */
  finalizer: 'add' | 'remove' | undefined;
  /** empty applies (per-ServiceAccount manager) that take this ServiceAccount's entries out of these resources */
  removals: Array<{ target: VaultRef; config: VaultApplyConfiguration }>;
  /** the apply that puts its entries into the target; absent when already there or impossible */
  apply: { target: VaultRef; config: VaultApplyConfiguration } | undefined;
  /** the target `Vault` resource does not exist (or is being deleted): retry later */
  targetMissing: VaultRef | undefined;
  /** new value of the applied-vault annotation: a ref, `null` to remove it, `undefined` to leave it */
  appliedVault: string | null | undefined;
  fieldManager: string;
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
): ServiceAccountPlan {
  const intent = decideIntent(sa, settings);
  const namespace = sa.metadata?.namespace ?? '';
  const name = sa.metadata?.name ?? '';
  const manager = fieldManagerFor(namespace, name);
  const hasFinalizer = (sa.metadata?.finalizers ?? []).includes(finalizerName);
  const deleting = Boolean(sa.metadata?.deletionTimestamp);
  const appliedKey = annotationName(settings, ServiceAccountAnnotation.AppliedVault);
  const recorded = sa.metadata?.annotations?.[appliedKey];

  const removals: ServiceAccountPlan['removals'] = [];
  for (const target of removalTargets(sa, intent, settings, finalizerName)) {
    const vault = vaults.get(formatVaultRef(target));
    if (vault && hasFieldManager(vault, manager)) {
      removals.push({ target, config: applyConfiguration(target, undefined, vault.metadata?.uid) });
    }
  }

  if (intent.kind === 'unconfigure') {
    // an annotated but refused ServiceAccount stays in the controller's care (and keeps the finalizer);
    // one without the annotation, or being deleted, leaves it
    const leaving = deleting || !(annotationName(settings, ServiceAccountAnnotation.AutoConfigure) in (sa.metadata?.annotations ?? {}));
    return {
      intent,
      finalizer: hasFinalizer && leaving ? 'remove' : undefined,
      removals,
      apply: undefined,
      targetMissing: undefined,
      // a ServiceAccount being deleted needs no annotation write
      appliedVault: recorded !== undefined && !deleting ? null : undefined,
      fieldManager: manager,
    };
  }

  const targetKey = formatVaultRef(intent.target);
  const vault = vaults.get(targetKey) ?? null;
  const missing = vault === null || Boolean(vault.metadata?.deletionTimestamp);
  const inSync = !missing && holdsEntries(vault, intent.entries, manager);
  return {
    intent,
    finalizer: hasFinalizer ? undefined : 'add',
    removals,
    apply:
      missing || inSync
        ? undefined
        : { target: intent.target, config: applyConfiguration(intent.target, intent.entries, vault.metadata?.uid) },
    targetMissing: missing ? intent.target : undefined,
    appliedVault: missing || recorded === targetKey ? undefined : targetKey,
    fieldManager: manager,
  };
}
