// Unseal keys kept in another Vault's KV, in Bank-Vaults' layout
// (unsealConfig.vault): one secret per key at `<unsealKeysPath>/<key>`
// (`vault-unseal-<i>`, `vault-root`), whose `data` holds the key under its
// own name, base64-encoded. unsealKeysPath is the raw API path
// (`secret/data/vault-keys` for a KV v2 mount), as Bank-Vaults wrote it.
// The values are exactly what the keys Secret holds in `data`, so the rest
// of the lifecycle reads them the same way.
import { markSecret } from '../framework/index.js';
import type { VaultClient } from './client.js';
import { ROOT_TOKEN_KEY, UNSEAL_KEY_PREFIX } from './unseal.js';

/** Bank-Vaults' pre-flight write probe, also written here before sys/init. */
export const KV_PROBE_KEY = 'vault-test';
/** More shares than Vault allows (255) are never read. */
const MAX_SHARES = 255;

const keyPath = (path: string, key: string) => `${path.replace(/^\/+|\/+$/g, '')}/${key}`;

/** One key's value (base64), or undefined when the store has none. */
async function readOne(client: VaultClient, path: string, key: string, scope: string | undefined): Promise<string | undefined> {
  const res = await client.request<{ data?: { data?: Record<string, unknown> } }>('GET', keyPath(path, key), undefined, { allowStatus: [404] });
  if (res.status === 404) return undefined;
  const value = res.data.data?.data?.[key];
  if (typeof value !== 'string' || !value) return undefined;
  markSecret(value, scope);
  markSecret(Buffer.from(value, 'base64').toString('utf8'), scope);
  return value;
}

/** Every key in the store, as Secret `data` (base64 values); `{}` when it holds none. */
export async function readKvKeys(client: VaultClient, path: string, scope?: string): Promise<Record<string, string>> {
  const data: Record<string, string> = {};
  for (let i = 0; i < MAX_SHARES; i++) {
    const value = await readOne(client, path, `${UNSEAL_KEY_PREFIX}${i}`, scope);
    if (value === undefined) break;
    data[`${UNSEAL_KEY_PREFIX}${i}`] = value;
  }
  const root = await readOne(client, path, ROOT_TOKEN_KEY, scope);
  if (root !== undefined) data[ROOT_TOKEN_KEY] = root;
  return data;
}

/**
 * Writes keys (Secret `data` shape) into the store. A key already there is
 * never overwritten: the same value is an earlier write whose answer was
 * lost; another value stops the write.
 */
export async function writeKvKeys(client: VaultClient, path: string, data: Record<string, string>, scope?: string): Promise<void> {
  for (const [key, value] of Object.entries(data)) {
    // what is sent, as sent (base64): redacted too if a store's error answer quotes it
    markSecret(value, scope);
    const current = await readOne(client, path, key, scope);
    if (current === value) continue;
    if (current !== undefined) throw new Error(`the key store already holds another ${key} at ${keyPath(path, key)}; not overwriting it`);
    await client.request('PUT', keyPath(path, key), { data: { [key]: value } });
  }
}

/** Before sys/init: the store takes a write (login, policy, mount), or init does not start. */
export async function probeKvStore(client: VaultClient, path: string): Promise<void> {
  await client.request('PUT', keyPath(path, KV_PROBE_KEY), { data: { [KV_PROBE_KEY]: Buffer.from('vault-autopilot pre-flight').toString('base64') } });
}

/** Removes one key (the root token once revoked). Absent counts as removed. */
export async function deleteKvKey(client: VaultClient, path: string, key: string): Promise<void> {
  await client.request('DELETE', keyPath(path, key), undefined, { allowStatus: [404] });
}
