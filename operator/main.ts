#!/usr/bin/env node
// The vault-autopilot binary. Wiring only: settings -> clients -> controllers -> start.
//
//   vault-autopilot                 run the operator (kubeconfig: $KUBECONFIG or in-cluster)
//   vault-autopilot seal|verify ... the user CLI (operator/cli)
//   vault-autopilot --version       print the version
//   vault-autopilot --self-check    load every module and parse the settings, print OK
import { existsSync, readFileSync } from 'node:fs';
import { KubeConfig } from '@kubernetes/client-node';
import { parseKmsVaultSecretSettings } from './controllers/kmsvaultsecret/settings.js';
import { parseServiceAccountSettings } from './controllers/serviceaccount/settings.js';
import type { VaultController } from './controllers/vault/controller.js';
import { parseVaultControllerSettings } from './controllers/vault/settings.js';
import { describeTrust, parseExternalVaultTrust } from './controllers/vault/trust.js';
import { AutopilotOperator, createLogger, errorMessage, makeKubeClients, metrics, SettingsError, startHealthServer, type Logger } from './framework/index.js';
import { Lifecycle, parseOperatorSettings, type OperatorSettings } from './settings.js';
import { parseVaultConnectionSettings } from './vault/settings.js';
import { parseWebhookSettings } from './webhook/settings.js';

// Each lifecycle's code (and the CLI) loads only when it runs: an operator
// with the webhook alone never compiles the Vault controller (memory, README
// "Performance"). --self-check loads them all.
const load = {
  cli: () => import('./cli/index.js'),
  vault: () => import('./controllers/vault/controller.js'),
  kms: async () => ({
    ...(await import('./controllers/kmsvaultsecret/index.js')),
    ...(await import('./controllers/kmsvaultsecret/vault-target.js')),
    ...(await import('./kms/aws-kms.js')),
    ...(await import('./vault/client.js')),
  }),
  serviceAccount: () => import('./controllers/serviceaccount/controller.js'),
  webhook: () => import('./webhook/index.js'),
};
type WebhookModule = Awaited<ReturnType<typeof load.webhook>>;

type Env = Record<string, string | undefined>;

export function version(): string {
  const pkg = JSON.parse(readFileSync(packageJson(), 'utf8')) as { version: string };
  return pkg.version;
}

// main.ts runs from operator/ (tsx), dist/operator/ (tsc; the image's bundle)
// or dist/bundle/ (the bundle, locally): the nearest package.json above it
function packageJson(): URL {
  for (let dir = new URL('./', import.meta.url); ; ) {
    const candidate = new URL('package.json', dir);
    if (existsSync(candidate)) return candidate;
    const parent = new URL('../', dir);
    if (parent.href === dir.href) throw new Error(`no package.json above ${import.meta.url}`);
    dir = parent;
  }
}

/**
 * Every lifecycle's settings, parsed up front so bad values stop the start
 * with one SettingsError that lists every problem of every lifecycle.
 */
function parseAllSettings(env: Env) {
  const problems: string[] = [];
  const read = <T>(parse: () => T): T => {
    try {
      return parse();
    } catch (err) {
      if (!(err instanceof SettingsError)) throw err;
      problems.push(...err.problems);
      return undefined as T; // never returned: the collected problems are thrown below
    }
  };
  const operator = read(() => parseOperatorSettings(env));
  const runs = (l: Lifecycle) => operator?.lifecycles.includes(l) ?? true;
  const all = {
    operator,
    vaultConnection: read(() => parseVaultConnectionSettings(env)),
    vault: runs(Lifecycle.Vault) ? read(() => parseVaultControllerSettings(env)) : undefined,
    kms: runs(Lifecycle.KmsVaultSecret) ? read(() => parseKmsVaultSecretSettings(env)) : undefined,
    serviceAccount: runs(Lifecycle.ServiceAccount) ? read(() => parseServiceAccountSettings(env)) : undefined,
    webhook: runs(Lifecycle.Webhook) ? read(() => parseWebhookSettings(env)) : undefined,
    // one list for every lifecycle that may talk to an external Vault (trust.ts)
    externalVaults: read(() => parseExternalVaultTrust(env)),
  };
  if (problems.length) throw new SettingsError([...new Set(problems)]);
  return all;
}
type AllSettings = ReturnType<typeof parseAllSettings>;

class VaultAutopilot extends AutopilotOperator {
  constructor(
    kubeConfig: KubeConfig,
    logger: Logger,
    private readonly settings: AllSettings,
    private readonly webhook: WebhookModule | undefined,
  ) {
    const s: OperatorSettings = settings.operator;
    const webhookServer = settings.webhook && webhook ? webhook.createWebhookServer(settings.webhook, makeKubeClients(kubeConfig), logger) : undefined;
    super({
      kubeConfig,
      logger,
      concurrency: s.concurrency,
      resyncPeriodMs: s.resyncPeriodMs,
      shutdownTimeoutMs: s.shutdownTimeoutMs,
      webhookServer,
      ...(s.watchNamespaces ? { namespaces: s.watchNamespaces } : {}),
      ...(s.leaderElection ? { leaderElection: { ...s.leaderElection, onLost: () => void this.leadershipLost() } } : {}),
    });
  }

  private vaultController: VaultController | undefined;

