// Process-level settings of the operator (which lifecycles run, ports,
// logging). Each lifecycle parses its own settings in its folder; this file
// only holds what main.ts needs to wire them.
import { SettingsError } from './vault/settings.js';

export const Lifecycle = {
  Vault: 'vault',
  KmsVaultSecret: 'kmsvaultsecret',
  ServiceAccount: 'serviceaccount',
  Webhook: 'webhook',
} as const;
export type Lifecycle = (typeof Lifecycle)[keyof typeof Lifecycle];

const ALL_LIFECYCLES = Object.values(Lifecycle);

export const OperatorEnv = {
  lifecycles: 'VAULT_AUTOPILOT_LIFECYCLES',
  logLevel: 'VAULT_AUTOPILOT_LOG_LEVEL',
  healthPort: 'VAULT_AUTOPILOT_HEALTH_PORT',
  concurrency: 'VAULT_AUTOPILOT_CONCURRENCY',
  resyncSeconds: 'VAULT_AUTOPILOT_RESYNC_SECONDS',
  shutdownSeconds: 'VAULT_AUTOPILOT_SHUTDOWN_SECONDS',
} as const;

export interface OperatorSettings {
  lifecycles: Lifecycle[];
  logLevel: string;
  /** /healthz, /readyz, /metrics; 0 = any free port. */
  healthPort: number;
  concurrency: number;
  resyncPeriodMs: number;
  shutdownTimeoutMs: number;
}

type Env = Record<string, string | undefined>;

function integer(env: Env, key: string, fallback: number, min: number, problems: string[]): number {
  const raw = env[key]?.trim();
  if (!raw) return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min) {
    problems.push(`${key} must be an integer >= ${min}, got "${raw}"`);
    return fallback;
  }
  return value;
}

export function parseOperatorSettings(env: Env): OperatorSettings {
  const problems: string[] = [];
  const requested = (env[OperatorEnv.lifecycles] ?? ALL_LIFECYCLES.join(','))
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter(Boolean);
  const unknown = requested.filter((l) => !(ALL_LIFECYCLES as string[]).includes(l));
  if (unknown.length) problems.push(`${OperatorEnv.lifecycles}: unknown ${unknown.join(', ')} (accepted: ${ALL_LIFECYCLES.join(', ')})`);
  const logLevel = env[OperatorEnv.logLevel]?.trim() || 'info';
  if (!['error', 'warn', 'info', 'debug'].includes(logLevel)) problems.push(`${OperatorEnv.logLevel} must be error, warn, info or debug`);
  const settings: OperatorSettings = {
    lifecycles: requested.filter((l): l is Lifecycle => (ALL_LIFECYCLES as string[]).includes(l)),
    logLevel,
    healthPort: integer(env, OperatorEnv.healthPort, 8081, 0, problems),
    concurrency: integer(env, OperatorEnv.concurrency, 8, 1, problems),
    resyncPeriodMs: integer(env, OperatorEnv.resyncSeconds, 600, 1, problems) * 1000,
    shutdownTimeoutMs: integer(env, OperatorEnv.shutdownSeconds, 30, 1, problems) * 1000,
  };
  if (problems.length) throw new SettingsError(problems);
  return settings;
}
