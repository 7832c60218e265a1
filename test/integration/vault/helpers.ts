// Shared pieces of the Vault lifecycle integration tests: the controller
// running in-process on the real apiserver, with captured logs, a movable
// clock, a reconcile counter, and its Kubernetes writes as they left it (a
// logging proxy, test/support/kube-writes.ts). Vault requests are counted by
// Vault's own audit device (test/harness/vault-audit.ts).
import { readFileSync } from 'node:fs';
import { CustomObjectsApi, CoreV1Api, PatchStrategy, setHeaderOptions, type CoreV1Event, type KubeConfig } from '@kubernetes/client-node';
import { API_GROUP, API_VERSION } from '../../../operator/api/naming.js';
import { VAULT_PLURAL, type VaultResource, type VaultSpec } from '../../../operator/api/vault.js';
import { registerVaultController, type ControllerHost, type VaultController, type VaultControllerDeps } from '../../../operator/controllers/vault/controller.js';
import type { VaultControllerSettings } from '../../../operator/controllers/vault/settings.js';
import { createLogger, systemClock, type Clock } from '../../../operator/framework/index.js';
import { AutopilotOperator } from '../../../operator/framework/operator.js';
import { AwsKms } from '../../../operator/kms/aws-kms.js';
import { eventually, WITHIN, type TestEnv } from '../../harness/index.js';
import { WRITE_OPERATIONS, type VaultAudit } from '../../harness/vault-audit.js';
import { logKubeWrites } from '../../support/kube-writes.js';
import { sampleOf } from '../../support/samples.js';
import { HARNESS_VAULT_TRUST } from '../../support/external-vault.js';
import { LogCapture } from '../../support/log-capture.js';
export { LogCapture };

export const CRD_FILE = 'crds/vault.yaml';

/** Real time plus an offset the test moves (TLS expiry). */
export class ShiftedClock implements Clock {
  offsetMs = 0;
  now(): Date {
    return new Date(Date.now() + this.offsetMs);
  }
  setTimeout(fn: () => void, ms: number) {
    return systemClock.setTimeout(fn, ms);
  }
  clearTimeout(handle: object): void {
    systemClock.clearTimeout(handle);
  }
}

export interface RunningVaultOperator {
  operator: AutopilotOperator;
  controller: VaultController;
  logs: LogCapture;
  clock: ShiftedClock;
  reconciles: () => number;
  /** Every Kubernetes write the operator made so far, as the apiserver received it (`VERB resource ns/name`). */
  readonly kubeWrites: string[];
  /** Every request but watches, `GET /api/v1/namespaces/ns/secrets/x` (what the operator read, too). */
  readonly kubeRequests: string[];
  stop(): Promise<void>;
}

export function testSettings(env: TestEnv, overrides: Partial<VaultControllerSettings> = {}): VaultControllerSettings {
  return {
    kubernetesHost: env.apiserverUrl,
    kubernetesCaCert: readFileSync(env.apiserverCaFile, 'utf8'),
    resyncPeriodMs: 60 * 60_000,
    sealedRecheckMs: 1000,
    defaultImage: 'hashicorp/vault:1.21.4',
    caValidityDays: 3650,
    certValidityDays: 30,
    namespace: undefined,
    kms: { region: env.kms.region, endpoint: env.kms.endpoint },
    externalVaults: HARNESS_VAULT_TRUST,
    ...overrides,
  };
}

export async function startVaultOperator(
  env: TestEnv,
  namespace: string,
  overrides: Partial<VaultControllerSettings> = {},
  extraDeps: Partial<VaultControllerDeps> = {},
): Promise<RunningVaultOperator> {
  const logs = new LogCapture();
  const clock = new ShiftedClock();
  const kubeLog = await logKubeWrites(env);
  const operator = new AutopilotOperator({
    kubeConfig: kubeLog.kubeConfig,
    logger: createLogger({ stream: logs, level: 'debug' }),
    backoff: { baseMs: 300, maxMs: 3000 },
    clock,
  });
  let reconciles = 0;
  // count reconciles by wrapping the spec on its way to the framework
  const host: ControllerHost = {
    registerController: (spec) =>
      operator.registerController({
        ...spec,
        reconcile: async (obj, ctx) => {
          reconciles++;
          return spec.reconcile(obj, ctx);
        },
      }),
    watchRelated: (spec) => operator.watchRelated(spec),
  };
  const settings = testSettings(env, { namespace, ...overrides });
  const controller = await registerVaultController(host, {
    settings,
    kms: (region) => new AwsKms({ region: region ?? env.kms.region, endpoint: env.kms.endpoint, credentials: { accessKeyId: 'test', secretAccessKey: 'test' } }),
    ...extraDeps,
  });
  await operator.start();
  await operator.waitForSync();
  return {
    operator,
    controller,
    logs,
    clock,
    reconciles: () => reconciles,
    get kubeWrites() {
      return kubeLog.writes();
    },
    get kubeRequests() {
      return kubeLog.requests();
    },
    stop: async () => {
      await operator.stop();
      await kubeLog.close();
    },
  };
}

