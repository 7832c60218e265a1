// Names the ServiceAccount auto-configuration lifecycle shares with users,
// tests and the README: annotation suffixes, the values it accepts, and the
// reasons of the Events it emits. ServiceAccounts have no status subresource,
// so Events (plus one non-secret annotation) are how it reports.

/**
 * Annotation names without the prefix; the full name is
 * `<annotation prefix><suffix>`, the prefix defaulting to `vault.autopilot.dev/`.
 */
export const ServiceAccountAnnotation = {
  /** `"true"` asks for a Kubernetes-auth role and a policy for this ServiceAccount. */
  AutoConfigure: 'auto-configure',
  /** `<namespace>/<name>` of the target `Vault` resource; default from the operator setting. */
  Vault: 'vault',
  /**
   * Written by the operator: `<namespace>/<name>` of the `Vault` resource that
   * currently holds this ServiceAccount's entries, so a later change of target
   * (or a deletion) knows where to remove them from. Never secret.
   */
  AppliedVault: 'applied-vault',
  /**
   * `<mount>/<connection>`: dynamic database credentials from a connection the
   * platform offers in the target Vault's spec.selfService.databaseConnections.
   * Implies auto-configure.
   */
  DbDynamicCreds: 'db-dynamic-creds',
  /** Name of one of the connection's creation-statement templates (default: the connection's default). */
  DbCredsTemplate: 'db-creds-template',
  /** Lease TTL of the credentials (e.g. 30m), at most the connection's max_ttl. */
  DbCredsTtl: 'db-creds-ttl',
  /** Longest lease, renewals included, at most the connection's max_ttl. */
  DbCredsMaxTtl: 'db-creds-max-ttl',
} as const;

/** The only value of the auto-configure annotation that turns it on. */
export const AUTO_CONFIGURE_ENABLED = 'true';

/** Event reasons (CamelCase, one place). */
export const ServiceAccountReason = {
  /** role and policy written into the target Vault resource */
  Configured: 'VaultRoleConfigured',
  /** role and policy removed from the Vault resource */
  Removed: 'VaultRoleRemoved',
  /** the auto-configure annotation has a value other than "true" */
  InvalidAnnotation: 'InvalidAnnotation',
  /** the vault annotation is not `<namespace>/<name>` */
  InvalidTargetVault: 'InvalidTargetVault',
  /** the `default` ServiceAccount is refused unless the operator allows it */
  DefaultServiceAccountRefused: 'DefaultServiceAccountRefused',
  /** the target Vault resource does not exist (retried) */
  TargetVaultNotFound: 'TargetVaultNotFound',
  /** another field manager owns a conflicting value (e.g. a hand-written role of the same name) */
  ApplyConflict: 'ApplyConflict',
  /** database credentials asked for a connection the target Vault does not offer to this namespace, or with bad template/TTL annotations */
  DatabaseCredsRefused: 'DatabaseCredsRefused',
  /** the target Vault does not admit this namespace (spec.selfService.namespaces), or the namespace reached its cap */
  SelfServiceRefused: 'SelfServiceRefused',
  /** adding the entries would take the Vault resource past its size ceiling; nothing of the batch was written */
  VaultFull: 'VaultFull',
  /** any other failure to write the Vault resource (retried) */
  ApplyFailed: 'ApplyFailed',
} as const;
export type ServiceAccountReason = (typeof ServiceAccountReason)[keyof typeof ServiceAccountReason];

/**
 * The server-side-apply field manager that owns every ServiceAccount's
 * entries in a `Vault` resource (hand-written entries have other managers).
 */
export const SERVICE_ACCOUNT_FIELD_MANAGER = 'vault-autopilot-serviceaccounts';
