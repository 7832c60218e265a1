// What the rest of the operator needs from a key-management service, and the
// one vocabulary for why a decryption failed. Implementations live one per
// file (aws-kms.ts); nothing outside operator/kms/ knows which one runs.

export type EncryptionContext = Record<string, string>;

export interface DecryptRequest {
  /** The raw ciphertext blob (already base64-decoded). */
  ciphertext: Uint8Array;
  context?: EncryptionContext;
}

export interface DecryptResult {
  /** Plaintext bytes; callers turn them into strings, mark them secret and drop them after use. */
  plaintext: Uint8Array;
  /** The key that decrypted it (an ARN for AWS KMS). */
  keyId: string;
}

export interface Decryptor {
  decrypt(request: DecryptRequest): Promise<DecryptResult>;
}

export interface EncryptRequest {
  /** Key id, ARN, alias name (`alias/x`) or alias ARN. */
  keyId: string;
  plaintext: Uint8Array;
  context?: EncryptionContext;
}

export interface EncryptResult {
  ciphertext: Uint8Array;
  keyId: string;
}

export interface Encryptor {
  encrypt(request: EncryptRequest): Promise<EncryptResult>;
}

/** Why KMS said no — each maps to a different fix for the user. */
export const KmsFailure = {
  /** The credentials may not use the key (IAM or key policy), or the key is not in this account/region. */
  AccessDenied: 'AccessDenied',
  /** Ciphertext is corrupt, or the encryption context differs from the one used to encrypt. */
  InvalidCiphertext: 'InvalidCiphertext',
  /** Encrypted with a key the operator is not configured to accept. */
  WrongKey: 'WrongKey',
  KeyNotFound: 'KeyNotFound',
  /** Disabled, pending deletion, or pending import. */
  KeyUnusable: 'KeyUnusable',
  /** Rejected as malformed before decryption was tried. */
  InvalidRequest: 'InvalidRequest',
  /** Network, timeout, throttling, or a KMS-side 5xx: worth retrying. */
  Unreachable: 'Unreachable',
  /** No AWS credentials or no region: the operator's environment lacks them. */
  NotConfigured: 'NotConfigured',
  Other: 'Other',
} as const;
export type KmsFailure = (typeof KmsFailure)[keyof typeof KmsFailure];

export class KmsError extends Error {
  constructor(
    readonly failure: KmsFailure,
    /** The service's own error name or transport code, e.g. InvalidCiphertextException, ECONNREFUSED. */
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'KmsError';
  }

  get transient(): boolean {
    return this.failure === KmsFailure.Unreachable;
  }
}

/**
 * A sentence telling a user what most likely went wrong and what to check.
 * `hasContext` says whether an encryption context was sent, because KMS
 * reports "wrong context" and "corrupt ciphertext" with the same error.
 */
export function explainKmsFailure(failure: KmsFailure, hasContext: boolean): string {
  switch (failure) {
    case KmsFailure.AccessDenied:
      return 'KMS denied access: the ciphertext names a key the operator may not use (IAM or key policy), or a key from another account or region';
    case KmsFailure.InvalidCiphertext:
      return hasContext
        ? 'KMS rejected the ciphertext: the encryption context (secretContext) does not match the one used to encrypt, or the ciphertext is corrupt'
        : 'KMS rejected the ciphertext: it was probably encrypted with an encryption context (set secretContext), or it is corrupt';
    case KmsFailure.WrongKey:
      return 'encrypted with a KMS key the operator does not accept (see VAULT_AUTOPILOT_KMS_ALLOWED_KEY_IDS); re-encrypt with an allowed key';
    case KmsFailure.KeyNotFound:
      return 'the KMS key does not exist in this account and region';
    case KmsFailure.KeyUnusable:
      return 'the KMS key is disabled or pending deletion';
    case KmsFailure.InvalidRequest:
      return 'KMS rejected the request as malformed (is the value a KMS ciphertext blob?)';
    case KmsFailure.Unreachable:
      return 'KMS could not be reached (endpoint, network or throttling); will retry';
    case KmsFailure.NotConfigured:
      return 'the operator has no AWS credentials or region for KMS: on EKS annotate its ServiceAccount (eks.amazonaws.com/role-arn); elsewhere set AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_REGION (and VAULT_AUTOPILOT_KMS_ENDPOINT for a KMS-compatible endpoint) on its Deployment';
    default:
      return 'KMS decryption failed';
  }
}
