// Initialising a Vault and giving the operator its own way back in.
// Every key and token crosses this module as a Secret (redacted in any log
// line, JSON or inspect) and is registered with markSecret() the moment it
// arrives from Vault — in the `scope` of the Vault resource when the caller
// gives one: a Vault a tenant runs (their image) chooses these answers.
import type { UnsealConfig } from '../api/vault.js';
import { markSecret, secret, type Secret } from '../framework/index.js';
import type { VaultClient } from './client.js';

export const DEFAULT_SECRET_SHARES = 5;
export const DEFAULT_SECRET_THRESHOLD = 3;

/** Policy and token display name of the operator's own access. */
export const OPERATOR_POLICY_NAME = 'vault-autopilot-operator';
/** Periodic token: lives as long as it is renewed within this period. */
export const OPERATOR_TOKEN_PERIOD_SECONDS = 768 * 3600;

/**
 * What the operator needs to apply externalConfig and nothing more: mounts,
 * auth methods and their config/roles, ACL policies, audit devices, and Raft
 * membership (peers of scaled-away pods are removed). It cannot read or write
 * secrets in any engine.
 */
export const OPERATOR_POLICY = `# managed by vault-autopilot: the operator's own access
path "sys/auth" { capabilities = ["read"] }
path "sys/auth/*" { capabilities = ["create", "read", "update", "delete", "sudo"] }
path "sys/mounts" { capabilities = ["read"] }
path "sys/mounts/*" { capabilities = ["create", "read", "update", "delete"] }
path "sys/policies/acl" { capabilities = ["list"] }
path "sys/policies/acl/*" { capabilities = ["create", "read", "update", "delete", "list"] }
path "sys/audit" { capabilities = ["read", "sudo"] }
path "sys/audit/*" { capabilities = ["create", "read", "update", "delete", "sudo"] }
path "auth/+/config" { capabilities = ["create", "read", "update"] }
path "auth/+/role" { capabilities = ["list"] }
path "auth/+/role/*" { capabilities = ["create", "read", "update", "delete", "list"] }
path "auth/+/certs" { capabilities = ["list"] }
path "auth/+/certs/*" { capabilities = ["create", "read", "update", "delete", "list"] }
path "auth/+/users" { capabilities = ["list"] }
path "auth/+/users/*" { capabilities = ["create", "read", "update", "delete", "list"] }
path "auth/+/groups" { capabilities = ["list"] }
path "auth/+/groups/*" { capabilities = ["create", "read", "update", "delete", "list"] }
path "auth/+/map/+" { capabilities = ["list"] }
path "auth/+/map/+/*" { capabilities = ["create", "read", "update", "delete", "list"] }
path "auth/+/config/sts" { capabilities = ["list"] }
path "auth/+/config/sts/*" { capabilities = ["create", "read", "update", "delete", "list"] }
path "sys/storage/raft/configuration" { capabilities = ["read"] }
path "sys/storage/raft/remove-peer" { capabilities = ["update"] }
path "auth/token/lookup-self" { capabilities = ["read"] }
path "auth/token/renew-self" { capabilities = ["update"] }
`;

export interface InitParameters {
  secretShares: number;
  secretThreshold: number;
  storeRootToken: boolean;
  /**
   * The Vault has an auto-unseal seal (e.g. `seal "transit"` in spec.config):
   * the shares become recovery keys (recovery_shares/threshold). They cannot
   * unseal, but they are what generate-root and rekey ask for.
   */
  recovery?: boolean;
}

/** Defaults as in Bank-Vaults (5 shares, 3 needed); a threshold above the shares is an error. */
export function initParameters(config: UnsealConfig | undefined): InitParameters | { error: string } {
  const secretShares = config?.options?.secretShares ?? DEFAULT_SECRET_SHARES;
  const secretThreshold = config?.options?.secretThreshold ?? Math.min(DEFAULT_SECRET_THRESHOLD, secretShares);
  if (!Number.isInteger(secretShares) || secretShares < 1) return { error: 'unsealConfig.options.secretShares must be a positive integer' };
  if (!Number.isInteger(secretThreshold) || secretThreshold < 1 || secretThreshold > secretShares) {
    return { error: `unsealConfig.options.secretThreshold must be between 1 and secretShares (${secretShares})` };
  }
  if (secretShares > 1 && secretThreshold === 1) return { error: 'unsealConfig.options.secretThreshold must be at least 2 when secretShares is above 1' };
  return { secretShares, secretThreshold, storeRootToken: config?.options?.storeRootToken ?? false };
}

export interface InitResult {
  keys: Secret[];
  rootToken: Secret;
}

/**
 * How long to wait for sys/init. Vault finishes an init it has started even
 * when the caller gives up, and the keys exist only in this one answer: a
 * client timeout here loses them. A loaded node (Raft bootstrap on two busy
 * cores) has taken more than 10 s.
 */
export const INIT_TIMEOUT_MS = 5 * 60_000;

