// Dynamic database credentials for a ServiceAccount (pure): the annotation
// `db-dynamic-creds: <mount>/<connection>` asks for a database role
// `sa.<namespace>.<name>` on a connection the platform offers in the target
// Vault's spec.selfService.databaseConnections. The tenant chooses only among
// what the platform wrote: the connection (if offered to its namespace), a
// creation-statements template by name, and TTLs up to the platform's cap.
// No SQL ever comes from the tenant.
import { serviceAccountRoleName } from '../../api/naming.js';
import { ServiceAccountAnnotation, ServiceAccountReason } from '../../api/serviceaccount.js';
import type { DatabaseConnectionOffer, DatabaseCredsTemplate, ServiceAccountDatabaseRole } from '../../api/vault.js';
import { durationSeconds } from '../../vault/config-plan.js';
import { parseDuration, type ServiceAccountSettings } from './settings.js';

/** A database role as written into `secrets[].configuration.roles[]` (and kept in the compact entry). */
export type DatabaseRole = ServiceAccountDatabaseRole;

/** Where the role goes: the `secrets[]` entry of the connection's mount, keyed exactly as the platform wrote it. */
export interface DatabaseEntry {
  type: 'database';
  /** the entry's `path` as stored (may be '' = the type) */
  path: string;
  /** the effective mount path */
  mount: string;
  role: DatabaseRole;
}

export interface DatabaseProblem {
  reason: typeof ServiceAccountReason.DatabaseCredsRefused;
  message: string;
}

/** The parts of a `Vault` resource this decision reads. */
export interface DatabaseVaultLike {
  spec?: {
    externalConfig?: { secrets?: Array<{ type?: string; path?: string; configuration?: Record<string, unknown> }> };
    selfService?: { databaseConnections?: DatabaseConnectionOffer[] };
  };
}

export const DATABASE_ROLE_KEYS: ReadonlyArray<keyof DatabaseRole> = [
  'name',
  'db_name',
  'creation_statements',
  'revocation_statements',
  'renew_statements',
  'rollback_statements',
  'default_ttl',
  'max_ttl',
];

function annotation(settings: Pick<ServiceAccountSettings, 'annotationPrefix'>, suffix: string): string {
  return `${settings.annotationPrefix}${suffix}`;
}

/** Whether the ServiceAccount asks for database credentials at all. */
export function asksForDatabase(annotations: Record<string, string> | undefined, settings: Pick<ServiceAccountSettings, 'annotationPrefix'>): boolean {
  return annotation(settings, ServiceAccountAnnotation.DbDynamicCreds) in (annotations ?? {});
}

function refuse(message: string): { problem: DatabaseProblem } {
  return { problem: { reason: ServiceAccountReason.DatabaseCredsRefused, message: `${message}. No database credentials for this ServiceAccount (its Vault role and policy are kept).` } };
}

/** Effective mount path of a `secrets[]` entry (Bank-Vaults: empty path = the type). */
function mountOf(entry: { type?: string; path?: string }): string {
  return (entry.path || entry.type || '').replace(/^\/+|\/+$/g, '');
}

function offerTtl(value: string | undefined): number | undefined {
  return value === undefined || value === '' ? 0 : durationSeconds(value);
}

/**
 * The database role this ServiceAccount is owed in `vault`, or why not.
 * Undefined when it asks for none.
 */
