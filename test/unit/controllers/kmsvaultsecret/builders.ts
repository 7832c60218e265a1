// Small object builders for KMSVaultSecret tests.
import type { KMSVaultSecret, PartialKMSVaultSecret, SecretEntry } from '../../../../operator/api/kmsvaultsecret.js';

export function aKmsVaultSecret(overrides: Partial<KMSVaultSecret['spec']> = {}, meta: Partial<NonNullable<KMSVaultSecret['metadata']>> = {}): KMSVaultSecret {
  return {
    apiVersion: 'vault.autopilot.dev/v1alpha1',
    kind: 'KMSVaultSecret',
    metadata: { name: 'app', namespace: 'team-a', generation: 1, ...meta },
    spec: {
      path: 'secret/team-a/app',
      kvSettings: { engineVersion: 'v2' },
      secrets: [aSecret('password')],
      ...overrides,
    },
  };
}

export function aSecret(key: string, overrides: Partial<SecretEntry> = {}): SecretEntry {
  return { key, encryptedSecret: Buffer.from(`ciphertext-of-${key}`).toString('base64'), ...overrides };
}

export function aPartial(name: string, spec: Partial<PartialKMSVaultSecret['spec']> = {}): PartialKMSVaultSecret {
  return {
    apiVersion: 'vault.autopilot.dev/v1alpha1',
    kind: 'PartialKMSVaultSecret',
    metadata: { name, namespace: 'team-a' },
    spec: { secrets: [aSecret(`${name}-key`)], ...spec },
  };
}
