// Unsealing, and the layout of the unseal-keys Secret.
//
// Secret layout (Bank-Vaults' names): `vault-unseal-<i>` for each key share,
// `vault-root` for the root token. With unsealConfig.aws each value is the raw
// KMS ciphertext of the key, encrypted with the context below, and the key id
// is recorded in an annotation; without it, the value is the key itself.
import { type Secret, secret } from '../framework/index.js';
import type { Decryptor, EncryptionContext, Encryptor } from '../kms/decryptor.js';
import type { SealStatus, VaultClient } from './client.js';

export const UNSEAL_KEY_PREFIX = 'vault-unseal-';
export const ROOT_TOKEN_KEY = 'vault-root';

/** Binds the ciphertext to one Vault resource: it cannot be replayed into another one's Secret. */
export function kmsContext(namespace: string, name: string): EncryptionContext {
  return { 'vault.autopilot.dev/vault': `${namespace}/${name}` };
}

export interface StoredKeys {
  keys: Secret[];
  rootToken?: Secret;
}

/** data keys of the Secret that hold unseal keys, in share order. */
export function unsealKeyNames(data: Record<string, string> | undefined): string[] {
  return Object.keys(data ?? {})
    .filter((k) => k.startsWith(UNSEAL_KEY_PREFIX) && /^\d+$/.test(k.slice(UNSEAL_KEY_PREFIX.length)))
    .sort((a, b) => Number(a.slice(UNSEAL_KEY_PREFIX.length)) - Number(b.slice(UNSEAL_KEY_PREFIX.length)));
}

export function hasStoredKeys(data: Record<string, string> | undefined): boolean {
  return unsealKeyNames(data).length > 0;
}

export interface KeyCipher {
  kms: Encryptor & Decryptor;
  keyId: string;
  context: EncryptionContext;
  /**
   * Contexts also tried when decrypting, after `context`: keys Bank-Vaults
   * stored were encrypted with its kmsEncryptionContext, or with none.
   */
  fallbackContexts?: EncryptionContext[];
}

/** Bank-Vaults' kmsEncryptionContext, `k=v,k=v`. */
export function parseEncryptionContext(text: string | undefined): EncryptionContext {
  const context: EncryptionContext = {};
  for (const pair of (text ?? '').split(',')) {
    const i = pair.indexOf('=');
    if (i > 0) context[pair.slice(0, i).trim()] = pair.slice(i + 1).trim();
  }
  return context;
}

/** Secret `data` (base64 values) for these keys, encrypted when a cipher is given. */
export async function encodeKeysSecretData(stored: StoredKeys, cipher: KeyCipher | undefined): Promise<Record<string, string>> {
  const encode = async (value: Secret): Promise<string> => {
    const plain = Buffer.from(value.reveal(), 'utf8');
    if (!cipher) return plain.toString('base64');
    const out = await cipher.kms.encrypt({ keyId: cipher.keyId, plaintext: plain, context: cipher.context });
    plain.fill(0);
    return Buffer.from(out.ciphertext).toString('base64');
  };
  const data: Record<string, string> = {};
  for (const [i, key] of stored.keys.entries()) data[`${UNSEAL_KEY_PREFIX}${i}`] = await encode(key);
  if (stored.rootToken) data[ROOT_TOKEN_KEY] = await encode(stored.rootToken);
  return data;
}

/**
 * Reads the keys back (decrypting with KMS when the Secret says they are
 * encrypted). Whoever can write the Secret chose these values: they are
 * registered for redaction in `scope` (the Vault resource's lines) only.
 */
export async function decodeKeysSecretData(
  data: Record<string, string> | undefined,
  cipher: Pick<KeyCipher, 'kms' | 'context' | 'fallbackContexts'> | undefined,
  scope?: string,
): Promise<StoredKeys> {
  const decrypt = async (raw: Buffer) => {
    let first: unknown;
    for (const context of [cipher!.context, ...(cipher!.fallbackContexts ?? [])]) {
      try {
        return await cipher!.kms.decrypt({ ciphertext: raw, context });
      } catch (err) {
        first ??= err;
      }
    }
    throw first;
  };
  const decode = async (value: string): Promise<Secret> => {
    const raw = Buffer.from(value, 'base64');
    let text: string;
    if (cipher) {
      const out = await decrypt(raw);
      text = Buffer.from(out.plaintext).toString('utf8');
      out.plaintext.fill(0);
    } else {
      text = raw.toString('utf8');
    }
    return secret(text, scope);
  };
  const keys: Secret[] = [];
  for (const name of unsealKeyNames(data)) keys.push(await decode((data as Record<string, string>)[name] as string));
  const root = data?.[ROOT_TOKEN_KEY];
  return root ? { keys, rootToken: await decode(root) } : { keys };
}

export interface UnsealOutcome {
  /** sealed before we started */
  wasSealed: boolean;
  sealed: boolean;
  status: SealStatus;
}

/**
 * Unseal one node with the stored keys. An unsealed node costs one read
 * (seal-status) and no write. Partial progress left by someone else is reset
 * first so our shares are counted from zero.
 */
export async function unsealNode(client: VaultClient, keys: Secret[]): Promise<UnsealOutcome> {
  let status = await client.sealStatus();
  if (!status.sealed) return { wasSealed: false, sealed: false, status };
  if (!status.initialized) return { wasSealed: true, sealed: true, status };
  if (status.progress > 0) await client.request('PUT', 'sys/unseal', { reset: true }, { token: null });
  for (const key of keys) {
    const res = await client.request<SealStatus>('PUT', 'sys/unseal', { key: key.reveal() }, { token: null });
    status = res.data;
    if (!status.sealed) break;
  }
  return { wasSealed: true, sealed: status.sealed, status };
}
