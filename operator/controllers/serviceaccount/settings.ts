// Operator settings of the ServiceAccount auto-configuration lifecycle, parsed
// from VAULT_AUTOPILOT_* environment variables. Parsing is pure (the file
// reader is injected) and rejects bad values with a message naming the variable.
import { readFileSync } from 'node:fs';
import { DEFAULT_ANNOTATION_PREFIX } from '../../api/naming.js';
import { parseDuration as parseDurationMsKit, SettingsError, SettingsReader } from '../../framework/index.js';

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
const DEFAULT_VAULT_REF: VaultRef = { namespace: 'vault-system', name: 'vault' };
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

/** true/false as well as 1/0, any case (as this setting always took). */
const LENIENT_BOOLEAN = new Map([['true', true], ['1', true], ['false', false], ['0', false]]);

/** Reads every setting; throws one SettingsError listing every problem. Pure but for `readFile`. */
export function parseServiceAccountSettings(
  env: Record<string, string | undefined>,
  readFile: (path: string) => string = (path) => readFileSync(path, 'utf8'),
): ServiceAccountSettings {
  const S = SERVICE_ACCOUNT_SETTING;
  const r = new SettingsReader(env);
  const prefix = r.str(S.annotationPrefix, DEFAULT_ANNOTATION_PREFIX);
  const defaultTargetVault = r.parsed(S.targetVault, DEFAULT_VAULT_REF, parseVaultRef, (raw) => `${S.targetVault} must be <namespace>/<name> of a Vault resource, got "${raw}"`);
  const authPath = r.str(S.kubernetesAuthPath, DEFAULT_KUBERNETES_AUTH_PATH).replace(/^\/+|\/+$/g, '');
  if (!/^[\w.-]+(\/[\w.-]+)*$/.test(authPath)) r.problem(`${S.kubernetesAuthPath} must be a Vault mount path such as "kubernetes", got "${authPath}"`);

  const policyTemplate = readPolicyTemplate(r, readFile);
  const templateProblem = policyTemplate === undefined ? undefined : checkPolicyTemplate(policyTemplate);
  if (templateProblem) r.problem(`policy template: ${templateProblem}`);

  const durationProblem = (key: string) => (raw: string) => `${key} must be a duration such as 300, 30s, 5m or 1h, got "${raw}"`;
  const tokenTtlSeconds = r.parsed(S.tokenTtl, parseDuration(DEFAULT_TOKEN_TTL)!, parseDuration, durationProblem(S.tokenTtl));
  const tokenMaxTtlSeconds = r.parsed(S.tokenMaxTtl, parseDuration(DEFAULT_TOKEN_MAX_TTL)!, parseDuration, durationProblem(S.tokenMaxTtl));
  if (tokenMaxTtlSeconds !== 0 && tokenTtlSeconds > tokenMaxTtlSeconds) {
    r.problem(`${S.tokenTtl} (${tokenTtlSeconds}s) must not exceed ${S.tokenMaxTtl} (${tokenMaxTtlSeconds}s)`);
  }
  const allowDefaultServiceAccount = r.parsed(S.allowDefaultServiceAccount, false, (raw) => LENIENT_BOOLEAN.get(raw.toLowerCase()), (raw) => `${S.allowDefaultServiceAccount} must be true or false, got "${raw}"`);
  r.done();

  return {
    annotationPrefix: prefix.endsWith('/') ? prefix : `${prefix}/`,
    defaultTargetVault,
    kubernetesAuthPath: authPath,
    policyTemplate: policyTemplate ?? DEFAULT_POLICY_TEMPLATE,
    tokenTtlSeconds,
    tokenMaxTtlSeconds,
    allowDefaultServiceAccount,
  };
}

/** The inline template, the file's, or the default; undefined (a problem recorded) when it cannot be had. */
function readPolicyTemplate(r: SettingsReader, readFile: (path: string) => string): string | undefined {
  const S = SERVICE_ACCOUNT_SETTING;
  const inline = r.raw(S.policyTemplate);
  const file = r.raw(S.policyTemplateFile);
  if (inline && file) {
    r.problem(`set either ${S.policyTemplate} or ${S.policyTemplateFile}, not both`);
    return undefined;
  }
  if (!file) return inline ?? DEFAULT_POLICY_TEMPLATE;
  try {
    return readFile(file);
  } catch (err) {
    r.problem(`${S.policyTemplateFile}: cannot read ${file} (${(err as Error).message})`);
    return undefined;
  }
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
