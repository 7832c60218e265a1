// Where clients reach a Vault resource. Shared by the Vault lifecycle (which
// makes the Service and the TLS Secret) and the webhook (which points pods at
// them), so it lives in api/: neither imports the other.
import type { VaultResource } from './vault.js';

/** The serving certificate the operator generates for a managed Vault. */
export const generatedTlsSecretName = (name: string): string => `${name}-tls`;
/** The TLS Secret a managed Vault's pods run with: the user's, or the generated one. */
export const tlsSecretName = (vault: VaultResource): string => vault.spec.existingTlsSecretName ?? generatedTlsSecretName(vault.metadata!.name!);

/** Where clients reach a Vault resource: for the webhook and for other lifecycles. */
export function vaultEndpoint(vault: VaultResource): { address: string; caSecretName?: string; caCert?: string } {
  const name = vault.metadata!.name!;
  const namespace = vault.metadata!.namespace!;
  if (vault.spec.external) {
    return {
      address: vault.spec.external.address,
      ...(vault.spec.external.caSecret ? { caSecretName: vault.spec.external.caSecret } : {}),
      ...(vault.spec.external.caCert ? { caCert: vault.spec.external.caCert } : {}),
    };
  }
  return { address: `https://${name}.${namespace}.svc:8200`, caSecretName: tlsSecretName(vault) };
}
