// The operator's own Vault connection, parsed from VAULT_AUTOPILOT_VAULT_*
// environment variables. Shared by every lifecycle that writes to "the
// configured Vault" (a later per-object reference to a `Vault` resource would
// produce the same VaultConnection another way).
import { readFileSync } from 'node:fs';
import { SettingsError } from '../framework/index.js';
import type { VaultConnection } from './client.js';

export const VaultAuthMethod = { Kubernetes: 'kubernetes', Token: 'token' } as const;
export type VaultAuthMethod = (typeof VaultAuthMethod)[keyof typeof VaultAuthMethod];

/** The variables read, so docs, Helm values and errors all use the same names. */
export const VaultSettingsEnv = {
  address: 'VAULT_AUTOPILOT_VAULT_ADDR',
  caCertFile: 'VAULT_AUTOPILOT_VAULT_CACERT',
  auth: 'VAULT_AUTOPILOT_VAULT_AUTH',
  role: 'VAULT_AUTOPILOT_VAULT_ROLE',
  authPath: 'VAULT_AUTOPILOT_VAULT_AUTH_PATH',
  tokenFile: 'VAULT_AUTOPILOT_VAULT_TOKEN_FILE',
  jwtFile: 'VAULT_AUTOPILOT_VAULT_JWT_FILE',
  timeoutMs: 'VAULT_AUTOPILOT_VAULT_TIMEOUT_MS',
} as const;

export { SettingsError };

type Env = Record<string, string | undefined>;

/**
 * Parse the connection settings. Returns undefined when no address is set
 * (the operator runs without a configured Vault); throws SettingsError listing
 * every problem otherwise. Only file *paths* are read from the environment,
 * never a token itself.
 */
export function parseVaultConnectionSettings(
  env: Env,
  readFile: (path: string) => string = (p) => readFileSync(p, 'utf8'),
): VaultConnection | undefined {
  const address = env[VaultSettingsEnv.address]?.trim();
  if (!address) return undefined;
  const problems: string[] = [];
  try {
    const url = new URL(address);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') problems.push(`${VaultSettingsEnv.address} must be an http(s) URL`);
  } catch {
    problems.push(`${VaultSettingsEnv.address} is not a URL: ${address}`);
  }

  let caCert: string | undefined;
  const caFile = env[VaultSettingsEnv.caCertFile]?.trim();
  if (caFile) {
    try {
      caCert = readFile(caFile);
    } catch (err) {
      problems.push(`${VaultSettingsEnv.caCertFile}: cannot read ${caFile} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
    }
  }

  const tokenFile = env[VaultSettingsEnv.tokenFile]?.trim() || undefined;
  const method = (env[VaultSettingsEnv.auth]?.trim() || (tokenFile ? VaultAuthMethod.Token : VaultAuthMethod.Kubernetes)) as string;
  let auth: VaultConnection['auth'] = { method: 'token', tokenFile };
  if (method === VaultAuthMethod.Token) {
    if (!tokenFile) problems.push(`${VaultSettingsEnv.auth}=token needs ${VaultSettingsEnv.tokenFile}`);
  } else if (method === VaultAuthMethod.Kubernetes) {
    const role = env[VaultSettingsEnv.role]?.trim();
    if (!role) problems.push(`${VaultSettingsEnv.auth}=kubernetes needs ${VaultSettingsEnv.role}`);
    auth = {
      method: 'kubernetes',
      role: role ?? '',
      mountPath: env[VaultSettingsEnv.authPath]?.trim() || undefined,
      jwtFile: env[VaultSettingsEnv.jwtFile]?.trim() || undefined,
    };
  } else {
    problems.push(`${VaultSettingsEnv.auth} must be kubernetes or token, got ${method}`);
  }

  let timeoutMs: number | undefined;
  const timeout = env[VaultSettingsEnv.timeoutMs]?.trim();
  if (timeout) {
    timeoutMs = Number(timeout);
    if (!Number.isInteger(timeoutMs) || timeoutMs <= 0) problems.push(`${VaultSettingsEnv.timeoutMs} must be a positive integer`);
  }

  if (problems.length > 0) throw new SettingsError(problems);
  return { address, caCert, auth, timeoutMs };
}
