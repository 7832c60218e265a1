// unsealConfig.vault: Bank-Vaults' key store in another Vault. The unseal
// keys and root token are written to that Vault's KV at unsealKeysPath on
// init and read from it to unseal (operator/vault/kv-keys.ts), instead of
// the keys Secret. The store's address is chosen by a tenant, so it gets
// the same trust decision as spec.external.address (the platform's list,
// https), and the operator only ever sends it the tenant's own credential:
// the inline `token`, or (an extension, so the token need not sit in the
// resource) `tokenSecretRef`, a Secret of the Vault's namespace its owner
// labelled for this Vault, as spec.external.auth.tokenSecretRef. Never the
// operator's token or JWT, and never a file of the operator's pod (`tokenPath`).
import { createHash } from 'node:crypto';
import { markSecret } from '../../framework/index.js';
import type { V1Secret } from '@kubernetes/client-node';
import type { VaultResource } from '../../api/vault.js';
import { VaultError, type VaultClient } from '../../vault/client.js';
import { readKvKeys } from '../../vault/kv-keys.js';
import { hasStoredKeys } from '../../vault/unseal.js';
import { unsealKeysSecretName } from './desired-objects.js';
import { readSecret, redactionScope, type VaultPhaseContext } from './phase-context.js';
import { refusedStop } from './refusal.js';
import { externalAddressDecision, NO_EXTERNAL_VAULTS, tokenSecretDecision, TrustReason, type Decision, type ExternalVaultTrust } from './trust.js';

export const KEY_STORE_FIELD = 'spec.unsealConfig.vault';

export interface KeyStore {
  address: string;
  /** unsealKeysPath: the raw API path (`secret/data/vault-keys` for KV v2). */
  path: string;
  token: string;
}

/** Is unsealConfig.vault the key store? Not when unsealConfig.aws is set (KMS and the keys Secret win; reported). */
export function usesKeyStore(vault: VaultResource): boolean {
  const v = vault.spec.unsealConfig?.vault;
  return !!v && Object.keys(v).length > 0 && !vault.spec.unsealConfig?.aws;
}

const str = (v: unknown): string | undefined => (typeof v === 'string' && v.trim() ? v.trim() : undefined);

/** What the spec says about the store's credential: the inline token, or a Secret of the Vault's namespace (an extension). */
export type KeyStoreSpec = Omit<KeyStore, 'token'> & ({ token: string } | { tokenSecretRef: { name: string; key: string } });

