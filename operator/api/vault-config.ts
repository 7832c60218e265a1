// TypeScript shape of a `Vault` resource's spec.externalConfig: the Vault
// configuration the operator applies (crds/vault.yaml is the source of
// truth). Field names follow Bank-Vaults.

/** Free-form Vault parameters (role fields, method config, tune options). */
export type VaultParams = Record<string, unknown>;

export interface PolicySpec {
  name: string;
  /** HCL (or JSON) policy document. */
  rules: string;
}

export interface AuthRoleSpec extends VaultParams {
  name: string;
}

export interface AuthMethodSpec {
  type: string;
  /** Mount path without slashes; empty or absent means `type` (as in Bank-Vaults). See effectiveAuthPath. */
  path?: string;
  description?: string;
  /** The method's own configuration, written to auth/<path>/config. */
  config?: VaultParams;
  /** Mount tune parameters (default_lease_ttl, max_lease_ttl, listing_visibility, ...). */
  options?: VaultParams;
  roles?: AuthRoleSpec[];
  // Bank-Vaults' per-method extras: accepted, not applied yet (reported)
  users?: unknown;
  groups?: VaultParams;
  usersOrGroupsKey?: string;
  map?: VaultParams;
  crossaccountrole?: unknown[];
}

export interface SecretEngineSpec {
  type: string;
  path?: string;
  description?: string;
  /** Mount options, e.g. `{version: "2"}` for kv. */
  options?: VaultParams;
  /** Mount config (default_lease_ttl, max_lease_ttl, ...). */
  config?: VaultParams;
  /** The engine's own configuration: path under the mount -> list of objects (Bank-Vaults' `configuration`). */
  configuration?: Record<string, unknown>;
  plugin_name?: string;
  local?: boolean;
  seal_wrap?: boolean;
  max_versions?: number;
}

export interface AuditDeviceSpec {
  type: string;
  path?: string;
  description?: string;
  options?: VaultParams;
}

export interface StartupSecretSpec {
  type?: string;
  path?: string;
  max_versions?: number;
  data?: { data?: VaultParams; options?: VaultParams; secretKeyRef?: Array<Record<string, unknown>> } & VaultParams;
  [key: string]: unknown;
}

export interface IdentityGroupSpec {
  name: string;
  type?: string;
  policies?: string[];
  metadata?: VaultParams;
}

export interface GroupAliasSpec {
  name: string;
  mountpath?: string;
  group?: string;
}

export interface PluginSpec {
  plugin_name?: string;
  type?: string;
  command?: string;
  sha256?: string;
  args?: string[];
  env?: string[];
  version?: string;
}

export interface ExternalConfig {
  policies?: PolicySpec[];
  auth?: AuthMethodSpec[];
  secrets?: SecretEngineSpec[];
  audit?: AuditDeviceSpec[];
  startupSecrets?: StartupSecretSpec[];
  groups?: IdentityGroupSpec[];
  'group-aliases'?: GroupAliasSpec[];
  plugins?: PluginSpec[];
  purgeUnmanagedConfig?: { enabled?: boolean; exclude?: Record<string, boolean> };
}

/** Bank-Vaults' default: an auth method is mounted at its type. */
export function effectiveAuthPath(auth: Pick<AuthMethodSpec, 'type' | 'path'>): string {
  return auth.path ? auth.path : auth.type;
}
