// The talk's self-service flow, step by step, against real servers: a `Vault`
// resource adopting the harness's Vault with Kubernetes auth pointed at the
// harness's kube-apiserver; a KMS-sealed KMSVaultSecret at a ServiceAccount's
// path; the sample ServiceAccount with one annotation; a token from the real
// TokenRequest API logging in to Vault (Vault calls the real TokenReview),
// reading its secret, being denied another namespace's, and failing to log in
// once the ServiceAccount is gone.
//
// Each step returns what it observed; the e2e test asserts on it and
// test/harness/demo-flow.ts prints it. The operator runs in-process with the
// Vault, KMSVaultSecret and ServiceAccount controllers.
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { V1ServiceAccount } from '@kubernetes/client-node';
import { API_GROUP, API_GROUP_VERSION, API_VERSION, serviceAccountRoleName } from '../../../operator/api/naming.js';
import { KMS_VAULT_SECRET_PLURAL, NAMESPACE_CONTEXT_KEY } from '../../../operator/api/kmsvaultsecret.js';
import { registerKmsVaultSecretController } from '../../../operator/controllers/kmsvaultsecret/controller.js';
import { defaultKmsVaultSecretSettings } from '../../../operator/controllers/kmsvaultsecret/settings.js';
import { registerServiceAccountController } from '../../../operator/controllers/serviceaccount/controller.js';
import { parseServiceAccountSettings } from '../../../operator/controllers/serviceaccount/settings.js';
import { registerVaultController } from '../../../operator/controllers/vault/controller.js';
import { AutopilotOperator, createLogger, errorCode, makeKubeClients, resourcePath, type KubeClients } from '../../../operator/framework/index.js';
import { AwsKms } from '../../../operator/kms/aws-kms.js';
import { VaultClient } from '../../../operator/vault/client.js';
import { eventually, type TestEnv } from '../../harness/index.js';
import { sampleOf } from '../../support/samples.js';
import { vaultControllerSettings } from '../serviceaccount/helpers.js';
import { tokenSecretLabels } from '../../support/external-vault.js';
import { LogCapture } from '../../support/log-capture.js';

export const CRD_FILES = ['crds/vault.yaml', 'crds/kmsvaultsecret.yaml', 'crds/partialkmsvaultsecret.yaml'];
export const SAMPLE_SERVICE_ACCOUNT = 'samples/serviceaccount.yaml';
const KMS_CREDENTIALS = { accessKeyId: 'test', secretAccessKey: 'test' };

export interface VaultAnswer {
  status: number;
  json: Record<string, any>;
}

/** SHA-256 prefix: lets a printout show two values are equal without showing them. */
export function fingerprint(value: string): string {
  return createHash('sha256').update(value).digest('hex').slice(0, 12);
}

/**
 * The operator, with every controller registered through it watching only
 * `namespace` (the KMSVaultSecret controller has no namespace setting of its
 * own). A `filter` would not do: the framework finalizes objects that carry
 * its finalizer but fail the filter. Methods stay bound to the real operator.
 */
