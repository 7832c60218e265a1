// The Vault identity KMSVaultSecrets are written with: a policy covering only
// the KV mounts this `Vault` declares (and, under the namespace path policy,
// only the per-namespace subtrees the KMSVaultSecret controller allows), and
// a Kubernetes-auth role for the operator's ServiceAccount on the operator's
// own auth mount. Both are added to the desired externalConfig, so they are
// diffed, kept and restored like every other entry. Pure.
import type { ExternalConfig, ManagedRecord, SecretEngineSpec } from '../../api/vault.js';
import { PathPolicy } from '../kmsvaultsecret/settings.js';
import { OPERATOR_AUTH_PATH } from '../../api/naming.js';

export const KMS_POLICY_NAME = 'vault-autopilot-kms';
export const KMS_AUTH_ROLE = 'kms-vault-secrets';
/** The role's id in status.managed.roles. */
export const KMS_ROLE_ID = `${OPERATOR_AUTH_PATH}/${KMS_AUTH_ROLE}`;

export interface KvMountDecl {
  path: string;
  version: 'v1' | 'v2';
}

/** The KV mounts an externalConfig declares (`kv`, `kv-v2`, `generic`). */
export function declaredKvMounts(secrets: readonly SecretEngineSpec[] | undefined): KvMountDecl[] {
  const out: KvMountDecl[] = [];
  for (const s of secrets ?? []) {
    const path = (s.path || s.type).replace(/^\/+|\/+$/g, '');
    if (s.type === 'kv-v2') out.push({ path, version: 'v2' });
    else if (s.type === 'kv' || s.type === 'generic') out.push({ path, version: String(s.options?.['version'] ?? '1') === '2' ? 'v2' : 'v1' });
  }
  return out.sort((a, b) => a.path.localeCompare(b.path));
}

/**
 * HCL for exactly what the KMSVaultSecret controller does: read and write a
 * secret (v2: data/), delete it with its history (v2: metadata/). Under the
 * namespace policy a secret must sit below `<mount>/<namespace>/`, so `+`
 * keeps the top level of every mount out of reach.
 */
export function kmsPolicyRules(mounts: readonly KvMountDecl[], pathPolicy: PathPolicy): string {
  const below = pathPolicy === PathPolicy.Namespace ? '+/*' : '*';
  const lines = ['# managed by vault-autopilot: what KMSVaultSecrets may write'];
  for (const m of mounts) {
    if (m.version === 'v2') {
      lines.push(`path "${m.path}/data/${below}" { capabilities = ["create", "read", "update"] }`);
      lines.push(`path "${m.path}/metadata/${below}" { capabilities = ["read", "delete"] }`);
    } else {
      lines.push(`path "${m.path}/${below}" { capabilities = ["create", "read", "update", "delete"] }`);
    }
  }
  if (mounts.length === 0) lines.push('# no KV mount in spec.externalConfig.secrets: nothing to write');
  return lines.join('\n');
}

/**
 * externalConfig plus the KMS policy and role. Only when the operator's own
 * auth mount is there and not hand-written (withOperatorAuth added it): the
 * role lives on that mount, bound to the operator's ServiceAccount.
 */
export function withKmsIdentity(
  config: ExternalConfig | undefined,
  operator: { name: string; namespace: string } | undefined,
  handWritten: ExternalConfig | undefined,
  pathPolicy: PathPolicy,
): ExternalConfig | undefined {
  if (!operator || !config) return config;
  if (handWritten?.auth?.some((a) => a.path === OPERATOR_AUTH_PATH)) return config;
  const mount = config.auth?.find((a) => a.path === OPERATOR_AUTH_PATH);
  if (!mount) return config;
  if (config.policies?.some((p) => p.name === KMS_POLICY_NAME)) return config;
  return {
    ...config,
    policies: [...(config.policies ?? []), { name: KMS_POLICY_NAME, rules: kmsPolicyRules(declaredKvMounts(config.secrets), pathPolicy) }],
    auth: (config.auth ?? []).map((a) =>
      a === mount
        ? {
            ...a,
            roles: [
              ...(a.roles ?? []),
              {
                name: KMS_AUTH_ROLE,
                bound_service_account_names: [operator.name],
                bound_service_account_namespaces: [operator.namespace],
                token_policies: [KMS_POLICY_NAME],
                token_ttl: '20m',
              },
            ],
          }
        : a,
    ),
  };
}

/** Whether the operator manages the KMS login in a Vault (from its status). */
export function hasKmsIdentity(managed: ManagedRecord | undefined): boolean {
  return (managed?.roles ?? []).includes(KMS_ROLE_ID) && (managed?.policies ?? []).includes(KMS_POLICY_NAME);
}
