// Which Vaults the operator trusts with its credentials and unseal keys, and
// which objects and Secrets a `Vault` resource may make it touch. Every
// decision here is pure. The rule behind all of them: a `Vault` resource is
// written by a tenant, so it may only choose among what the platform (the
// operator's own settings) or the objects' owners already allowed.
import type { KubernetesObject, V1Secret } from '@kubernetes/client-node';
import { API_GROUP } from '../../api/naming.js';
import { NAMESPACE_CONTEXT_KEY } from '../../api/kmsvaultsecret.js';
import { VaultReason, type VaultResource } from '../../api/vault.js';
import { SettingsError } from '../../framework/index.js';
import type { EncryptionContext } from '../../kms/decryptor.js';
import { kmsContext, parseEncryptionContext, ROOT_TOKEN_KEY, UNSEAL_KEY_PREFIX } from '../../vault/unseal.js';
import { acceptsUnbound } from '../kmsvaultsecret/plan.js';
import { KmsVaultSecretSettingsEnv } from '../kmsvaultsecret/settings.js';

export const ExternalVaultEnv = {
  /** Comma-separated address patterns, e.g. `https://vault.example.com:8200,https://*.vault.corp:*`. */
  addresses: 'VAULT_AUTOPILOT_EXTERNAL_VAULT_ADDRESSES',
  /** `true` accepts http:// addresses that match a pattern (token and keys then travel in clear). */
  allowHttp: 'VAULT_AUTOPILOT_EXTERNAL_VAULT_ALLOW_HTTP',
} as const;

/** The platform's list of external Vaults; only these get a token, a JWT or unseal keys. */
export interface ExternalVaultTrust {
  /** Patterns `scheme://host[:port]`; host may start with `*.` (one or more labels), port may be `*`. */
  allowed: readonly string[];
  /** http:// is refused unless this explicit opt-out is set (logged at start). */
  allowHttp: boolean;
}

/** The safe default: no external Vault at all; the operator's own pods only. */
export const NO_EXTERNAL_VAULTS: ExternalVaultTrust = { allowed: [], allowHttp: false };

/** Label a Secret's owner puts on it to let one `Vault` resource use it as spec.external.auth.tokenSecretRef. */
export const TOKEN_SECRET_LABEL = `${API_GROUP}/vault-token-for`;
/** Label on the unseal-keys Secret naming the `Vault` resource whose keys it holds. */
export const UNSEAL_KEYS_LABEL = `${API_GROUP}/unseal-keys-of`;

export type Decision = { ok: true } | { ok: false; reason: TrustReason; message: string };

export const TrustReason = {
  ExternalAddressNotAllowed: VaultReason.ExternalAddressNotAllowed,
  InsecureAddress: VaultReason.InsecureAddress,
  AddressChanged: VaultReason.AddressChanged,
  SecretNotGranted: VaultReason.SecretNotGranted,
  ObjectNotOwned: VaultReason.ObjectNotOwned,
  UnsealKeysNotBound: VaultReason.UnsealKeysNotBound,
  /** unsealConfig.vault (the key store) is incomplete or names what the operator does not send (key-store.ts). */
  KeyStoreInvalid: VaultReason.InvalidSpec,
  /** The key store answered 401/403 to the tenant's token: its policy does not cover unsealKeysPath (key-store.ts). */
  KeyStoreDenied: VaultReason.NotAuthorized,
} as const;
export type TrustReason = (typeof TrustReason)[keyof typeof TrustReason];

const ok: Decision = { ok: true };
const refuse = (reason: TrustReason, message: string): Decision => ({ ok: false, reason, message });

interface Pattern {
  scheme: 'http' | 'https';
  /** lower-case host, or `*.suffix` */
  host: string;
  /** '*' or a port number as text; '' = the scheme's default port */
  port: string;
}

function parsePattern(raw: string): Pattern | string {
  const m = /^(https?):\/\/(\*\.)?([a-z0-9.-]+|\[[0-9a-f:.]+\])(?::(\*|\d{1,5}))?\/?$/i.exec(raw);
  if (!m) return `"${raw}" is not scheme://host[:port] (host may start with *., port may be *)`;
  return { scheme: m[1]!.toLowerCase() as Pattern['scheme'], host: `${m[2] ?? ''}${m[3]!.toLowerCase()}`, port: m[4] ?? '' };
}