function onlyNamespace(operator: AutopilotOperator, namespace: string): AutopilotOperator {
  const registerController: AutopilotOperator['registerController'] = (spec) => operator.registerController({ ...spec, namespace });
  return new Proxy(operator, {
    get(target, property) {
      if (property === 'registerController') return registerController;
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}

export class SelfServiceFlow {
  readonly kube: KubeClients;
  readonly logs = new LogCapture();
  /** Values that must never appear in the operator's logs or Events. */
  readonly secrets: string[] = [];
  operator: AutopilotOperator | undefined;
  vaultNamespace = '';
  appNamespace = '';
  otherNamespace = '';
  authPath = `k8s-${randomBytes(3).toString('hex')}`;
  /** The sample's ServiceAccount name (`orders`). */
  readonly serviceAccount: string;
  plaintext = `orders-db-password-${randomBytes(8).toString('hex')}`;
  private clusterRoleBinding = '';
  private readonly kms: AwsKms;

  constructor(readonly env: TestEnv) {
    this.kube = makeKubeClients(env.kubeConfig());
    this.kms = new AwsKms({ region: env.kms.region, endpoint: env.kms.endpoint, credentials: KMS_CREDENTIALS });
    this.secrets.push(this.plaintext, env.vault.rootToken);
    this.sample = sampleOf<V1ServiceAccount>(SAMPLE_SERVICE_ACCOUNT, 'ServiceAccount');
    this.serviceAccount = this.sample.metadata!.name!;
  }

  private readonly sample: V1ServiceAccount;

  get role(): string {
    return serviceAccountRoleName(this.appNamespace, this.serviceAccount);
  }

  /** Path of the ServiceAccount's secret under the dev Vault's `secret/` KV v2 mount. */
  secretPath(namespace = this.appNamespace): string {
    return `${namespace}/${this.serviceAccount}/config`;
  }

  // ------------------------------------------------------------------ steps

  /** CRDs, namespaces, and the operator in-process with the three controllers. */
  async startOperator(): Promise<{ vaultNamespace: string; appNamespace: string; otherNamespace: string }> {
    await this.env.applyCrds(...CRD_FILES);
    this.vaultNamespace = await this.env.namespace('vault-system');
    this.appNamespace = await this.env.namespace('shop');
    this.otherNamespace = await this.env.namespace('other-team');
    const operator = new AutopilotOperator({
      kubeConfig: this.env.kubeConfig(),
      logger: createLogger({ stream: this.logs, level: 'debug' }),
      backoff: { baseMs: 200, maxMs: 2000 },
      watchBackoff: { baseMs: 100, maxMs: 1000 },
      shutdownTimeoutMs: 10_000,
    });
    // test files share the servers and run side by side: every controller
    // here looks only at this flow's namespaces
    await registerVaultController(operator, { settings: vaultControllerSettings(this.env, this.vaultNamespace) });
    await registerKmsVaultSecretController(onlyNamespace(operator, this.appNamespace), {
      vault: new VaultClient({ address: this.env.vault.address, auth: { method: 'token', token: this.env.vault.rootToken } }),
      decryptor: new AwsKms({ region: this.env.kms.region, endpoint: this.env.kms.endpoint, credentials: KMS_CREDENTIALS }),
      settings: { ...defaultKmsVaultSecretSettings, kms: { region: this.env.kms.region, endpoint: this.env.kms.endpoint, allowedKeyIds: [] } },
    });
    await registerServiceAccountController(operator, {
      namespace: this.appNamespace,
      settings: parseServiceAccountSettings({
        VAULT_AUTOPILOT_TARGET_VAULT: `${this.vaultNamespace}/vault`,
        VAULT_AUTOPILOT_KUBERNETES_AUTH_PATH: this.authPath,
      }),
    });
    await operator.start();
    await operator.waitForSync();
    this.operator = operator;
    return { vaultNamespace: this.vaultNamespace, appNamespace: this.appNamespace, otherNamespace: this.otherNamespace };
  }

  /**
   * The platform team's one-time setup: a `Vault` resource adopting the Vault,
   * with a Kubernetes auth method pointed at this kube-apiserver. Vault runs
   * outside the cluster here, so it reviews a login with the login's own JWT:
   * ServiceAccounts that log in need system:auth-delegator (in a cluster,
   * Vault's own ServiceAccount has it and no binding per app is needed).
   */
  async createVault(): Promise<{ vault: string; ready: string; authPath: string }> {
    await this.kube.core.createNamespacedSecret({
      namespace: this.vaultNamespace,
      body: { metadata: { name: 'vault-root-token', labels: tokenSecretLabels('vault') }, stringData: { token: this.env.vault.rootToken } },
    });
    await this.kube.raw.request({
      method: 'POST',
      path: resourcePath(API_GROUP, API_VERSION, 'vaults', this.vaultNamespace),
      body: {
        apiVersion: API_GROUP_VERSION,
        kind: 'Vault',
        metadata: { name: 'vault', namespace: this.vaultNamespace },
        spec: {
          external: { address: this.env.vault.address, auth: { method: 'token', tokenSecretRef: { name: 'vault-root-token', key: 'token' } } },
          // the platform team admits the service owners' namespace (by default a Vault serves only its own)
          selfService: { namespaces: { from: 'Selector', selector: { matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'In', values: [this.appNamespace] }] } } },
          externalConfig: {
            auth: [
              {
                path: this.authPath,
                type: 'kubernetes',
                config: { kubernetes_host: this.env.apiserverUrl, kubernetes_ca_cert: readFileSync(this.env.apiserverCaFile, 'utf8') },
              },
            ],
          },
        },
      },
    });
    const ready = await eventually(
      async () => {
        const vault = await this.kube.raw.request<{ status?: { conditions?: Array<{ type: string; status: string; message: string }> } }>({
          method: 'GET',
          path: resourcePath(API_GROUP, API_VERSION, 'vaults', this.vaultNamespace, 'vault'),
        });
        const condition = vault.status?.conditions?.find((c) => c.type === 'Ready');
        if (condition?.status !== 'True') throw new Error(`Vault not Ready: ${condition?.message ?? 'no status yet'}`);
        const mounts = await this.vaultRoot('GET', 'sys/auth');
        if (!mounts.json.data?.[`${this.authPath}/`]) throw new Error(`auth/${this.authPath} not mounted yet`);
        return condition.message;
      },
      { timeoutMs: 60_000, intervalMs: 250 },
    );
    return { vault: `${this.vaultNamespace}/vault`, ready, authPath: this.authPath };
  }

  /**
   * Another team's secret at the same ServiceAccount name in their namespace,
   * written straight into Vault (their own KMSVaultSecret would do the same).
   */
  async otherTeamSecret(value: string): Promise<{ vaultPath: string }> {
    const res = await this.vaultRoot('POST', `secret/data/${this.secretPath(this.otherNamespace)}`, { data: { password: value } });
    if (res.status >= 300) throw new Error(`writing secret/${this.secretPath(this.otherNamespace)}: HTTP ${res.status}`);
    return { vaultPath: `secret/${this.secretPath(this.otherNamespace)}` };
  }

  /** The service owner seals a value with KMS and commits a KMSVaultSecret at the ServiceAccount's path. */
  async sealSecret(plaintext = this.plaintext): Promise<{ resource: string; vaultPath: string; ciphertextBytes: number }> {
    const namespace = this.appNamespace;
    // bound to its namespace, as `seal --namespace` does
    const secretContext = { [NAMESPACE_CONTEXT_KEY]: namespace };
    const sealed = await this.kms.encrypt({ keyId: this.env.kms.keyId, plaintext: Buffer.from(plaintext), context: secretContext });
    const encryptedSecret = Buffer.from(sealed.ciphertext).toString('base64');
    const name = `${this.serviceAccount}-config`;
    await this.kube.raw.request({
      method: 'POST',
      path: resourcePath(API_GROUP, API_VERSION, KMS_VAULT_SECRET_PLURAL, namespace),
      body: {
        apiVersion: API_GROUP_VERSION,
        kind: 'KMSVaultSecret',
        metadata: { name, namespace },
        spec: { path: `secret/${this.secretPath(namespace)}`, kvSettings: { engineVersion: 'v2' }, secretContext, secrets: [{ key: 'password', encryptedSecret }] },
      },
    });
    await eventually(
      async () => {
        const res = await this.vaultRoot('GET', `secret/data/${this.secretPath(namespace)}`);
        if (res.status !== 200) throw new Error(`secret/${this.secretPath(namespace)} not in Vault yet (${res.status})`);
      },
      { timeoutMs: 60_000, intervalMs: 250 },
    );
    return { resource: `${namespace}/${name}`, vaultPath: `secret/${this.secretPath(namespace)}`, ciphertextBytes: sealed.ciphertext.length };
  }

  /** The service owner applies samples/serviceaccount.yaml (one annotation) in their namespace. */
  async annotateServiceAccount(): Promise<{ serviceAccount: string; annotations: Record<string, string>; role: Record<string, unknown>; policy: string }> {
    const sample = this.sample;
    const annotations = { ...sample.metadata!.annotations, 'vault.autopilot.dev/vault': `${this.vaultNamespace}/vault` };
    await this.kube.core.createNamespacedServiceAccount({
      namespace: this.appNamespace,
      body: { ...sample, metadata: { ...sample.metadata, namespace: this.appNamespace, annotations } },
    });
    // see createVault(): Vault reviews the login with the login's own JWT
    this.clusterRoleBinding = `vault-autopilot-e2e-${this.appNamespace}`;
    await this.kube.rbac.createClusterRoleBinding({
      body: {
        metadata: { name: this.clusterRoleBinding },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'system:auth-delegator' },
        subjects: [{ kind: 'ServiceAccount', name: this.serviceAccount, namespace: this.appNamespace }],
      },
    });
    const { role, policy } = await eventually(
      async () => {
        const roleRes = await this.vaultRoot('GET', `auth/${this.authPath}/role/${this.role}`);
        const policyRes = await this.vaultRoot('GET', `sys/policies/acl/${this.role}`);
        if (roleRes.status !== 200 || policyRes.status !== 200) throw new Error(`role ${roleRes.status}, policy ${policyRes.status}`);
        return { role: roleRes.json.data as Record<string, unknown>, policy: String(policyRes.json.data?.policy ?? '') };
      },
      { timeoutMs: 60_000, intervalMs: 250 },
    );
    return { serviceAccount: `${this.appNamespace}/${this.serviceAccount}`, annotations, role, policy };
  }

  /** A token from the real TokenRequest API (what the kubelet mounts into the pod). */
  async requestToken(): Promise<string> {
    const res = await this.kube.core.createNamespacedServiceAccountToken({
      namespace: this.appNamespace,
      name: this.serviceAccount,
      body: { spec: { audiences: [], expirationSeconds: 600 } },
    });
    const token = res.status?.token;
    if (!token) throw new Error('TokenRequest returned no token');
    this.secrets.push(token);
    return token;
  }

  /** Kubernetes auth login; Vault calls the apiserver's TokenReview. */
  async login(jwt: string): Promise<VaultAnswer & { token?: string; policies?: string[] }> {
    const res = await this.vault('POST', `auth/${this.authPath}/login`, { role: this.role, jwt });
    const token = res.json.auth?.client_token as string | undefined;
    if (token) this.secrets.push(token);
    return { ...res, ...(token ? { token, policies: res.json.auth?.token_policies as string[] } : {}) };
  }

  async readSecret(token: string, namespace = this.appNamespace): Promise<VaultAnswer & { password?: string }> {
    const res = await this.vault('GET', `secret/data/${this.secretPath(namespace)}`, undefined, token);
    const password = res.json.data?.data?.password as string | undefined;
    return { ...res, ...(password !== undefined ? { password } : {}) };
  }

  /** The ServiceAccount goes; waits until its role and policy left Vault. */
  async deleteServiceAccount(): Promise<{ roleStatus: number; policyStatus: number }> {
    await this.kube.core.deleteNamespacedServiceAccount({ namespace: this.appNamespace, name: this.serviceAccount });
    return eventually(
      async () => {
        const role = await this.vaultRoot('GET', `auth/${this.authPath}/role/${this.role}`);
        const policy = await this.vaultRoot('GET', `sys/policies/acl/${this.role}`);
        if (role.status !== 404 || policy.status !== 404) throw new Error(`role ${role.status}, policy ${policy.status}`);
        const gone = await this.serviceAccountGone();
        if (!gone) throw new Error('ServiceAccount still there');
        return { roleStatus: role.status, policyStatus: policy.status };
      },
      { timeoutMs: 60_000, intervalMs: 250 },
    );
  }

  /** Everything this flow created outside its namespaces; then the operator stops. */
  async tearDown(): Promise<void> {
    const kmsVaultSecret = this.appNamespace
      ? resourcePath(API_GROUP, API_VERSION, KMS_VAULT_SECRET_PLURAL, this.appNamespace, `${this.serviceAccount}-config`)
      : undefined;
    // let the KMSVaultSecret finalizer delete the Vault secret while the operator still runs
    if (kmsVaultSecret) await this.kube.raw.request({ method: 'DELETE', path: kmsVaultSecret }).catch(() => undefined);
    if (this.operator) {
      if (kmsVaultSecret) {
        await eventually(
          async () => {
            try {
              await this.kube.raw.request({ method: 'GET', path: kmsVaultSecret });
            } catch (err) {
              if (errorCode(err) === 404) return;
              throw err;
            }
            throw new Error('KMSVaultSecret still there');
          },
          { timeoutMs: 20_000 },
        ).catch(() => undefined);
      }
      await this.operator.stop();
    }
    if (this.otherNamespace) await this.vaultRoot('DELETE', `secret/metadata/${this.secretPath(this.otherNamespace)}`).catch(() => undefined);
    this.kms.destroy();
    if (this.clusterRoleBinding) await this.kube.rbac.deleteClusterRoleBinding({ name: this.clusterRoleBinding }).catch(() => undefined);
    await this.vaultRoot('DELETE', `sys/auth/${this.authPath}`).catch(() => undefined);
    if (this.appNamespace) await this.vaultRoot('DELETE', `sys/policies/acl/${this.role}`).catch(() => undefined);
  }

  /** Secrets found in the operator's logs (must be none). */
  leakedSecrets(): string[] {
    return this.secrets.filter((s) => this.logs.text().includes(s));
  }

  // ---------------------------------------------------------------- helpers

  private async serviceAccountGone(): Promise<boolean> {
    try {
      await this.kube.core.readNamespacedServiceAccount({ namespace: this.appNamespace, name: this.serviceAccount });
      return false;
    } catch (err) {
      if (errorCode(err) === 404) return true;
      throw err;
    }
  }

  vaultRoot(method: string, path: string, body?: unknown): Promise<VaultAnswer> {
    return this.vault(method, path, body, this.env.vault.rootToken);
  }

  async vault(method: string, path: string, body?: unknown, token?: string): Promise<VaultAnswer> {
    const res = await fetch(`${this.env.vault.address}/v1/${path}`, {
      method,
      headers: { ...(token ? { 'x-vault-token': token } : {}), 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    let json: Record<string, any> = {};
    try {
      json = text ? (JSON.parse(text) as Record<string, any>) : {};
    } catch {
      json = { raw: text };
    }
    return { status: res.status, json };
  }
}