/** A Vault CR from a sample file, renamed into a namespace, with spec overrides. */
export function fromSample(file: string, namespace: string, name: string, spec: Partial<VaultSpec> = {}): VaultResource {
  const doc = sampleOf<VaultResource>(file, 'Vault');
  return { ...doc, metadata: { name, namespace }, spec: { ...doc.spec, ...spec } };
}

export class Vaults {
  readonly custom: CustomObjectsApi;
  readonly core: CoreV1Api;
  constructor(kubeConfig: KubeConfig) {
    this.custom = kubeConfig.makeApiClient(CustomObjectsApi);
    this.core = kubeConfig.makeApiClient(CoreV1Api);
  }
  /** `strict`: the apiserver refuses unknown fields (fieldValidation=Strict), as for Bank-Vaults' shapes. */
  async create(vault: VaultResource, opts: { strict?: boolean } = {}): Promise<void> {
    const fieldValidation = opts.strict ? 'Strict' : undefined;
    await this.custom.createNamespacedCustomObject({ group: API_GROUP, version: API_VERSION, namespace: vault.metadata!.namespace!, plural: VAULT_PLURAL, body: vault, fieldValidation });
  }
  async get(namespace: string, name: string): Promise<VaultResource> {
    return (await this.custom.getNamespacedCustomObject({ group: API_GROUP, version: API_VERSION, namespace, plural: VAULT_PLURAL, name })) as VaultResource;
  }
  /** Merge-patches the spec (null deletes a field). */
  async patchSpec(namespace: string, name: string, spec: Record<string, unknown>): Promise<void> {
    await this.custom.patchNamespacedCustomObject(
      { group: API_GROUP, version: API_VERSION, namespace, plural: VAULT_PLURAL, name, body: { spec } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
  }
  async delete(namespace: string, name: string): Promise<void> {
    await this.custom.deleteNamespacedCustomObject({ group: API_GROUP, version: API_VERSION, namespace, plural: VAULT_PLURAL, name });
  }
  async condition(namespace: string, name: string, type: string) {
    return (await this.get(namespace, name)).status?.conditions?.find((c) => c.type === type);
  }
  async waitForCondition(namespace: string, name: string, type: string, status: string, opts: { reason?: string; timeoutMs?: number; message?: RegExp } = {}) {
    return eventually(
      async () => {
        const c = await this.condition(namespace, name, type);
        if (c?.status !== status || (opts.reason && c.reason !== opts.reason) || (opts.message && !opts.message.test(c.message))) {
          throw new Error(`${type} is ${c?.status}/${c?.reason}: ${c?.message}`);
        }
        return c;
      },
      { timeoutMs: opts.timeoutMs ?? WITHIN.reconcile.timeoutMs, intervalMs: 200, message: `${namespace}/${name} ${type}=${status}` },
    );
  }
  async events(namespace: string, name: string): Promise<CoreV1Event[]> {
    const list = await this.core.listNamespacedEvent({ namespace, fieldSelector: `involvedObject.name=${name}` });
    return list.items;
  }
  /**
   * Waits for an Event matching `match`. A reconcile records its Events after
   * its Vault writes, so a test that has just seen a write in Vault waits for
   * the Event rather than reading the list once (that read races the recorder).
   */
  async waitForEvent(namespace: string, name: string, match: (e: CoreV1Event) => boolean, what: string): Promise<CoreV1Event> {
    return eventually(async () => {
      const found = (await this.events(namespace, name)).find(match);
      if (!found) throw new Error(`no Event ${what} yet`);
      return found;
    }, { ...WITHIN.reconcile, message: `Event ${what}` });
  }
  async secretData(namespace: string, name: string): Promise<Record<string, string> | undefined> {
    try {
      const s = await this.core.readNamespacedSecret({ name, namespace });
      return Object.fromEntries(Object.entries(s.data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')]));
    } catch (err) {
      if ((err as { code?: number }).code === 404) return undefined;
      throw err;
    }
  }
}

/** Waits until `passes` more reconciles have started: the ones before the last have finished. */
export async function passes(op: Pick<RunningVaultOperator, 'reconciles'>, n: number): Promise<void> {
  const from = op.reconciles();
  await eventually(async () => {
    if (op.reconciles() < from + n) throw new Error(`${op.reconciles() - from}/${n} reconciles`);
  }, { timeoutMs: 5 * 60_000, intervalMs: 50, message: `${n} reconciles` });
}

/**
 * In sync, no quiet window guessed: waits for a reconcile pass during which `changes()` did not grow
 * (a pass lies whole between two reconcile starts), then returns what `n` further passes changed.
 */
export async function changesOnceInSync<T>(op: Pick<RunningVaultOperator, 'reconciles'>, changes: () => T[], n: number): Promise<T[]> {
  for (;;) {
    const before = changes().length;
    await passes(op, 2);
    if (changes().length === before) break;
  }
  const before = changes().length;
  await passes(op, n + 1);
  return changes().slice(before);
}

/** The writes Vault served (its audit device), by anyone; tests read them in windows where only the operator talks. */
export const vaultWrites = (audit: VaultAudit) => () => audit.responses().filter((r) => WRITE_OPERATIONS.has(r.operation)).map((r) => `${r.operation} ${r.path}`);