/** sys/init. The response is turned into Secrets before anything else can see it. */
export async function initVault(client: VaultClient, params: InitParameters, opts: { timeoutMs?: number; scope?: string } = {}): Promise<InitResult> {
  const { timeoutMs = INIT_TIMEOUT_MS, scope } = opts;
  const res = await client.request<{ keys?: string[]; keys_base64?: string[]; recovery_keys?: string[]; recovery_keys_base64?: string[]; root_token?: string }>(
    'PUT',
    'sys/init',
    params.recovery
      ? { recovery_shares: params.secretShares, recovery_threshold: params.secretThreshold }
      : { secret_shares: params.secretShares, secret_threshold: params.secretThreshold },
    { token: null, timeoutMs },
  );
  const root = res.data.root_token ?? '';
  for (const value of [...(res.data.keys ?? []), ...(res.data.keys_base64 ?? []), ...(res.data.recovery_keys ?? []), ...(res.data.recovery_keys_base64 ?? []), root]) markSecret(value, scope);
  const keys = (params.recovery ? res.data.recovery_keys : res.data.keys) ?? [];
  if (keys.length !== params.secretShares || !root) {
    throw new Error(`sys/init returned ${keys.length} keys${root ? '' : ' and no root token'}, expected ${params.secretShares}`);
  }
  return { keys: keys.map((k) => secret(k, scope)), rootToken: secret(root, scope) };
}

/**
 * With a root token: write the operator policy and create a periodic orphan
 * token holding it. Returns that token.
 */
export async function createOperatorToken(client: VaultClient, rootToken: Secret, scope?: string): Promise<Secret> {
  const token = rootToken.reveal();
  await client.request('PUT', `sys/policies/acl/${OPERATOR_POLICY_NAME}`, { policy: OPERATOR_POLICY }, { token });
  const res = await client.request<{ auth?: { client_token?: string } }>(
    'POST',
    'auth/token/create-orphan',
    {
      policies: [OPERATOR_POLICY_NAME],
      period: `${OPERATOR_TOKEN_PERIOD_SECONDS}s`,
      display_name: OPERATOR_POLICY_NAME,
      renewable: true,
    },
    { token },
  );
  const created = res.data.auth?.client_token;
  if (!created) throw new Error('auth/token/create-orphan returned no token');
  return secret(created, scope);
}

/** Revoke a root token; an already revoked one (403) counts as done. */
export async function revokeToken(client: VaultClient, token: Secret): Promise<void> {
  await client.request('POST', 'auth/token/revoke-self', undefined, { token: token.reveal(), allowStatus: [403] });
}

/** Is this token still valid? (lookup-self is a read) */
export async function tokenTtl(client: VaultClient, token: Secret): Promise<{ valid: boolean; ttl: number; period: number }> {
  const res = await client.request<{ data?: { ttl?: number; period?: number } }>('GET', 'auth/token/lookup-self', undefined, {
    token: token.reveal(),
    allowStatus: [403],
  });
  if (res.status === 403) return { valid: false, ttl: 0, period: 0 };
  return { valid: true, ttl: res.data.data?.ttl ?? 0, period: res.data.data?.period ?? 0 };
}

/** A periodic token is renewed once less than half its period is left: a write only every ~16 days. */
export function needsRenewal(ttl: number, period: number): boolean {
  return period > 0 && ttl > 0 && ttl < period / 2;
}

export async function renewToken(client: VaultClient, token: Secret): Promise<void> {
  await client.request('POST', 'auth/token/renew-self', {}, { token: token.reveal() });
}

/**
 * The way back in when every operator credential is gone: generate a new
 * root token with the unseal keys (sys/generate-root, one-time-pad flow).
 * The caller turns it into an operator token and revokes it at once.
 */
export async function generateRootToken(client: VaultClient, keys: Secret[], scope?: string): Promise<Secret> {
  // a half-finished attempt (ours or someone's) would swallow our shares
  const status = await client.request<{ started?: boolean }>('GET', 'sys/generate-root/attempt', undefined, { token: null });
  if (status.data.started) await client.request('DELETE', 'sys/generate-root/attempt', undefined, { token: null });
  const attempt = await client.request<{ nonce: string; otp: string }>('PUT', 'sys/generate-root/attempt', {}, { token: null });
  const { nonce, otp } = attempt.data;
  if (!nonce || !otp) throw new Error('sys/generate-root/attempt returned no nonce/otp (Vault older than 1.10?)');
  markSecret(otp, scope);
  let encoded: string | undefined;
  for (const key of keys) {
    const res = await client.request<{ complete?: boolean; encoded_token?: string }>('PUT', 'sys/generate-root/update', { key: key.reveal(), nonce }, { token: null });
    if (res.data.complete) {
      encoded = res.data.encoded_token;
      break;
    }
  }
  if (!encoded) throw new Error('generating a root token did not complete: not enough unseal keys');
  const token = decodeOtpToken(encoded, otp);
  return secret(token, scope);
}

/** encoded_token is base64(token XOR otp). */
export function decodeOtpToken(encoded: string, otp: string): string {
  const bytes = Buffer.from(encoded, 'base64');
  const pad = Buffer.from(otp, 'utf8');
  if (bytes.length !== pad.length) throw new Error('encoded token and one-time pad differ in length');
  return Buffer.from(bytes.map((b, i) => b ^ pad[i]!)).toString('utf8');
}
