// Shared pieces of the ServiceAccount lifecycle tests: an in-process operator
// on the real apiserver (optionally with the Vault controller in external mode
// against the harness's Vault), captured logs, a counter of Kubernetes writes,
// and small object helpers.
import { readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import type { CoreV1Event, V1ServiceAccount } from '@kubernetes/client-node';
import { API_GROUP, API_GROUP_VERSION, API_VERSION } from '../../../operator/api/naming.js';
import { VAULT_PLURAL, type ExternalConfig, type VaultResource } from '../../../operator/api/vault.js';
import { registerServiceAccountController } from '../../../operator/controllers/serviceaccount/controller.js';
import { withServiceAccountRoles } from '../../../operator/controllers/serviceaccount/compact.js';
import { parseServiceAccountSettings, type ServiceAccountSettings } from '../../../operator/controllers/serviceaccount/settings.js';
import { registerVaultController } from '../../../operator/controllers/vault/controller.js';
import type { VaultControllerSettings } from '../../../operator/controllers/vault/settings.js';
import { AutopilotOperator, createLogger, errorCode, resourcePath, type KubeClients, makeKubeClients } from '../../../operator/framework/index.js';
import type { TestEnv } from '../../harness/index.js';
import { HARNESS_VAULT_TRUST, tokenSecretLabels } from '../../support/external-vault.js';
import { LogCapture } from '../../support/log-capture.js';
import { logKubeWrites } from '../../support/kube-writes.js';
export { LogCapture };

export const VAULT_CRD = 'crds/vault.yaml';

export interface RunningOperator {
  operator: AutopilotOperator;
  settings: ServiceAccountSettings;
  logs: LogCapture;
  /** Every request the operator sent to the apiserver (watches aside), `METHOD path?query`, as a proxy in front of it saw them. */
  readonly kubeRequests: string[];
  stop(): Promise<void>;
}

export interface OperatorOptions {
  /**
   * Watch only this namespace, for ServiceAccounts and (with vaultController)
   * Vault resources: test files share the servers and run side by side.
   */
  namespace: string;
  /** VAULT_AUTOPILOT_* variables for the ServiceAccount settings. */
  env?: Record<string, string>;
  /** Also run the Vault controller (external mode against the harness's Vault). */
  vaultController?: boolean;
  /** Extra controllers to register before start (e.g. KMSVaultSecret). */
  register?: (operator: AutopilotOperator) => Promise<void>;
  concurrency?: number;
  backoff?: { baseMs: number; maxMs: number };
  /** The ServiceAccount controller's periodic resync (and sweep) period; default its own. */
  resyncPeriodMs?: number;
}

export function vaultControllerSettings(env: TestEnv, namespace?: string): VaultControllerSettings {
  return {
    kubernetesHost: env.apiserverUrl,
    kubernetesCaCert: readFileSync(env.apiserverCaFile, 'utf8'),
    resyncPeriodMs: 60 * 60_000,
    sealedRecheckMs: 1000,
    defaultImage: 'hashicorp/vault:1.21.4',
    caValidityDays: 3650,
    certValidityDays: 30,
    namespace,
    kms: { region: env.kms.region, endpoint: env.kms.endpoint },
    externalVaults: HARNESS_VAULT_TRUST,
  };
}

export async function startOperator(env: TestEnv, opts: OperatorOptions): Promise<RunningOperator> {
  const logs = new LogCapture();
  // what the operator sends, as it leaves it (to prove an in-sync reconcile writes nothing)
  const kubeLog = await logKubeWrites(env);
  const operator = new AutopilotOperator({
    kubeConfig: kubeLog.kubeConfig,
    logger: createLogger({ stream: logs, level: 'debug' }),
    concurrency: opts.concurrency ?? 8,
    backoff: opts.backoff ?? { baseMs: 200, maxMs: 2000 },
    watchBackoff: { baseMs: 100, maxMs: 1000 },
    shutdownTimeoutMs: 10_000,
  });
  const settings = parseServiceAccountSettings(opts.env ?? {});
  await registerServiceAccountController(operator, { settings, namespace: opts.namespace, ...(opts.resyncPeriodMs ? { resyncPeriodMs: opts.resyncPeriodMs } : {}) });
  if (opts.vaultController) await registerVaultController(operator, { settings: vaultControllerSettings(env, opts.namespace) });
  if (opts.register) await opts.register(operator);
  await operator.start();
  await operator.waitForSync();
  return {
    operator,
    settings,
    logs,
    get kubeRequests() {
      return kubeLog.requests();
    },
    stop: async () => {
      await operator.stop();
      await kubeLog.close();
    },
  };
}

/** Object helpers with the admin identity. */
export class Cluster {
  readonly kube: KubeClients;
  constructor(env: TestEnv) {
    this.kube = makeKubeClients(env.kubeConfig());
  }

  vaultPath(namespace: string, name?: string): string {
    return resourcePath(API_GROUP, API_VERSION, VAULT_PLURAL, namespace, name);
  }

  async createVault(namespace: string, name: string, spec: VaultResource['spec']): Promise<VaultResource> {
    return this.kube.raw.request<VaultResource>({
      method: 'POST',
      path: this.vaultPath(namespace),
      body: { apiVersion: API_GROUP_VERSION, kind: 'Vault', metadata: { name, namespace }, spec },
    });
  }

  async getVault(namespace: string, name: string): Promise<VaultResource | undefined> {
    try {
      return await this.kube.raw.request<VaultResource>({ method: 'GET', path: this.vaultPath(namespace, name) });
    } catch (err) {
      if (errorCode(err) === 404) return undefined;
      throw err;
    }
  }

  async deleteVault(namespace: string, name: string): Promise<void> {
    await this.kube.raw.request({ method: 'DELETE', path: this.vaultPath(namespace, name) });
  }

  /** externalConfig as the Vault lifecycle applies it: with the roles and policies rendered from spec.serviceAccountRoles */
  async externalConfig(namespace: string, name: string): Promise<ExternalConfig> {
    const spec = (await this.getVault(namespace, name))?.spec;
    return withServiceAccountRoles(spec?.externalConfig, spec?.serviceAccountRoles) ?? {};
  }

  async createServiceAccount(namespace: string, name: string, annotations: Record<string, string>): Promise<V1ServiceAccount> {
    return this.kube.core.createNamespacedServiceAccount({ namespace, body: { metadata: { name, annotations } } });
  }

  async getServiceAccount(namespace: string, name: string): Promise<V1ServiceAccount | undefined> {
    try {
      return await this.kube.core.readNamespacedServiceAccount({ namespace, name });
    } catch (err) {
      if (errorCode(err) === 404) return undefined;
      throw err;
    }
  }

  /** Merge-patches annotations (null removes one). */
  async annotate(namespace: string, name: string, annotations: Record<string, string | null>): Promise<void> {
    await this.kube.raw.request({
      method: 'PATCH',
      path: resourcePath('', 'v1', 'serviceaccounts', namespace, name),
      body: { metadata: { annotations } },
      contentType: 'application/merge-patch+json',
    });
  }

  async deleteServiceAccount(namespace: string, name: string): Promise<void> {
    await this.kube.core.deleteNamespacedServiceAccount({ namespace, name });
  }

  async events(namespace: string, involvedName: string): Promise<CoreV1Event[]> {
    const list = await this.kube.core.listNamespacedEvent({ namespace });
    return list.items.filter((e) => e.involvedObject.name === involvedName && e.involvedObject.kind === 'ServiceAccount');
  }
}

/** Names of the roles in auth `path` and of all policies, as the Vault resource lists them. */
export function entryNames(config: ExternalConfig, authPath = 'kubernetes'): { roles: string[]; policies: string[] } {
  const auth = (config.auth ?? []).find((a) => a.path === authPath);
  return {
    roles: (auth?.roles ?? []).map((r) => r.name).sort(),
    policies: (config.policies ?? []).map((p) => p.name).sort(),
  };
}

/** Vault with the root token, outside the operator. */
export async function vaultRequest(
  env: TestEnv,
  method: string,
  path: string,
  body?: unknown,
  token = env.vault.rootToken,
): Promise<{ status: number; json: Record<string, any> }> {
  const res = await fetch(`${env.vault.address}/v1/${path}`, {
    method,
    headers: { ...(token ? { 'x-vault-token': token } : {}), 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, json: text ? (JSON.parse(text) as Record<string, any>) : {} };
}

/** Role names of a Kubernetes auth mount in Vault (empty when none / not mounted). */
export async function vaultRoles(env: TestEnv, authPath: string): Promise<string[]> {
  const res = await vaultRequest(env, 'LIST', `auth/${authPath}/role`);
  return res.status === 200 ? ((res.json.data?.keys as string[]) ?? []).sort() : [];
}

export async function vaultPolicies(env: TestEnv): Promise<string[]> {
  const res = await vaultRequest(env, 'LIST', 'sys/policies/acl');
  return ((res.json.data?.keys as string[]) ?? []).sort();
}

/** A `Vault` resource adopting the harness's Vault with its root token (kept in a Secret). */
export async function createExternalVault(
  cluster: Cluster,
  env: TestEnv,
  namespace: string,
  name: string,
  externalConfig: ExternalConfig,
): Promise<VaultResource> {
  const secretName = `${name}-root-token`;
  try {
    await cluster.kube.core.createNamespacedSecret({
      namespace,
      body: { metadata: { name: secretName, labels: tokenSecretLabels(name) }, stringData: { token: env.vault.rootToken } },
    });
  } catch (err) {
    if (errorCode(err) !== 409) throw err;
  }
  return cluster.createVault(namespace, name, {
    external: { address: env.vault.address, auth: { method: 'token', tokenSecretRef: { name: secretName, key: 'token' } } },
    externalConfig,
  });
}

/**
 * A namespace with an external `Vault` resource (Kubernetes auth on its own
 * mount, one hand-written role and policy) and an operator running both the
 * ServiceAccount and the Vault controllers against it: what every "Vault
 * follows" test starts from.
 */
export interface VaultFollowing {
  cluster: Cluster;
  ns: string;
  authPath: string;
  op: RunningOperator;
}

export async function startVaultFollowing(env: TestEnv, prefix: string): Promise<VaultFollowing> {
  await env.applyCrds(VAULT_CRD);
  const cluster = new Cluster(env);
  const ns = await env.namespace(`sa-${prefix}`);
  const authPath = `k8s-${prefix}-${randomBytes(3).toString('hex')}`;
  await createExternalVault(cluster, env, ns, 'vault', {
    auth: [
      {
        path: authPath,
        type: 'kubernetes',
        config: { kubernetes_host: env.apiserverUrl, kubernetes_ca_cert: readFileSync(env.apiserverCaFile, 'utf8') },
        roles: [{ name: 'hand-written', bound_service_account_names: ['x'], bound_service_account_namespaces: ['x'] }],
      },
    ],
    policies: [{ name: `hand-written-${ns}`, rules: 'path "sys/health" { capabilities = ["read"] }' }],
  });
  const op = await startOperator(env, {
    namespace: ns,
    env: { VAULT_AUTOPILOT_TARGET_VAULT: `${ns}/vault`, VAULT_AUTOPILOT_KUBERNETES_AUTH_PATH: authPath },
    vaultController: true,
  });
  return { cluster, ns, authPath, op };
}

/** The shared Vault outlives a test file: take its auth mount and policies out. */
export async function stopVaultFollowing(env: TestEnv, setup: VaultFollowing | undefined): Promise<void> {
  if (!setup) return;
  await setup.op.stop();
  await vaultRequest(env, 'DELETE', `sys/auth/${setup.authPath}`).catch(() => undefined);
  for (const policy of await vaultPolicies(env).catch(() => [] as string[])) {
    if (policy.startsWith(`sa.${setup.ns}.`) || policy === `hand-written-${setup.ns}`) await vaultRequest(env, 'DELETE', `sys/policies/acl/${policy}`);
  }
}
