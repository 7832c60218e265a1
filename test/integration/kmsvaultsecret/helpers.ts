// Shared pieces of the KMSVaultSecret integration tests: an in-process
// operator with captured logs, sealing with the real local-kms, direct Vault
// access with the root token (to check, and to cause drift), object helpers.
import { CoreV1Api, CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import {
  API_GROUP,
  API_VERSION,
  KMS_VAULT_SECRET_PLURAL,
  PARTIAL_KMS_VAULT_SECRET_PLURAL,
  type KMSVaultSecret,
  type KMSVaultSecretSpec,
  type PartialKMSVaultSecret,
  type PartialKMSVaultSecretSpec,
} from '../../../operator/api/kmsvaultsecret.js';
import { registerKmsVaultSecretController } from '../../../operator/controllers/kmsvaultsecret/controller.js';
import { defaultKmsVaultSecretSettings, type KmsVaultSecretSettings } from '../../../operator/controllers/kmsvaultsecret/settings.js';
import { createLogger } from '../../../operator/framework/logger.js';
import { AutopilotOperator } from '../../../operator/framework/operator.js';
import { AwsKms } from '../../../operator/kms/aws-kms.js';
import type { Decryptor } from '../../../operator/kms/decryptor.js';
import { VaultClient } from '../../../operator/vault/client.js';
import { eventually, WITHIN, type TestEnv } from '../../harness/index.js';
import { WRITE_OPERATIONS, type AuditedRequest, type VaultAudit } from '../../harness/vault-audit.js';
import { LogCapture } from '../../support/log-capture.js';
export { LogCapture };

export const CRD_FILES = ['crds/kmsvaultsecret.yaml', 'crds/partialkmsvaultsecret.yaml'];
export const KMS_CREDENTIALS = { accessKeyId: 'test', secretAccessKey: 'test' };

/** Collects log lines in memory. */
export interface RunningOperator {
  operator: AutopilotOperator;
  vault: VaultClient;
  kms: AwsKms;
  /** KMS Decrypt calls made by the controller. */
  kmsDecrypts(): number;
  logs: LogCapture;
  stop(): Promise<void>;
}

export async function startInProcessOperator(
  env: TestEnv,
  settings: Partial<KmsVaultSecretSettings> = {},
  options: { vault?: VaultClient } = {},
): Promise<RunningOperator> {
  const logs = new LogCapture();
  const logger = createLogger({ stream: logs, level: 'debug' });
  const full: KmsVaultSecretSettings = {
    ...defaultKmsVaultSecretSettings,
    // these files test syncing and seal without the namespace binding (sealValue);
    // test/integration/tenancy/ tests the binding with the default (none legacy)
    legacyNamespaces: ['*'],
    ...settings,
    kms: { region: env.kms.region, endpoint: env.kms.endpoint, allowedKeyIds: [env.kms.keyId], ...settings.kms },
  };
  const vault =
    options.vault ?? new VaultClient({ address: env.vault.address, auth: { method: 'token', token: env.vault.rootToken }, timeoutMs: 3000 });
  const kms = new AwsKms({
    region: full.kms.region,
    endpoint: full.kms.endpoint,
    credentials: KMS_CREDENTIALS,
    allowedKeyIds: full.kms.allowedKeyIds,
    maxAttempts: 1,
    requestTimeoutMs: 3000,
  });
  const operator = new AutopilotOperator({
    kubeConfig: env.kubeConfig(),
    logger,
    backoff: { baseMs: 200, maxMs: 2000 },
    watchBackoff: { baseMs: 100, maxMs: 1000 },
    shutdownTimeoutMs: 5000,
  });
  let decrypts = 0;
  const counting: Decryptor = {
    decrypt: (request) => {
      decrypts++;
      return kms.decrypt(request);
    },
  };
  await registerKmsVaultSecretController(operator, { vault, decryptor: counting, settings: full });
  await operator.start();
  await operator.waitForSync();
  return {
    operator,
    vault,
    kms,
    kmsDecrypts: () => decrypts,
    logs,
    stop: async () => {
      await operator.stop();
      kms.destroy();
    },
  };
}

/** Encrypt with the real KMS (as `seal` does) and return the base64 blob. */
export async function sealValue(env: TestEnv, value: string, context?: Record<string, string>, keyId = env.kms.keyId): Promise<string> {
  const kms = new AwsKms({ region: env.kms.region, endpoint: env.kms.endpoint, credentials: KMS_CREDENTIALS });
  try {
    const out = await kms.encrypt({ keyId, plaintext: Buffer.from(value), context });
    return Buffer.from(out.ciphertext).toString('base64');
  } finally {
    kms.destroy();
  }
}

/** Vault with the root token, outside the operator (so its request counters stay clean). */
export class VaultProbe {
  constructor(private readonly env: TestEnv) {}

  async request(method: string, path: string, body?: unknown): Promise<{ status: number; json: Record<string, any> }> {
    const res = await fetch(`${this.env.vault.address}/v1/${path}`, {
      method,
      headers: { 'x-vault-token': this.env.vault.rootToken, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, json: text ? (JSON.parse(text) as Record<string, any>) : {} };
  }

  /** The secret's data, or undefined when absent. */
  async read(mount: string, version: 'v1' | 'v2', secretPath: string): Promise<Record<string, unknown> | undefined> {
    const res = await this.request('GET', version === 'v2' ? `${mount}/data/${secretPath}` : `${mount}/${secretPath}`);
    if (res.status === 404) return undefined;
    if (res.status !== 200) throw new Error(`read ${mount}/${secretPath}: ${res.status}`);
    return (version === 'v2' ? res.json.data?.data : res.json.data) ?? undefined;
  }

  async write(mount: string, version: 'v1' | 'v2', secretPath: string, data: Record<string, string>): Promise<void> {
    const res = await this.request('PUT', version === 'v2' ? `${mount}/data/${secretPath}` : `${mount}/${secretPath}`, version === 'v2' ? { data } : data);
    if (res.status >= 300) throw new Error(`write ${mount}/${secretPath}: ${res.status}`);
  }

  /** v2 only: does any version or metadata exist? */
  async metadataExists(mount: string, secretPath: string): Promise<boolean> {
    return (await this.request('GET', `${mount}/metadata/${secretPath}`)).status === 200;
  }
}

export class Objects {
  readonly custom: CustomObjectsApi;
  readonly core: CoreV1Api;
  /** Every status seen, for the leak check at the end. */
  readonly statusesSeen: string[] = [];

  constructor(kubeConfig: KubeConfig) {
    this.custom = kubeConfig.makeApiClient(CustomObjectsApi);
    this.core = kubeConfig.makeApiClient(CoreV1Api);
  }

  async create(namespace: string, name: string, spec: KMSVaultSecretSpec): Promise<KMSVaultSecret> {
    return (await this.custom.createNamespacedCustomObject({
      group: API_GROUP,
      version: API_VERSION,
      namespace,
      plural: KMS_VAULT_SECRET_PLURAL,
      body: { apiVersion: `${API_GROUP}/${API_VERSION}`, kind: 'KMSVaultSecret', metadata: { name, namespace }, spec },
    })) as KMSVaultSecret;
  }

  async createRaw(namespace: string, body: object, plural = KMS_VAULT_SECRET_PLURAL): Promise<unknown> {
    return this.custom.createNamespacedCustomObject({ group: API_GROUP, version: API_VERSION, namespace, plural, body });
  }

  async createPartial(namespace: string, name: string, spec: PartialKMSVaultSecretSpec): Promise<PartialKMSVaultSecret> {
    return (await this.custom.createNamespacedCustomObject({
      group: API_GROUP,
      version: API_VERSION,
      namespace,
      plural: PARTIAL_KMS_VAULT_SECRET_PLURAL,
      body: { apiVersion: `${API_GROUP}/${API_VERSION}`, kind: 'PartialKMSVaultSecret', metadata: { name, namespace }, spec },
    })) as PartialKMSVaultSecret;
  }

  async get(namespace: string, name: string): Promise<KMSVaultSecret | undefined> {
    try {
      const obj = (await this.custom.getNamespacedCustomObject({
        group: API_GROUP,
        version: API_VERSION,
        namespace,
        plural: KMS_VAULT_SECRET_PLURAL,
        name,
      })) as KMSVaultSecret;
      if (obj.status) this.statusesSeen.push(JSON.stringify(obj.status));
      return obj;
    } catch (err) {
      if ((err as { code?: number }).code === 404) return undefined;
      throw err;
    }
  }

  async updateSpec(namespace: string, name: string, change: (spec: KMSVaultSecretSpec) => KMSVaultSecretSpec): Promise<void> {
    const obj = (await this.get(namespace, name)) as KMSVaultSecret;
    await this.custom.replaceNamespacedCustomObject({
      group: API_GROUP,
      version: API_VERSION,
      namespace,
      plural: KMS_VAULT_SECRET_PLURAL,
      name,
      body: { ...obj, spec: change(obj.spec) },
    });
  }

  async delete(namespace: string, name: string): Promise<void> {
    await this.custom.deleteNamespacedCustomObject({ group: API_GROUP, version: API_VERSION, namespace, plural: KMS_VAULT_SECRET_PLURAL, name });
  }

  async deletePartial(namespace: string, name: string): Promise<void> {
    await this.custom.deleteNamespacedCustomObject({ group: API_GROUP, version: API_VERSION, namespace, plural: PARTIAL_KMS_VAULT_SECRET_PLURAL, name });
  }

  /** Wait until Ready has this status (and reason, if given) for the current generation. */
  async waitReady(namespace: string, name: string, status: 'True' | 'False', reason?: string, timeoutMs: number = WITHIN.reconcile.timeoutMs): Promise<KMSVaultSecret> {
    return eventually(
      async () => {
        const obj = await this.get(namespace, name);
        const ready = obj?.status?.conditions?.find((c) => c.type === 'Ready');
        if (!obj || !ready) throw new Error(`${name}: no Ready condition yet`);
        if (obj.status?.observedGeneration !== obj.metadata?.generation) throw new Error(`${name}: status is for generation ${obj.status?.observedGeneration}`);
        if (ready.status !== status || (reason && ready.reason !== reason)) throw new Error(`${name}: Ready=${ready.status} ${ready.reason}: ${ready.message}`);
        return obj;
      },
      { timeoutMs, intervalMs: 150, message: `${namespace}/${name} Ready=${status}${reason ? ` ${reason}` : ''}` },
    );
  }

  async waitGone(namespace: string, name: string, timeoutMs: number = WITHIN.reconcile.timeoutMs): Promise<void> {
    await eventually(
      async () => {
        if (await this.get(namespace, name)) throw new Error(`${name} still exists`);
      },
      { timeoutMs, intervalMs: 150, message: `${namespace}/${name} deleted` },
    );
  }

  /**
   * Whether a matching Event shows up within `timeoutMs`. The controller writes
   * status before it records the Event, so a test that just saw the status
   * must wait for the Event rather than list once.
   */
  async sawEvent(namespace: string, name: string, type: string, reason: string, message?: RegExp, timeoutMs: number = WITHIN.reconcile.timeoutMs): Promise<boolean> {
    try {
      await eventually(
        async () => {
          const events = await this.events(namespace, name);
          if (!events.some((e) => e.type === type && e.reason === reason && (!message || message.test(e.message)))) throw new Error('not yet');
        },
        { timeoutMs, intervalMs: 150 },
      );
      return true;
    } catch {
      return false;
    }
  }

  async events(namespace: string, name?: string): Promise<Array<{ type: string; reason: string; message: string; count: number }>> {
    const list = await this.core.listNamespacedEvent({ namespace });
    return list.items
      .filter((e) => !name || e.involvedObject.name === name)
      .map((e) => ({ type: e.type ?? '', reason: e.reason ?? '', message: e.message ?? '', count: e.count ?? 1 }));
  }
}

/**
 * The re-check passes of KMSVaultSecrets in namespace `ns`, read from Vault's audit device: one pass of
 * an object is a mount lookup (`sys/internal/ui/mounts/<path>`) then a read of its data. Keyed by the
 * secret's path (`<mount>/<ns>/<name>`, kv v2 `data/` dropped); `passes` counts whole pairs, `stray`
 * lists anything else (a write, a lone read) — a window's cut-off first and last halves excepted.
 */
export function recheckPasses(served: AuditedRequest[], ns: string): { passes: Map<string, number>; stray: string[] } {
  const byObject = new Map<string, string[]>();
  const stray: string[] = [];
  for (const r of served) {
    if (!r.path.includes(`/${ns}/`)) continue; // other files share this Vault
    if (WRITE_OPERATIONS.has(r.operation)) {
      stray.push(`${r.operation} ${r.path}`);
      continue;
    }
    const lookup = r.path.startsWith('sys/internal/ui/mounts/');
    const path = (lookup ? r.path.slice('sys/internal/ui/mounts/'.length) : r.path).replace(/^([^/]+)\/data\//, '$1/');
    byObject.set(path, [...(byObject.get(path) ?? []), lookup ? 'L' : 'R']);
  }
  const passes = new Map<string, number>();
  for (const [path, seq] of byObject) {
    const s = seq.join('');
    const whole = s.replace(/^R/, '').replace(/L$/, '');
    if (!/^(LR)*$/.test(whole)) stray.push(`${path}: ${s}`);
    passes.set(path, whole.length / 2);
  }
  return { passes, stray };
}

/** Waits until Vault's audit device shows at least `n` whole re-check passes since `mark` for every path. */
export async function waitForRecheckPasses(audit: VaultAudit, mark: number, ns: string, paths: string[], n: number): Promise<void> {
  await eventually(async () => {
    const { passes } = recheckPasses(audit.since(mark), ns);
    const behind = paths.filter((p) => (passes.get(p) ?? 0) < n);
    if (behind.length) throw new Error(`${behind.length} objects with fewer than ${n} passes, e.g. ${behind[0]}`);
  }, { timeoutMs: 10 * 60_000, intervalMs: 500, message: `${n} re-check passes of every object` });
}
