// What a ServiceAccount asks for (annotations + settings -> intent), which
// `Vault` resource it targets, and the role and policy it is owed. Pure.
import { serviceAccountPolicyName, serviceAccountRoleName } from '../../api/naming.js';
import {
  AUTO_CONFIGURE_ENABLED,
  ServiceAccountAnnotation,
  ServiceAccountReason,
} from '../../api/serviceaccount.js';
import { asksForDatabase, type DatabaseEntry } from './database.js';
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

/**
 * What the ServiceAccount asks for right now.
 * - configure: its entries belong in `target`;
 * - unconfigure: it should have no entries anywhere; `problem` (if any) is
 *   bad input the user should hear about (a Warning Event), not a reason to retry.
 */
export type Intent =
  | { kind: 'configure'; target: VaultRef; entries: ServiceAccountEntries }
  | { kind: 'unconfigure'; problem?: Problem };

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
  /** where this process last put the entries, when the copy of `sa` at hand may predate that pass's record */
  lastApplied?: VaultRef,
): VaultRef[] {
  const refs: VaultRef[] = [];
  const applied = appliedVault(sa, settings);
  if (applied) refs.push(applied);
  if (lastApplied) refs.push(lastApplied);
  // the finalizer is added before the first apply: without it (and no record) nothing was ever applied
  const mayHaveApplied = applied !== undefined || lastApplied !== undefined || (sa.metadata?.finalizers ?? []).includes(finalizerName);
  if (intent.kind === 'unconfigure' && mayHaveApplied) {
    const target = targetVault(sa, settings);
    if ('ref' in target) refs.push(target.ref);
  }
  const keep = intent.kind === 'configure' ? formatVaultRef(intent.target) : undefined;
  const unique = new Map(refs.map((ref) => [formatVaultRef(ref), ref]));
  if (keep) unique.delete(keep);
  return [...unique.values()];
}