/** Settings from the environment; throws a SettingsError listing every bad pattern. */
export function parseExternalVaultTrust(env: Record<string, string | undefined>): ExternalVaultTrust {
  const allowed = (env[ExternalVaultEnv.addresses] ?? '')
    .split(/[\s,]+/)
    .map((s) => s.trim())
    .filter(Boolean);
  const problems = allowed.map(parsePattern).filter((p): p is string => typeof p === 'string');
  const rawHttp = env[ExternalVaultEnv.allowHttp]?.trim().toLowerCase();
  if (rawHttp && rawHttp !== 'true' && rawHttp !== 'false') problems.push(`${ExternalVaultEnv.allowHttp} must be true or false, got "${rawHttp}"`);
  if (problems.length) throw new SettingsError([`invalid ${ExternalVaultEnv.addresses}: ${problems.join('; ')}`]);
  return { allowed, allowHttp: rawHttp === 'true' };
}

/** One line for the start-up log: what the operator will talk to. Warn-worthy when http is allowed. */
export function describeTrust(trust: ExternalVaultTrust): { message: string; insecure: boolean } {
  const list = trust.allowed.length ? trust.allowed.join(', ') : 'none (only Vaults the operator deploys)';
  return {
    message: `external Vault addresses allowed: ${list}${trust.allowHttp ? `; ${ExternalVaultEnv.allowHttp}=true: http:// addresses get the operator's token and unseal keys IN CLEAR` : ''}`,
    insecure: trust.allowHttp,
  };
}

function matches(url: URL, pattern: Pattern): boolean {
  if (url.protocol !== `${pattern.scheme}:`) return false;
  const host = url.hostname.toLowerCase();
  if (pattern.host.startsWith('*.')) {
    const suffix = pattern.host.slice(1); // ".example.com"
    if (!host.endsWith(suffix) || host.length === suffix.length) return false;
  } else if (host !== pattern.host) return false;
  if (pattern.port === '*') return true;
  return url.port === (pattern.port === (pattern.scheme === 'https' ? '443' : '80') ? '' : pattern.port);
}

/**
 * May the operator send its token, its ServiceAccount JWT or unseal keys to
 * this address? Only if the platform listed it, over https (verified by the
 * CA the resource names or the system's) unless the platform opted out.
 */
