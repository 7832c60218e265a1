// What KMS said each ciphertext decrypts to — as a keyed digest, never the
// plaintext. An object whose ciphertexts are all known and whose Vault values
// have the remembered digests is in sync without asking KMS anything: KMS
// calls cost money and are rate-limited, and an unchanged object should cost
// none. The key is random per process, so the digests mean nothing outside
// it (a restarted operator decrypts each ciphertext once again).
import { createHmac, randomBytes } from 'node:crypto';
import type { EncryptionContext } from '../../kms/decryptor.js';

export interface Ciphertext {
  ciphertext: Uint8Array;
  context?: EncryptionContext | undefined;
}

/** Entries kept: about 130 bytes each, so the default is well under 2 MB. */
const DEFAULT_CAPACITY = 10_000;

export class DecryptDigests {
  readonly #key = randomBytes(32);
  /** digest(ciphertext + context) -> digest(plaintext); insertion order = least recently used first. */
  readonly #known = new Map<string, string>();

  constructor(private readonly capacity = DEFAULT_CAPACITY) {}

  get size(): number {
    return this.#known.size;
  }

  /** Remember what KMS decrypted `c` to. */
  remember(c: Ciphertext, plaintext: string): void {
    const id = this.#id(c);
    this.#known.delete(id);
    this.#known.set(id, this.#digest('p', plaintext));
    if (this.#known.size > this.capacity) this.#known.delete(this.#known.keys().next().value as string);
  }

  /** True when `value` (as Vault holds it) is what `c` was seen to decrypt to. */
  matches(c: Ciphertext, value: unknown): boolean {
    if (typeof value !== 'string') return false;
    const id = this.#id(c);
    const known = this.#known.get(id);
    if (known === undefined || known !== this.#digest('p', value)) return false;
    this.#known.delete(id); // most recently used last
    this.#known.set(id, known);
    return true;
  }

  #id(c: Ciphertext): string {
    const context = c.context ? JSON.stringify(Object.keys(c.context).sort().map((k) => [k, c.context![k]])) : '';
    return this.#digest('c', `${Buffer.from(c.ciphertext).toString('base64')}\0${context}`);
  }

  #digest(kind: string, text: string): string {
    return createHmac('sha256', this.#key).update(kind).update('\0').update(text).digest('base64url');
  }
}
