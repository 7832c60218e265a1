// What a KMSVaultSecret failure is called and says (a condition reason and a
// message that says what to fix), and whether it is worth a retry. Pure.
import { KmsVaultSecretReason } from '../../api/kmsvaultsecret.js';
import { explainKmsFailure, KmsFailure } from '../../kms/decryptor.js';

export interface Failure {
  reason: KmsVaultSecretReason;
  /** Says what to fix; names keys and paths, never a value. */
  message: string;
  /** A cause outside the object (Vault/KMS down): retry with backoff rather than wait for an edit. */
  transient: boolean;
  /** Waiting for something that comes by itself (a Vault becoming Ready): look again after this long. */
  retryAfterMs?: number;
}

export type Outcome<T> = { ok: true; value: T } | { ok: false; failure: Failure };

export interface KeyDecryptFailure {
  key: string;
  failure: KmsFailure;
  hasContext: boolean;
}

/** One failure for all keys KMS refused; unreachable KMS wins because it is what to fix first. */
export function summariseDecryptFailures(failures: readonly KeyDecryptFailure[]): Failure {
  if (failures.some((f) => f.failure === KmsFailure.NotConfigured)) {
    return { reason: KmsVaultSecretReason.KMSNotConfigured, message: `could not decrypt: ${explainKmsFailure(KmsFailure.NotConfigured, false)}`, transient: false };
  }
  const unreachable = failures.filter((f) => f.failure === KmsFailure.Unreachable);
  if (unreachable.length > 0) {
    return {
      reason: KmsVaultSecretReason.KMSUnreachable,
      message: `could not decrypt ${unreachable.map((f) => `"${f.key}"`).join(', ')}: ${explainKmsFailure(KmsFailure.Unreachable, false)}`,
      transient: true,
    };
  }
  return {
    reason: KmsVaultSecretReason.DecryptionFailed,
    message: failures.map((f) => `key "${f.key}": ${explainKmsFailure(f.failure, f.hasContext)}`).join('; '),
    transient: false,
  };
}

/** Anything not foreseen above (a Kubernetes API error, mostly): still a condition, retried with backoff. */
export function unexpectedFailure(err: unknown): Failure {
  const code = (err as { code?: unknown }).code;
  const text = err instanceof Error ? err.message : String(err);
  return {
    reason: KmsVaultSecretReason.SyncError,
    message: `${typeof code === 'number' ? `Kubernetes API error ${code}: ` : ''}${text.split('\n')[0]!.slice(0, 300)}; will retry`,
    transient: true,
  };
}

export type VaultPhase = 'detect' | 'read' | 'write' | 'delete';

/** Name a Vault error for the user; the error text comes from Vault and never carries our request body. */
export function vaultFailure(error: { unreachable: boolean; status?: number; message: string }, phase: VaultPhase, path: string): Failure {
  if (error.unreachable) {
    return { reason: KmsVaultSecretReason.VaultUnreachable, message: `Vault is unreachable (${error.message}); will retry`, transient: true };
  }
  const hint = error.status === 403 ? ' — check the operator\'s Vault policy allows it' : '';
  const verb = { detect: 'looking up the mount of', read: 'reading', write: 'writing', delete: 'deleting' }[phase];
  return {
    reason: phase === 'delete' ? KmsVaultSecretReason.VaultDeleteFailed : KmsVaultSecretReason.VaultWriteFailed,
    message: `${verb} "${path}" failed: ${error.message}${hint}`,
    transient: true,
  };
}