/** Pure: the store to use, or why not. Nothing is sent anywhere before this says ok. */
export function keyStoreDecision(vault: VaultResource, trust: ExternalVaultTrust): { ok: true; store: KeyStoreSpec } | Extract<Decision, { ok: false }> {
  const v = vault.spec.unsealConfig?.vault ?? {};
  const address = str(v.address);
  const path = str(v.unsealKeysPath)?.replace(/^\/+|\/+$/g, '');
  const invalid = (message: string) => ({ ok: false as const, reason: TrustReason.KeyStoreInvalid, message: `${KEY_STORE_FIELD}: ${message}` });
  if (!address) return invalid('address is required (the Vault that keeps the unseal keys)');
  if (!path) return invalid('unsealKeysPath is required (e.g. secret/data/vault-keys)');
  // %2e%2e would be un-escaped to .. on the way (a URL's path is normalised), ?/# would end the path
  if (/[%?#\\\s]/.test(path) || path.split('/').some((s) => s === '..' || s === '.' || s === '') || /^(sys|auth)(\/|$)/.test(path)) {
    return invalid(`unsealKeysPath "${path}" is not a KV path`);
  }
  const addressOk = externalAddressDecision(address, trust, `${KEY_STORE_FIELD}.address`);
  if (!addressOk.ok) return addressOk;
  const token = str(v.token);
  const ref = v.tokenSecretRef as { name?: unknown; key?: unknown; namespace?: unknown } | undefined;
  const where = { address: address.replace(/\/+$/, ''), path };
  if (token && ref) return invalid('set token or tokenSecretRef, not both');
  if (ref) {
    const namespace = vault.metadata?.namespace;
    if (ref.namespace !== undefined && ref.namespace !== namespace) {
      return invalid(`tokenSecretRef names a Secret in namespace "${String(ref.namespace)}": only a Secret of this Vault's namespace (${namespace}) is used. Nothing was read or sent`);
    }
    const name = str(ref.name);
    if (!name) return invalid('tokenSecretRef.name is required');
    return { ok: true, store: { ...where, tokenSecretRef: { name, key: str(ref.key) ?? 'token' } } };
  }
  if (!token) {
    return invalid(
      'token (or tokenSecretRef, a Secret of this namespace labelled for this Vault) is required here: the operator logs in to the key store only with a credential of the resource owner. ' +
        'role/authPath (Kubernetes auth) would be the operator\'s own identity, and tokenPath a file in the operator\'s pod; neither is sent to a store a Vault resource names. Nothing was sent',
    );
  }
  return { ok: true, store: { ...where, token } };
}

/** Where the spec puts the store (address and path as the operator uses them), valid or not; undefined = no store. */
function specStore(vault: VaultResource): { address: string; path: string } | undefined {
  if (!usesKeyStore(vault)) return undefined;
  const v = vault.spec.unsealConfig!.vault!;
  return { address: (str(v.address) ?? '').replace(/\/+$/, ''), path: str(v.unsealKeysPath)?.replace(/^\/+|\/+$/g, '') ?? '' };
}

/**
 * Once initialised, the store that holds the keys is pinned in
 * status.keyStore (issue 11: a changed address of an initialised Vault is
 * refused, not followed). Another address or path, or no store, is refused:
 * the keys are not read from, nor the root token deleted at, a place the
 * tenant picked afterwards. Only a cluster admin (status subresource) moves it.
 */
export function keyStoreChangeDecision(vault: VaultResource): Decision {
  const pinned = vault.status?.keyStore;
  const wanted = specStore(vault);
  if (!pinned || (wanted?.address === pinned.address && wanted.path === pinned.path)) return { ok: true };
  const now = wanted ? `${wanted.address} (${wanted.path})` : 'no key store (unsealConfig.vault removed, or unsealConfig.aws set)';
  return {
    ok: false,
    reason: TrustReason.AddressChanged,
    message:
      `${KEY_STORE_FIELD} changed from ${pinned.address} (${pinned.path}) to ${now} after the operator initialised the Vault with its unseal keys there: ` +
      `refused, nothing is read from or written to another store. Set the field back; to move the keys, copy them to the new store, then a cluster admin clears the pin: ` +
      `kubectl patch vault ${vault.metadata?.name} -n ${vault.metadata?.namespace} --subresource=status --type=merge -p '{"status":{"keyStore":null}}'`,
  };
}

/** Pure: the store this reconcile may use (none: undefined), or why not. The pin first, then the store's own checks. */
export function keyStoreGate(vault: VaultResource, trust: ExternalVaultTrust): { ok: true; store?: KeyStoreSpec } | Extract<Decision, { ok: false }> {
  const changed = keyStoreChangeDecision(vault);
  if (!changed.ok) return changed;
  if (!usesKeyStore(vault)) return { ok: true };
  return keyStoreDecision(vault, trust);
}

/** The store of this reconcile, or undefined; a refusal ends the reconcile (Ready=False, one Event). Read once per reconcile. */
const resolved = new WeakMap<VaultPhaseContext, Promise<KeyStore | undefined>>();
export function keyStoreOf(p: VaultPhaseContext): Promise<KeyStore | undefined> {
  let store = resolved.get(p);
  if (!store) resolved.set(p, (store = resolveKeyStore(p)));
  return store;
}

async function resolveKeyStore(p: VaultPhaseContext): Promise<KeyStore | undefined> {
  const decision = keyStoreGate(p.vault, p.deps.settings.externalVaults ?? NO_EXTERNAL_VAULTS);
  if (!decision.ok) throw await refusedStop(p, decision);
  if (!decision.store) return undefined;
  const { address, path } = decision.store;
  let token: string;
  if ('token' in decision.store) token = decision.store.token;
  else {
    // as spec.external.auth.tokenSecretRef: only a Secret its owner labelled for this Vault resource
    const { name, key } = decision.store.tokenSecretRef;
    const secret = await readSecret(p.ctx, p.vault.metadata!.namespace!, name);
    const granted = tokenSecretDecision(secret, p.vault.metadata!.name!, name, `${KEY_STORE_FIELD}.tokenSecretRef`);
    if (!granted.ok) throw await refusedStop(p, granted);
    token = Buffer.from(secret?.data?.[key] ?? '', 'base64').toString('utf8').trim();
    if (!token) throw await refusedStop(p, { ok: false, reason: TrustReason.KeyStoreInvalid, message: `${KEY_STORE_FIELD}.tokenSecretRef: Secret ${name} has no key ${key}` });
  }
  markSecret(token, redactionScope(p.vault));
  return { address, path, token };
}

/** The store's client (its login is the tenant's token; kept across reconciles per token). */
export function keyStoreClient(p: VaultPhaseContext, store: KeyStore): VaultClient {
  return p.clients.config(store.address, undefined, { method: 'token', token: store.token }, `key-store:${createHash('sha256').update(store.token).digest('hex')}`);
}

/** What the store holds, as Secret `data`. The store refusing the tenant's token is said as such (Ready=False NotAuthorized). */
export async function readStoreKeys(p: VaultPhaseContext, store: KeyStore): Promise<Record<string, string>> {
  try {
    return await readKvKeys(keyStoreClient(p, store), store.path, redactionScope(p.vault));
  } catch (err) {
    if (!(err instanceof VaultError) || (err.status !== 401 && err.status !== 403)) throw err;
    throw await refusedStop(p, {
      ok: false,
      reason: TrustReason.KeyStoreDenied,
      message:
        `${describeStore(store)} refused the token of ${KEY_STORE_FIELD} (HTTP ${err.status}): it may not read ${store.path}/*. ` +
        `Give that token a policy with read, create, update and delete on ${store.path}/* (and nothing else: the store's policy is what keeps another Vault's keys apart), or set unsealKeysPath to this Vault's own path. Nothing was read`,
    });
  }
}

/** For messages: where the keys are. Never includes the token. */
export function describeStore(store: KeyStore): string {
  return `the key store ${store.address} (${store.path})`;
}

/**
 * The keys the rest of the lifecycle uses: the store's when it holds any
 * (in the keys Secret's `data` shape, never written to Kubernetes), else
 * the keys Secret's own (keys someone copied there by hand).
 */
export async function withStoreKeys(p: VaultPhaseContext, store: KeyStore, keysSecret: V1Secret | undefined): Promise<V1Secret | undefined> {
  const data = await readStoreKeys(p, store);
  if (!hasStoredKeys(data)) return keysSecret;
  const metadata = keysSecret?.metadata ?? { name: unsealKeysSecretName(p.vault), namespace: p.vault.metadata!.namespace! };
  return { ...keysSecret, metadata, data };
}