  /**
   * Another replica may take over one lease duration after our last renewal,
   * and we notice the loss only after the renew deadline: reconciles in flight
   * get what is left of that gap, then the process exits (every lifecycle is
   * safe to cut off mid-way). Unseal keys not yet stored are the exception:
   * they exist nowhere else, so their reconcile is allowed to finish.
   */
  private async leadershipLost(): Promise<void> {
    const election = this.settings.operator.leaderElection!;
    const graceMs = Math.max(500, election.leaseDurationMs - election.renewDeadlineMs - election.retryPeriodMs);
    const keys = this.vaultController?.unstoredKeys() ?? 0;
    this.logger.error('leadership lost: stopping the controllers and exiting', { graceMs, unstoredUnsealKeys: keys });
    const stopped = this.stop();
    if (keys === 0) await Promise.race([stopped, new Promise((r) => setTimeout(r, graceMs))]);
    else await stopped;
    process.exit(1);
  }

  protected override async init(): Promise<void> {
    const { settings } = this;
    const trust = describeTrust(settings.externalVaults);
    if (trust.insecure) this.logger.warn(trust.message);
    else this.logger.info(trust.message);
    if (settings.vault) {
      const { registerVaultController } = await load.vault();
      this.vaultController = await registerVaultController(this, {
        settings: settings.vault,
        // the Vault controller keeps the login KMSVaultSecrets are written with
        ...(settings.kms ? { kmsIdentity: { pathPolicy: settings.kms.pathPolicy } } : {}),
      });
    }
    if (settings.kms) {
      const { AwsKms, registerKmsVaultSecretController, VaultClient, VaultTargets } = await load.kms();
      // with VAULT_AUTOPILOT_VAULT_ADDR: that Vault; otherwise (and for spec.vaultRef) a `Vault` resource
      const vault = settings.vaultConnection ? new VaultClient(settings.vaultConnection) : undefined;
      const targets = new VaultTargets({ trust: settings.externalVaults });
      const decryptor = new AwsKms({ region: settings.kms.kms.region, endpoint: settings.kms.kms.endpoint, allowedKeyIds: settings.kms.kms.allowedKeyIds });
      await registerKmsVaultSecretController(this, { ...(vault ? { vault } : {}), targets, decryptor, settings: settings.kms });
    }
    if (settings.serviceAccount) {
      const { registerServiceAccountController } = await load.serviceAccount();
      await registerServiceAccountController(this, { settings: settings.serviceAccount, ...(settings.operator.watchNamespaces ? { watchNamespaces: settings.operator.watchNamespaces } : {}) });
    }
    if (settings.webhook && this.webhook) {
      await this.webhook.registerPodWebhook(this, { settings: settings.webhook, trust: settings.externalVaults });
    }
  }
}

async function runOperator(env: Env): Promise<void> {
  const settings = parseAllSettings(env);
  const logger = createLogger({ level: settings.operator.logLevel });
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromDefault();
  logger.info('vault-autopilot starting', { version: version(), lifecycles: settings.operator.lifecycles, cluster: kubeConfig.getCurrentCluster()?.server, watchNamespaces: settings.operator.watchNamespaces ?? 'all' });
  const operator = new VaultAutopilot(kubeConfig, logger, settings, settings.webhook ? await load.webhook() : undefined);
  const health = await startHealthServer({ port: settings.operator.healthPort, isReady: () => operator.isReady(), registry: metrics.registry });
  logger.info('health endpoints listening', { port: health.port, paths: ['/healthz', '/readyz', '/metrics'] });
  operator.installSignalHandlers((code) => {
    void health.close().finally(() => process.exit(code));
  });
  await operator.start();
}

/** Loads every module and checks the settings; used by image smoke tests. */
async function selfCheck(env: Env): Promise<number> {
  await Promise.all(Object.values(load).map((f) => f()));
  parseAllSettings(env);
  process.stdout.write(`vault-autopilot ${version()} self-check OK (node ${process.version}, ${process.arch})\n`);
  return 0;
}

const USAGE = `Usage: vault-autopilot [--version | --self-check | --help]
       vault-autopilot seal|verify ...   (see "vault-autopilot seal --help")
Without arguments, runs the operator; settings come from VAULT_AUTOPILOT_* environment variables.
`;

async function main(argv: string[]): Promise<number | undefined> {
  if (argv[0] !== undefined) {
    const { isCliCommand, runCli } = await load.cli();
    if (isCliCommand(argv)) return runCli(argv);
  }
  switch (argv[0]) {
    case '--version':
    case 'version':
      process.stdout.write(`${version()}\n`);
      return 0;
    case '--self-check':
      return selfCheck(process.env);
    case '--help':
    case '-h':
    case 'help':
      process.stdout.write(USAGE);
      return 0;
    case undefined:
      await runOperator(process.env);
      return undefined; // keeps running until a signal
    default:
      process.stderr.write(`unknown argument "${argv[0]}"\n${USAGE}`);
      return 2;
  }
}

try {
  const code = await main(process.argv.slice(2));
  if (code !== undefined) process.exitCode = code;
} catch (err) {
  // settings errors and start-up failures: one clear line, no stack of secrets
  process.stderr.write(`vault-autopilot: ${errorMessage(err)}\n`);
  process.exitCode = 1;
}
