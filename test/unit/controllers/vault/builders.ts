// Small object builders for Vault controller tests.
import type { VaultResource, VaultSpec } from '../../../../operator/api/vault.js';

export function aVault(spec: Partial<VaultSpec> = {}, name = 'vault', namespace = 'vault-ns'): VaultResource {
  return {
    apiVersion: 'vault.autopilot.dev/v1alpha1',
    kind: 'Vault',
    metadata: { name, namespace, uid: '1111-2222', generation: 1 },
    spec: { size: 3, ...spec },
  };
}
