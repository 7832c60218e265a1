// Checks before `sys/init`, and what to say when the keys are not where they
// must be. sys/init hands out the unseal keys exactly once: everything that
// must work afterwards (KMS encryption with this key and context, writing the
// keys Secret) is tried first, so a wrong key or missing permission stops the
// operator while the Vault is still uninitialised and nothing can be lost.
import { randomBytes } from 'node:crypto';
import type { UnsealConfig } from '../api/vault.js';
import { KmsError, KmsFailure } from '../kms/decryptor.js';
import type { KeyCipher } from './unseal.js';

/** Annotation on the keys Secret while an initialisation is under way (ISO time it started). */
export const INIT_STARTED_ANNOTATION = 'vault.autopilot.dev/init-started';

/** Bank-Vaults' unsealConfig.options.preFlightChecks, default on. */
export function preFlightChecksEnabled(config: UnsealConfig | undefined): boolean {
  return config?.options?.preFlightChecks !== false;
}

export type PreFlightOutcome = { ok: true } | { ok: false; transient: boolean; message: string };

/**
 * Encrypt a random probe with the configured key and context, decrypt it with
 * the same context, compare. Exactly the two operations the keys need later.
 */
export async function kmsRoundTrip(cipher: KeyCipher): Promise<PreFlightOutcome> {
  const probe = randomBytes(32);
  try {
    const sealed = await cipher.kms.encrypt({ keyId: cipher.keyId, plaintext: probe, context: cipher.context });
    const opened = await cipher.kms.decrypt({ ciphertext: sealed.ciphertext, context: cipher.context });
    const same = Buffer.from(opened.plaintext).equals(probe);
    opened.plaintext.fill(0);
    if (!same) return { ok: false, transient: false, message: `KMS pre-flight with key ${cipher.keyId}: the decrypted probe differs from what was encrypted` };
    return { ok: true };
  } catch (err) {
    return { ok: false, transient: err instanceof KmsError && err.transient, message: describeKmsPreFlightFailure(err, cipher.keyId) };
  }
}

/** What the user must fix, per KMS failure, for the encrypt/decrypt round trip. */
export function describeKmsPreFlightFailure(err: unknown, keyId: string): string {
  const prefix = `KMS pre-flight (encrypt and decrypt a probe with key ${keyId}) failed, Vault not initialised`;
  if (!(err instanceof KmsError)) return `${prefix}: ${err instanceof Error ? err.message : String(err)}`;
  switch (err.failure) {
    case KmsFailure.AccessDenied:
      return `${prefix}: access denied (${err.code}); the operator's credentials need kms:Encrypt and kms:Decrypt on this key (IAM and key policy)`;
    case KmsFailure.KeyNotFound:
      return `${prefix}: no such key in this account and region (${err.code}); check unsealConfig.aws.kmsKeyId and kmsRegion`;
    case KmsFailure.KeyUnusable:
      return `${prefix}: the key is disabled, pending deletion or not a symmetric encryption key (${err.code})`;
    case KmsFailure.WrongKey:
      return `${prefix}: the key is not one the operator accepts (${err.code})`;
    case KmsFailure.InvalidCiphertext:
      return `${prefix}: KMS could not decrypt what it had just encrypted with this context (${err.code})`;
    case KmsFailure.Unreachable:
      return `${prefix}: KMS could not be reached (${err.code}); will retry`;
    default:
      return `${prefix}: ${err.code}: ${err.message}`;
  }
}

/**
 * A Vault that is initialised while the keys Secret holds no keys. Managed
 * Vaults are always initialised by the operator, so missing keys are always a
 * problem there; for an adopted Vault only when the operator started the
 * initialisation itself (the annotation says so). Undefined: nothing to say.
 */
export function keysNotStoredMessage(input: {
  managed: boolean;
  keysSecretName: string;
  initStartedAt: string | undefined;
  address: string;
  volumeClaims: string[];
}): string | undefined {
  if (!input.managed && !input.initStartedAt) return undefined;
  const what = input.initStartedAt
    ? `Vault at ${input.address} is initialised but its unseal keys were never stored: the operator started initialising it at ${input.initStartedAt} and stopped (crash or kill) after sys/init answered and before Secret ${input.keysSecretName} was written. The keys existed only in that process and are gone.`
    : `Vault at ${input.address} is initialised but Secret ${input.keysSecretName} holds no unseal keys (vault-unseal-0...). The operator cannot unseal it after a restart.`;
  const wipe = input.volumeClaims.length
    ? `delete its storage (PersistentVolumeClaims ${input.volumeClaims.join(', ')}) and its pods`
    : 'empty its storage backend and restart it';
  return `${what} If the Vault holds no data yet, ${wipe}; the operator initialises it again. Otherwise put the existing keys into Secret ${input.keysSecretName} (keys vault-unseal-0..N, KMS-encrypted when unsealConfig.aws is set).`;
}