export function externalAddressDecision(address: string, trust: ExternalVaultTrust, field = 'spec.external.address'): Decision {
  let url: URL;
  try {
    url = new URL(address);
  } catch {
    return refuse(TrustReason.ExternalAddressNotAllowed, `${field} "${address}" is not a URL`);
  }
  if (url.username || url.password || url.search || url.hash || (url.pathname !== '/' && url.pathname !== '')) {
    return refuse(TrustReason.ExternalAddressNotAllowed, `${field} must be scheme://host[:port] only (no user, path, query or fragment), got "${address}"`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    return refuse(TrustReason.ExternalAddressNotAllowed, `${field} must be https://, got "${address}"`);
  }
  if (url.protocol === 'http:' && !trust.allowHttp) {
    return refuse(
      TrustReason.InsecureAddress,
      `${field} ${address} is plain http: the operator's token and the unseal keys would travel in clear. Use https; only the operator's setting ${ExternalVaultEnv.allowHttp}=true allows http`,
    );
  }
  const patterns = trust.allowed.map(parsePattern).filter((p): p is Pattern => typeof p !== 'string');
  if (!patterns.some((p) => matches(url, p))) {
    const list = trust.allowed.length ? trust.allowed.join(', ') : 'none';
    return refuse(
      TrustReason.ExternalAddressNotAllowed,
      `${field} ${address} is not an external Vault the operator may send credentials to (operator setting ${ExternalVaultEnv.addresses}: ${list}); a platform admin adds it there. Nothing was sent to it`,
    );
  }
  return ok;
}

/**
 * The address the operator initialised or adopted is pinned in
 * status.externalAddress: a tenant editing spec cannot redirect the keys and
 * tokens elsewhere. Only someone allowed to write the status subresource (a
 * cluster admin) can clear the pin to move the Vault.
 */
export function addressChangeDecision(vault: VaultResource): Decision {
  const pinned = vault.status?.externalAddress;
  const wanted = vault.spec.external?.address;
  if (!pinned || !wanted || pinned === wanted) return ok;
  return refuse(
    TrustReason.AddressChanged,
    `spec.external.address changed from ${pinned} to ${wanted} after the operator initialised or adopted the Vault at ${pinned}: refused, nothing is sent to the new address. ` +
      `To move the Vault, a cluster admin clears the pin: kubectl patch vault ${vault.metadata?.name} -n ${vault.metadata?.namespace} --subresource=status --type=merge -p '{"status":{"externalAddress":null}}'`,
  );
}

/** Both decisions for an external Vault; a managed one is the operator's own pods. */
export function vaultTrustDecision(vault: VaultResource, trust: ExternalVaultTrust): Decision {
  if (!vault.spec.external) return ok;
  const address = externalAddressDecision(vault.spec.external.address, trust);
  return address.ok ? addressChangeDecision(vault) : address;
}

/**
 * spec.external.auth.tokenSecretRef: the Secret must be in the resource's
 * namespace (the field holds a name only) and its owner must have labelled it
 * for this Vault resource (`vault.autopilot.dev/vault-token-for: <name>`).
 * Whoever can put that label on a Secret can already change it; anybody else
 * (e.g. someone with rights on Vault resources only) cannot make the operator
 * use a Secret they could not use themselves.
 */
export function tokenSecretDecision(secret: V1Secret | undefined, vaultName: string, secretName: string, field = 'spec.external.auth.tokenSecretRef'): Decision {
  if (!secret) return refuse(TrustReason.SecretNotGranted, `Secret ${secretName} (${field}) does not exist`);
  if (secret.metadata?.labels?.[TOKEN_SECRET_LABEL] !== vaultName) {
    return refuse(
      TrustReason.SecretNotGranted,
      `Secret ${secretName} (${field}) is not labelled ${TOKEN_SECRET_LABEL}=${vaultName}: the operator uses a token Secret only when its owner labelled it for this Vault resource`,
    );
  }
  return ok;
}

function controlledBy(obj: KubernetesObject | undefined, uid: string | undefined): boolean {
  return !!uid && !!obj?.metadata?.ownerReferences?.some((o) => o.uid === uid && o.controller);
}

/** Bank-Vaults' layout: `vault-unseal-<i>`, `vault-root`, and `vault-test` (its unsealer's write probe). */
function isKeysField(key: string): boolean {
  if (key === ROOT_TOKEN_KEY || key === 'vault-test') return true;
  return key.startsWith(UNSEAL_KEY_PREFIX) && /^\d+$/.test(key.slice(UNSEAL_KEY_PREFIX.length));
}

/**
 * The unseal-keys Secret (unsealConfig.kubernetes.secretName or
 * `<name>-unseal-keys`) is used only when it does not exist yet, carries this
 * Vault's label, or holds nothing but unseal keys and no other Vault's label
 * (one Bank-Vaults or an earlier version of this operator wrote; it is
 * labelled on the next write). Any other Secret is left untouched.
 */
export function keysSecretDecision(secret: V1Secret | undefined, vaultName: string): Decision & { adopt?: boolean } {
  if (!secret) return ok;
  const name = secret.metadata?.name;
  const label = secret.metadata?.labels?.[UNSEAL_KEYS_LABEL];
  if (label === vaultName) return ok;
  if (label !== undefined) {
    return refuse(TrustReason.ObjectNotOwned, `Secret ${name} holds the unseal keys of Vault ${label} (label ${UNSEAL_KEYS_LABEL}), not of ${vaultName}: not used. Set unsealConfig.kubernetes.secretName to another name`);
  }
  const foreign = Object.keys({ ...(secret.data ?? {}), ...(secret.stringData ?? {}) }).filter((k) => !isKeysField(k));
  if (foreign.length) {
    return refuse(
      TrustReason.ObjectNotOwned,
      `Secret ${name} exists and is not an unseal-keys Secret (it holds ${foreign.slice(0, 5).join(', ')}${foreign.length > 5 ? ', ...' : ''}): the operator neither reads nor overwrites it. Set unsealConfig.kubernetes.secretName to a new name`,
    );
  }
  if (secret.type && secret.type !== 'Opaque') {
    return refuse(TrustReason.ObjectNotOwned, `Secret ${name} is of type ${secret.type}, not an unseal-keys Secret: not used. Set unsealConfig.kubernetes.secretName to a new name`);
  }
  return { ok: true, adopt: true };
}

/**
 * Before the forced server-side apply of a managed object: an existing object
 * of that name must be this Vault's (controller owner reference; for a
 * cluster-scoped object the owner labels). Anything else is someone else's
 * and is not taken over.
 */
export function takeoverDecision(
  desired: KubernetesObject,
  actual: KubernetesObject | undefined,
  vault: VaultResource,
  ownerLabels: { namespace: string; name: string } = { namespace: `${API_GROUP}/vault-namespace`, name: `${API_GROUP}/vault-name` },
): Decision {
  if (!actual) return ok;
  if (controlledBy(actual, vault.metadata?.uid)) return ok;
  const labels = actual.metadata?.labels ?? {};
  if (!desired.metadata?.namespace && labels[ownerLabels.namespace] === vault.metadata?.namespace && labels[ownerLabels.name] === vault.metadata?.name) return ok;
  const where = actual.metadata?.namespace ? ` in ${actual.metadata.namespace}` : '';
  return refuse(
    TrustReason.ObjectNotOwned,
    `${desired.kind} ${desired.metadata?.name}${where} exists and was not created by this Vault (no owner reference to it): the operator does not take it over. Rename or remove it, or rename the Vault`,
  );
}

/**
 * system:auth-delegator goes only to the ServiceAccount this Vault created
 * (owner reference), never to one spec.serviceAccount picks among existing ones.
 */
export function authDelegatorDecision(serviceAccount: KubernetesObject | undefined, vault: VaultResource): Decision {
  if (controlledBy(serviceAccount, vault.metadata?.uid)) return ok;
  const name = serviceAccount?.metadata?.name ?? vault.spec.serviceAccount ?? vault.metadata?.name;
  return refuse(
    TrustReason.ObjectNotOwned,
    `ServiceAccount ${name} was not created by this Vault: it is not bound to system:auth-delegator (Kubernetes auth in this Vault cannot review tokens until a cluster admin binds it). Leave spec.serviceAccount unset or name a ServiceAccount that does not exist yet`,
  );
}

/** The operator setting naming namespaces whose ciphertext predates namespace binding (shared with KMSVaultSecrets). */
export const LEGACY_NAMESPACES_ENV = KmsVaultSecretSettingsEnv.legacyNamespaces;

/**
 * Which encryption contexts the unseal keys of this Vault may be decrypted
 * with, after the operator's own (kmsContext: this resource's namespace and
 * name, so its ciphertext cannot be replayed into another resource's Secret).
 * The others exist for keys Bank-Vaults stored: encrypted with its
 * kmsEncryptionContext, or with none. A tenant who copies another
 * namespace's keys Secret into their own and names that namespace's context
 * (or none) would have those keys decrypted and sent to their Vault, so such
 * a context is tried only when it binds the keys to this Vault's namespace
 * (`vault.autopilot.dev/namespace=<ns>` in kmsEncryptionContext, as `seal
 * --namespace` writes for KMSVaultSecrets), or when the platform lists the
 * namespace in its legacy setting (a migration window). Pure; `message` says
 * what went wrong when no allowed context decrypts the keys.
 */
export function unsealKeyContexts(vault: VaultResource, legacyNamespaces: readonly string[]): { fallbacks: EncryptionContext[]; message: string } {
  const namespace = vault.metadata!.namespace!;
  const own = Object.entries(kmsContext(namespace, vault.metadata!.name!)).map(([k, v]) => `${k}=${v}`).join(',');
  const configured = vault.spec.unsealConfig?.aws?.kmsEncryptionContext;
  const bankVaults = parseEncryptionContext(configured);
  const named = Object.keys(bankVaults).length ? `kmsEncryptionContext "${configured}"` : 'no encryption context';
  const notOwn = `the unseal keys do not decrypt with this Vault's own encryption context (${own})`;
  const nothingSent = 'Nothing was sent to Vault';
  const bound = bankVaults[NAMESPACE_CONTEXT_KEY];
  if (bound !== undefined && bound !== namespace) {
    return {
      fallbacks: [],
      message: `${notOwn}, and unsealConfig.aws.kmsEncryptionContext names namespace "${bound}", not "${namespace}": unseal keys are only decrypted for a Vault in the namespace they were encrypted for, so that context was not tried. ${nothingSent}`,
    };
  }
  if (bound === namespace || acceptsUnbound(namespace, legacyNamespaces)) {
    return {
      fallbacks: [bankVaults],
      message: `${notOwn} nor with ${named}: they were encrypted for another Vault or with another context, or are corrupt. ${nothingSent}`,
    };
  }
  return {
    fallbacks: [],
    message:
      `${notOwn}. Keys stored by Bank-Vaults (with ${named}) are not bound to a namespace, so a copy of another namespace's keys would decrypt here: they are read only when ` +
      `unsealConfig.aws.kmsEncryptionContext contains ${NAMESPACE_CONTEXT_KEY}=${namespace} (and the keys were encrypted with it), or when the operator's setting ${LEGACY_NAMESPACES_ENV} lists "${namespace}" during a migration. ` +
      `Nothing was decrypted with ${named}. ${nothingSent}`,
  };
}
