// Every key's plaintext for one sync: Vault's value where it is provably the
// same (see decrypt-digests.ts), KMS for the rest, a few calls at a time.
import { setScopedSecrets } from '../../framework/index.js';
import { KmsError, KmsFailure, type Decryptor } from '../../kms/decryptor.js';
import type { KvData } from '../../vault/kv.js';
import type { DecryptDigests } from './decrypt-digests.js';
import { summariseDecryptFailures, type DecodedKey, type Failure, type KeyDecryptFailure } from './plan.js';

/** KMS calls in flight per object: enough to be quick, few enough not to be throttled. */
const DECRYPT_CONCURRENCY = 8;

async function forEachLimited<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++] as T);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

/** Decrypts all or reports one failure for the keys KMS refused; the plaintext is redacted in this object's (`scope`) lines. */
export async function decryptAll(
  decryptor: Decryptor,
  digests: DecryptDigests,
  keys: readonly DecodedKey[],
  inVault: KvData | undefined,
  scope: string,
): Promise<{ ok: true; value: Record<string, string> } | { ok: false; failure: Failure }> {
    const failures: KeyDecryptFailure[] = [];
    const values: Record<string, string> = {};
    await forEachLimited(keys, DECRYPT_CONCURRENCY, async (k) => {
      if (!k.ciphertext) {
        values[k.key] = '';
        return;
      }
      const held = inVault?.[k.key];
      if (digests.matches({ ciphertext: k.ciphertext, context: k.context }, held)) {
        values[k.key] = held as string;
        return;
      }
      try {
        const out = await decryptor.decrypt({ ciphertext: k.ciphertext, context: k.context });
        const text = Buffer.from(out.plaintext).toString('utf8');
        out.plaintext.fill(0);
        digests.remember({ ciphertext: k.ciphertext, context: k.context }, text);
        values[k.key] = text;
      } catch (err) {
        const failure = err instanceof KmsError ? err.failure : KmsFailure.Other;
        failures.push({ key: k.key, failure, hasContext: k.context !== undefined });
      }
    });
    // this object's plaintext, and only its current one, is what its lines redact
    setScopedSecrets(scope, Object.values(values));
    if (failures.length > 0) {
      failures.sort((a, b) => a.key.localeCompare(b.key));
      return { ok: false, failure: summariseDecryptFailures(failures) };
    }
    // keep the spec's key order so messages and status read naturally
    const ordered: Record<string, string> = {};
    for (const k of keys) ordered[k.key] = values[k.key] as string;
    return { ok: true, value: ordered };
}
