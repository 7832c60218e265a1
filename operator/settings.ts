// Process-level settings of the operator (which lifecycles run, ports,
// logging). Each lifecycle parses its own settings in its folder; this file
// only holds what main.ts needs to wire them.
import { hostname } from 'node:os';
import { SettingsReader } from './framework/index.js';

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
  watchNamespaces: 'VAULT_AUTOPILOT_WATCH_NAMESPACES',
  leaderElection: 'VAULT_AUTOPILOT_LEADER_ELECTION',
  leaseNamespace: 'VAULT_AUTOPILOT_LEADER_ELECTION_NAMESPACE',
  leaseName: 'VAULT_AUTOPILOT_LEADER_ELECTION_LEASE',
  leaseSeconds: 'VAULT_AUTOPILOT_LEADER_ELECTION_LEASE_SECONDS',
  renewDeadlineSeconds: 'VAULT_AUTOPILOT_LEADER_ELECTION_RENEW_DEADLINE_SECONDS',
  retryPeriodSeconds: 'VAULT_AUTOPILOT_LEADER_ELECTION_RETRY_PERIOD_SECONDS',
} as const;

export const DEFAULT_LEASE_NAME = 'vault-autopilot-leader';

/**
 * Only the replica holding the Lease runs controllers; every replica serves
 * the webhook. A leader that cannot renew within the renew deadline stops
 * and exits; a follower takes over once the lease has not changed for a
 * whole lease duration (as seen by its own clock).
 */
export interface LeaderElectionSettings {
  namespace: string;
  leaseName: string;
  identity: string;
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
}

export interface OperatorSettings {
  lifecycles: Lifecycle[];
  logLevel: string;
  /** /healthz, /readyz, /metrics; 0 = any free port. */
  healthPort: number;
  concurrency: number;
  resyncPeriodMs: number;
  shutdownTimeoutMs: number;
  /**
   * Install scope: the namespaces whose objects the operator watches and
   * changes; undefined = every namespace. Under OLM this is the OperatorGroup's
   * olm.targetNamespaces ("" for AllNamespaces).
   */
  watchNamespaces?: string[];
  /** Off unless VAULT_AUTOPILOT_LEADER_ELECTION=true (the install manifests turn it on). */
  leaderElection?: LeaderElectionSettings;
}

type Env = Record<string, string | undefined>;

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

/**
 * A comma-separated namespace list (OLM's olm.targetNamespaces format):
 * undefined when empty (all namespaces), sorted and deduplicated otherwise.
 * Pure; invalid names are reported in `problems`.
 */
export function parseWatchNamespaces(raw: string | undefined, problems: string[] = []): string[] | undefined {
  const names = (raw ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  if (!names.length) return undefined;
  const invalid = names.filter((n) => !DNS_LABEL.test(n));
  if (invalid.length) problems.push(`${OperatorEnv.watchNamespaces}: not namespace names: ${invalid.map((n) => JSON.stringify(n)).join(', ')}`);
  return [...new Set(names.filter((n) => DNS_LABEL.test(n)))].sort();
}

/** Whether `namespace` is inside the install scope (`undefined` = all namespaces). Pure. */
export function inWatchScope(watchNamespaces: readonly string[] | undefined, namespace: string | undefined): boolean {
  return !watchNamespaces || (namespace !== undefined && watchNamespaces.includes(namespace));
}

export function parseOperatorSettings(env: Env): OperatorSettings {
  const reader = new SettingsReader(env);
  const problems = reader.problems;
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
    healthPort: reader.int(OperatorEnv.healthPort, 8081, { min: 0 }),
    concurrency: reader.int(OperatorEnv.concurrency, 8, { min: 1 }),
    resyncPeriodMs: reader.int(OperatorEnv.resyncSeconds, 600, { min: 1 }) * 1000,
    shutdownTimeoutMs: reader.int(OperatorEnv.shutdownSeconds, 30, { min: 1 }) * 1000,
  };
  const watchNamespaces = parseWatchNamespaces(env[OperatorEnv.watchNamespaces], problems);
  if (watchNamespaces) settings.watchNamespaces = watchNamespaces;
  const election = env[OperatorEnv.leaderElection]?.trim().toLowerCase();
  if (election && !['true', 'false'].includes(election)) problems.push(`${OperatorEnv.leaderElection} must be true or false, got "${election}"`);
  if (election === 'true') {
    const namespace = env[OperatorEnv.leaseNamespace]?.trim() || env.POD_NAMESPACE?.trim() || env.VAULT_AUTOPILOT_NAMESPACE?.trim();
    if (!namespace) problems.push(`${OperatorEnv.leaderElection} is true but the Lease's namespace is unknown: set ${OperatorEnv.leaseNamespace} (or POD_NAMESPACE)`);
    const seconds = (key: string, fallback: number) => {
      const raw = env[key]?.trim();
      if (!raw) return fallback * 1000;
      const value = Number(raw);
      if (!Number.isFinite(value) || value <= 0) {
        problems.push(`${key} must be a positive number of seconds, got "${raw}"`);
        return fallback * 1000;
      }
      return Math.round(value * 1000);
    };
    const leaseDurationMs = seconds(OperatorEnv.leaseSeconds, 15);
    const renewDeadlineMs = seconds(OperatorEnv.renewDeadlineSeconds, 10);
    const retryPeriodMs = seconds(OperatorEnv.retryPeriodSeconds, 2);
    // the old leader must give up before a follower may take over, and try more than once before that
    if (renewDeadlineMs >= leaseDurationMs) problems.push(`${OperatorEnv.renewDeadlineSeconds} must be below ${OperatorEnv.leaseSeconds}`);
    if (retryPeriodMs >= renewDeadlineMs) problems.push(`${OperatorEnv.retryPeriodSeconds} must be below ${OperatorEnv.renewDeadlineSeconds}`);
    settings.leaderElection = {
      namespace: namespace ?? '',
      leaseName: env[OperatorEnv.leaseName]?.trim() || DEFAULT_LEASE_NAME,
      identity: env.POD_NAME?.trim() ? `${env.POD_NAME.trim()}_${process.pid}` : `${hostname()}_${process.pid}`,
      leaseDurationMs,
      renewDeadlineMs,
      retryPeriodMs,
    };
  }
  reader.done();
  return settings;
}
