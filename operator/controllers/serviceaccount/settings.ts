// Operator settings of the ServiceAccount auto-configuration lifecycle, parsed
// from VAULT_AUTOPILOT_* environment variables. Parsing is pure (the file
// reader is injected) and rejects bad values with a message naming the variable.
import { readFileSync } from 'node:fs';
import { DEFAULT_ANNOTATION_PREFIX } from '../../api/naming.js';
import { parseDuration as parseDurationMsKit, SettingsError } from '../../framework/index.js';

export { SettingsError };

export interface VaultRef {
  namespace: string;
  name: string;
}

export interface ServiceAccountSettings {
  /** e.g. `vault.autopilot.dev/`; always ends with `/`. */
  annotationPrefix: string;
  /** The `Vault` resource used when a ServiceAccount names none. */
  defaultTargetVault: VaultRef;
  /** Mount path of the Kubernetes auth method inside the target `Vault` resource. */
  kubernetesAuthPath: string;
  /** Policy template (HCL) with `{{namespace}}` and `{{name}}` placeholders. */
  policyTemplate: string;
  /** token_ttl / token_max_ttl of every role, in seconds (Vault's own unit when it reads a role back). */
  tokenTtlSeconds: number;
  tokenMaxTtlSeconds: number;
  /** The `default` ServiceAccount is used by every pod that names none; refused unless this is true. */
  allowDefaultServiceAccount: boolean;
}

export const SERVICE_ACCOUNT_SETTING = {
  annotationPrefix: 'VAULT_AUTOPILOT_ANNOTATION_PREFIX',
  targetVault: 'VAULT_AUTOPILOT_TARGET_VAULT',
  kubernetesAuthPath: 'VAULT_AUTOPILOT_KUBERNETES_AUTH_PATH',
  policyTemplate: 'VAULT_AUTOPILOT_POLICY_TEMPLATE',
  policyTemplateFile: 'VAULT_AUTOPILOT_POLICY_TEMPLATE_FILE',
  tokenTtl: 'VAULT_AUTOPILOT_SA_TOKEN_TTL',
  tokenMaxTtl: 'VAULT_AUTOPILOT_SA_TOKEN_MAX_TTL',
  allowDefaultServiceAccount: 'VAULT_AUTOPILOT_ALLOW_DEFAULT_SERVICEACCOUNT',
} as const;

/** Where a ServiceAccount's entries go when it names no `Vault`. */
export const DEFAULT_TARGET_VAULT = 'vault-system/vault';
export const DEFAULT_KUBERNETES_AUTH_PATH = 'kubernetes';
/** As short-lived as the predecessor's (5m); Vault Agent renews it up to the max. */
export const DEFAULT_TOKEN_TTL = '5m';
export const DEFAULT_TOKEN_MAX_TTL = '1h';

/**
 * Read/list on the ServiceAccount's own KV v2 subtree of the `secret` mount:
 * `secret/<namespace>/<serviceaccount>/...`, inside the namespace's own tenancy
 * (`<mount>/<namespace>/...`) that KMSVaultSecret writes to by default.
 */
export const DEFAULT_POLICY_TEMPLATE = `path "secret/data/{{namespace}}/{{name}}/*" {
  capabilities = ["read", "list"]
}
path "secret/metadata/{{namespace}}/{{name}}/*" {
  capabilities = ["read", "list"]
}
`;

export const POLICY_TEMPLATE_PLACEHOLDERS = ['namespace', 'name'] as const;
const PLACEHOLDER = /\{\{\s*([^}\s]*)\s*\}\}/g;