export function desiredDatabase(
  namespace: string,
  name: string,
  annotations: Record<string, string> | undefined,
  settings: Pick<ServiceAccountSettings, 'annotationPrefix'>,
  vault: DatabaseVaultLike,
  vaultRef: string,
): { entry: DatabaseEntry } | { problem: DatabaseProblem } | undefined {
  const key = annotation(settings, ServiceAccountAnnotation.DbDynamicCreds);
  const value = annotations?.[key];
  if (value === undefined) return undefined;
  const m = /^([A-Za-z0-9_.-]+)\/([A-Za-z0-9_.-]+)$/.exec(value.trim());
  if (!m) return refuse(`${key} is "${value}"; it must be <mount>/<connection>, e.g. database/app`);
  const [, mount, connection] = m as unknown as [string, string, string];
  const offers = vault.spec?.selfService?.databaseConnections ?? [];
  const offer = offers.find((o) => o.connection === `${mount}/${connection}`);
  if (!offer) {
    const offered = offers.filter((o) => o.namespaces.includes('*') || o.namespaces.includes(namespace)).map((o) => o.connection);
    return refuse(`Vault ${vaultRef} offers no database connection "${mount}/${connection}"${offered.length ? ` (offered to this namespace: ${offered.join(', ')})` : ' to this namespace'}`);
  }
  if (!offer.namespaces.includes('*') && !offer.namespaces.includes(namespace)) {
    return refuse(`database connection "${offer.connection}" of Vault ${vaultRef} is not offered to namespace ${namespace}`);
  }
  const engine = (vault.spec?.externalConfig?.secrets ?? []).find((s) => s.type === 'database' && mountOf(s) === mount);
  const configs = engine?.configuration?.['config'];
  const declared = Array.isArray(configs)
    ? (configs.find((c) => c && typeof c === 'object' && (c as Record<string, unknown>)['name'] === connection) as Record<string, unknown> | undefined)
    : undefined;
  if (!engine || !declared) {
    return refuse(`database connection "${offer.connection}" is offered but not declared in Vault ${vaultRef} (externalConfig.secrets: a database engine at ${mount} with config entry ${connection}); ask the platform team`);
  }
  // Vault would refuse the role later, where the tenant never sees it: say it here
  const roleName = serviceAccountRoleName(namespace, name);
  if (!allowedRole(declared['allowed_roles'], roleName)) {
    return refuse(`database connection "${offer.connection}" does not allow the role ${roleName} (its allowed_roles must admit sa.<namespace>.<name>, e.g. "sa.*"); ask the platform team`);
  }

  const templateKey = annotation(settings, ServiceAccountAnnotation.DbCredsTemplate);
  const templateName = annotations?.[templateKey] ?? offer.defaultTemplate ?? (offer.templates.length === 1 ? offer.templates[0]!.name : undefined);
  const names = offer.templates.map((t) => t.name).join(', ');
  if (templateName === undefined) return refuse(`connection "${offer.connection}" has several templates (${names}); name one with ${templateKey}`);
  const template: DatabaseCredsTemplate | undefined = offer.templates.find((t) => t.name === templateName);
  if (!template) return refuse(`${templateKey} is "${templateName}"; connection "${offer.connection}" offers the templates ${names}`);

  const capDefault = offerTtl(offer.default_ttl);
  const cap = offerTtl(offer.max_ttl);
  if (capDefault === undefined || cap === undefined) return refuse(`the TTLs of connection "${offer.connection}" in Vault ${vaultRef} are not durations; ask the platform team`);
  const ttls: Record<'ttl' | 'maxTtl', number | undefined> = { ttl: undefined, maxTtl: undefined };
  for (const [field, suffix] of [['ttl', ServiceAccountAnnotation.DbCredsTtl], ['maxTtl', ServiceAccountAnnotation.DbCredsMaxTtl]] as const) {
    const k = annotation(settings, suffix);
    const raw = annotations?.[k];
    if (raw === undefined) continue;
    const seconds = parseDuration(raw);
    if (seconds === undefined || seconds <= 0) return refuse(`${k} is "${raw}"; it must be a duration such as 30m or 1h`);
    if (cap > 0 && seconds > cap) return refuse(`${k} is ${raw}; connection "${offer.connection}" allows at most ${offer.max_ttl}`);
    ttls[field] = seconds;
  }
  const maxTtl = ttls.maxTtl ?? cap;
  const defaultTtl = ttls.ttl ?? (maxTtl > 0 && capDefault > maxTtl ? maxTtl : capDefault);
  if (maxTtl > 0 && defaultTtl > maxTtl) return refuse(`the lease TTL (${defaultTtl}s) exceeds the maximum (${maxTtl}s)`);

  const role: DatabaseRole = {
    name: serviceAccountRoleName(namespace, name),
    db_name: connection,
    creation_statements: [...template.creation_statements],
    ...(template.revocation_statements?.length ? { revocation_statements: [...template.revocation_statements] } : {}),
    ...(template.renew_statements?.length ? { renew_statements: [...template.renew_statements] } : {}),
    ...(template.rollback_statements?.length ? { rollback_statements: [...template.rollback_statements] } : {}),
    default_ttl: defaultTtl,
    max_ttl: maxTtl,
  };
  return { entry: { type: 'database', path: engine.path ?? '', mount, role } };
}

/** Vault's allowed_roles: names or globs (`*` only), a list or a comma-separated string. */
export function allowedRole(allowed: unknown, role: string): boolean {
  const patterns = Array.isArray(allowed) ? allowed.map(String) : typeof allowed === 'string' ? allowed.split(',') : [];
  return patterns
    .map((p) => p.trim())
    .filter((p) => p !== '')
    .some((p) => new RegExp(`^${p.split('*').map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`).test(role));
}

/** The policy lines that let the ServiceAccount read (= create) its credentials. */
export function databasePolicyRules(entry: DatabaseEntry): string {
  return `path "${entry.mount}/creds/${entry.role.name}" {\n  capabilities = ["read"]\n}\n`;
}

/** Only the role fields this controller writes (the rest of a stored role is not ours to compare). */
export function pickDatabaseRole(role: Record<string, unknown>): DatabaseRole {
  const picked: Record<string, unknown> = {};
  for (const key of DATABASE_ROLE_KEYS) if (role[key] !== undefined) picked[key] = role[key];
  return picked as unknown as DatabaseRole;
}
