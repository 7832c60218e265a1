// The harness Vault is plain http on 127.0.0.1: tests that adopt it as an
// external Vault must allow it the way a platform admin would, through the
// operator's own settings (operator/controllers/vault/trust.ts).
import { ExternalVaultEnv, TOKEN_SECRET_LABEL, type ExternalVaultTrust } from '../../operator/controllers/vault/trust.js';

export const HARNESS_VAULT_TRUST: ExternalVaultTrust = { allowed: ['http://127.0.0.1:*'], allowHttp: true };

/** The same as environment variables, for an operator process. */
export const HARNESS_VAULT_TRUST_ENV: Record<string, string> = {
  [ExternalVaultEnv.addresses]: HARNESS_VAULT_TRUST.allowed.join(','),
  [ExternalVaultEnv.allowHttp]: 'true',
};

/** Labels that let `Vault` resource `vaultName` use a Secret as spec.external.auth.tokenSecretRef. */
export function tokenSecretLabels(vaultName: string): Record<string, string> {
  return { [TOKEN_SECRET_LABEL]: vaultName };
}