export function parseServiceAccountSettings(
  env: Record<string, string | undefined>,
  readFile: (path: string) => string = (path) => readFileSync(path, 'utf8'),
): ServiceAccountSettings {
  const S = SERVICE_ACCOUNT_SETTING;
  const prefix = nonEmpty(env[S.annotationPrefix]) ?? DEFAULT_ANNOTATION_PREFIX;
  const target = nonEmpty(env[S.targetVault]) ?? DEFAULT_TARGET_VAULT;
  const defaultTargetVault = parseVaultRef(target);
  if (!defaultTargetVault) {
    throw new SettingsError([`${S.targetVault} must be <namespace>/<name> of a Vault resource, got "${target}"`]);
  }
  const authPath = (nonEmpty(env[S.kubernetesAuthPath]) ?? DEFAULT_KUBERNETES_AUTH_PATH).replace(/^\/+|\/+$/g, '');
  if (!/^[\w.-]+(\/[\w.-]+)*$/.test(authPath)) {
    throw new SettingsError([`${S.kubernetesAuthPath} must be a Vault mount path such as "kubernetes", got "${authPath}"`]);
  }

  const inlineTemplate = nonEmpty(env[S.policyTemplate]);
  const templateFile = nonEmpty(env[S.policyTemplateFile]);
  if (inlineTemplate && templateFile) {
    throw new SettingsError([`set either ${S.policyTemplate} or ${S.policyTemplateFile}, not both`]);
  }
  let policyTemplate = DEFAULT_POLICY_TEMPLATE;
  if (inlineTemplate) policyTemplate = inlineTemplate;
  if (templateFile) {
    try {
      policyTemplate = readFile(templateFile);
    } catch (err) {
      throw new SettingsError([`${S.policyTemplateFile}: cannot read ${templateFile} (${(err as Error).message})`]);
    }
  }
  const templateProblem = checkPolicyTemplate(policyTemplate);
  if (templateProblem) throw new SettingsError([`policy template: ${templateProblem}`]);

  const tokenTtlSeconds = parseDurationSetting(S.tokenTtl, env[S.tokenTtl] ?? DEFAULT_TOKEN_TTL);
  const tokenMaxTtlSeconds = parseDurationSetting(S.tokenMaxTtl, env[S.tokenMaxTtl] ?? DEFAULT_TOKEN_MAX_TTL);
  if (tokenMaxTtlSeconds !== 0 && tokenTtlSeconds > tokenMaxTtlSeconds) {
    throw new SettingsError([`${S.tokenTtl} (${tokenTtlSeconds}s) must not exceed ${S.tokenMaxTtl} (${tokenMaxTtlSeconds}s)`]);
  }

  return {
    annotationPrefix: prefix.endsWith('/') ? prefix : `${prefix}/`,
    defaultTargetVault,
    kubernetesAuthPath: authPath,
    policyTemplate,
    tokenTtlSeconds,
    tokenMaxTtlSeconds,
    allowDefaultServiceAccount: parseBoolean(S.allowDefaultServiceAccount, env[S.allowDefaultServiceAccount]),
  };
}

/** `<namespace>/<name>` with DNS-label namespace and DNS-subdomain name; undefined when malformed. */
export function parseVaultRef(value: string): VaultRef | undefined {
  const match = /^([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)\/([a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?)$/.exec(value.trim());
  if (!match) return undefined;
  return { namespace: match[1]!, name: match[3]! };
}

export function formatVaultRef(ref: VaultRef): string {
  return `${ref.namespace}/${ref.name}`;
}

/** Undefined when the template is usable, else what is wrong with it. */
export function checkPolicyTemplate(template: string): string | undefined {
  if (!template.trim()) return 'is empty';
  const known: readonly string[] = POLICY_TEMPLATE_PLACEHOLDERS;
  const unknown = [...template.matchAll(PLACEHOLDER)].map((m) => m[1]!).filter((p) => !known.includes(p));
  if (unknown.length) {
    return `unknown placeholder(s) ${unknown.map((p) => `{{${p}}}`).join(', ')}; accepted: ${known.map((p) => `{{${p}}}`).join(', ')}`;
  }
  return undefined;
}

/** Replaces `{{namespace}}` and `{{name}}` (spaces inside the braces allowed). */
export function renderPolicyTemplate(template: string, values: { namespace: string; name: string }): string {
  return template.replace(PLACEHOLDER, (whole, key: string) =>
    key === 'namespace' ? values.namespace : key === 'name' ? values.name : whole,
  );
}

/** Vault-style duration (`300`, `30s`, `5m`, `1h30m`, `7d`; the framework's one grammar) in whole seconds. */
export function parseDuration(value: string): number | undefined {
  const ms = parseDurationMsKit(value);
  return ms === undefined || ms % 1000 !== 0 ? undefined : ms / 1000;
}

function parseDurationSetting(variable: string, value: string): number {
  const seconds = parseDuration(value);
  if (seconds === undefined) {
    throw new SettingsError([`${variable} must be a duration such as 300, 30s, 5m or 1h, got "${value}"`]);
  }
  return seconds;
}

function parseBoolean(variable: string, value: string | undefined): boolean {
  const text = (value ?? '').trim().toLowerCase();
  if (text === '' || text === 'false' || text === '0') return false;
  if (text === 'true' || text === '1') return true;
  throw new SettingsError([`${variable} must be true or false, got "${value}"`]);
}

function nonEmpty(value: string | undefined): string | undefined {
  return value && value.trim() ? value.trim() : undefined;
}
