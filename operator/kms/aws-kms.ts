// AWS KMS (or anything speaking its API, e.g. local-kms) behind the
// Decryptor/Encryptor interfaces. Errors are turned into KmsError so callers
// can tell "fix your key policy" from "fix your encryption context" from
// "KMS is down, retry".
import type { KMSClient, KMSClientConfig } from '@aws-sdk/client-kms';
import {
  KmsError,
  KmsFailure,
  type DecryptRequest,
  type DecryptResult,
  type Decryptor,
  type EncryptRequest,
  type EncryptResult,
  type Encryptor,
} from './decryptor.js';

export interface AwsKmsOptions {
  region?: string;
  /** e.g. http://127.0.0.1:8080 for local-kms; default: the AWS endpoint of the region. */
  endpoint?: string;
  /** Static credentials (tests, local-kms); default: the AWS SDK's credential chain. */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  /**
   * Keys whose ciphertext is accepted (key ids, ARNs or alias names).
   * Empty: any key the credentials can use.
   */
  allowedKeyIds?: string[];
  /** Attempts per call, including the first (SDK retry with backoff). Default 3. */
  maxAttempts?: number;
  requestTimeoutMs?: number;
}

type Sdk = typeof import('@aws-sdk/client-kms');

export class AwsKms implements Decryptor, Encryptor {
  /**
   * The AWS SDK (about 25 MB resident) loads on the first call: an operator
   * with no KMSVaultSecret to decrypt and no KMS-unsealed Vault never pays for it.
   */
  private loaded: Promise<{ sdk: Sdk; client: KMSClient }> | undefined;
  private client: KMSClient | undefined;
  private allowedArns: Promise<Set<string>> | undefined;

  constructor(private readonly options: AwsKmsOptions = {}) {}

  private sdk(): Promise<{ sdk: Sdk; client: KMSClient }> {
    this.loaded ??= import('@aws-sdk/client-kms').then((mod) => {
      // The SDK is CommonJS: Node names its exports, the image's bundle
      // (esbuild) hands them over as `default` only.
      const sdk: Sdk = 'KMSClient' in mod ? mod : (mod as { default: Sdk }).default;
      const { options } = this;
      const config: KMSClientConfig = {
        region: options.region,
        endpoint: options.endpoint,
        maxAttempts: options.maxAttempts ?? 3,
        requestHandler: { requestTimeout: options.requestTimeoutMs ?? 10_000, connectionTimeout: 5_000 },
      };
      if (options.credentials) config.credentials = options.credentials;
      this.client = new sdk.KMSClient(config);
      return { sdk, client: this.client };
    });
    return this.loaded;
  }

  async decrypt(request: DecryptRequest): Promise<DecryptResult> {
    let out;
    try {
      const { sdk, client } = await this.sdk();
      out = await client.send(
        new sdk.DecryptCommand({
          CiphertextBlob: request.ciphertext,
          EncryptionContext: request.context && Object.keys(request.context).length > 0 ? request.context : undefined,
        }),
      );
    } catch (err) {
      throw classifyAwsKmsError(err);
    }
    const plaintext = out.Plaintext ?? new Uint8Array();
    const keyId = out.KeyId ?? '';
    if (!(await this.isAllowed(keyId))) {
      plaintext.fill(0);
      throw new KmsError(KmsFailure.WrongKey, 'KeyNotAllowed', `ciphertext was encrypted with key ${keyId}, which is not allowed`);
    }
    return { plaintext, keyId };
  }

  async encrypt(request: EncryptRequest): Promise<EncryptResult> {
    try {
      const { sdk, client } = await this.sdk();
      const out = await client.send(
        new sdk.EncryptCommand({
          KeyId: request.keyId,
          Plaintext: request.plaintext,
          EncryptionContext: request.context && Object.keys(request.context).length > 0 ? request.context : undefined,
        }),
      );
      return { ciphertext: out.CiphertextBlob ?? new Uint8Array(), keyId: out.KeyId ?? request.keyId };
    } catch (err) {
      throw classifyAwsKmsError(err);
    }
  }

  destroy(): void {
    if (this.client) this.client.destroy();
    else void this.loaded?.then(({ client }) => client.destroy());
  }

  private async isAllowed(keyArn: string): Promise<boolean> {
    const allowed = this.options.allowedKeyIds ?? [];
    if (allowed.length === 0) return true;
    // Resolve aliases and bare ids to ARNs once; a failed resolution is retried next time.
    this.allowedArns ??= Promise.all(allowed.map((id) => this.resolveKeyArn(id))).then((arns) => new Set(arns));
    try {
      return (await this.allowedArns).has(keyArn);
    } catch (err) {
      this.allowedArns = undefined;
      throw err;
    }
  }

  private async resolveKeyArn(keyId: string): Promise<string> {
    try {
      const { sdk, client } = await this.sdk();
      const out = await client.send(new sdk.DescribeKeyCommand({ KeyId: keyId }));
      return out.KeyMetadata?.Arn ?? keyId;
    } catch (err) {
      throw classifyAwsKmsError(err);
    }
  }
}

const SERVICE_FAILURES: Record<string, KmsFailure> = {
  AccessDeniedException: KmsFailure.AccessDenied,
  InvalidCiphertextException: KmsFailure.InvalidCiphertext,
  IncorrectKeyException: KmsFailure.WrongKey,
  NotFoundException: KmsFailure.KeyNotFound,
  DisabledException: KmsFailure.KeyUnusable,
  KMSInvalidStateException: KmsFailure.KeyUnusable,
  KeyUnavailableException: KmsFailure.Unreachable,
  DependencyTimeoutException: KmsFailure.Unreachable,
  KMSInternalException: KmsFailure.Unreachable,
  ThrottlingException: KmsFailure.Unreachable,
  LimitExceededException: KmsFailure.Unreachable,
  ValidationException: KmsFailure.InvalidRequest,
  SerializationException: KmsFailure.InvalidRequest,
  InvalidKeyUsageException: KmsFailure.KeyUnusable,
  InvalidGrantTokenException: KmsFailure.AccessDenied,
  UnrecognizedClientException: KmsFailure.AccessDenied,
  InvalidSignatureException: KmsFailure.AccessDenied,
};

/** Map an AWS SDK error (service exception or transport failure) to a KmsError. Pure. */
export function classifyAwsKmsError(err: unknown): KmsError {
  if (err instanceof KmsError) return err;
  const e = err as { name?: string; code?: string; message?: string; $metadata?: { httpStatusCode?: number } };
  const name = e?.name ?? 'Error';
  const status = e?.$metadata?.httpStatusCode;
  // the SDK's default chain found nothing: a set-up problem, not an outage
  if (name === 'CredentialsProviderError' || /region is missing/i.test(e?.message ?? '')) {
    return new KmsError(KmsFailure.NotConfigured, name, 'no AWS credentials or region');
  }
  const known = SERVICE_FAILURES[name];
  if (known) return new KmsError(known, name, `${name}${status ? ` (HTTP ${status})` : ''}`);
  if (status === undefined || status >= 500) {
    // no HTTP answer at all (refused, reset, timeout, DNS) or a server error
    const code = e?.code ?? name;
    return new KmsError(KmsFailure.Unreachable, code, `KMS unreachable: ${code}`);
  }
  return new KmsError(KmsFailure.Other, name, `${name} (HTTP ${status})`);
}
