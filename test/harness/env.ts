// TestEnv: what a test file gets — connection details of the servers plus
// per-file isolation (own namespaces, own Vault mounts), cleaned up after.
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { ApiextensionsV1Api, CoreV1Api, KubeConfig, loadAllYaml, type V1CustomResourceDefinition } from '@kubernetes/client-node';
import { eventually, WITHIN } from './eventually.js';
import { httpRequest } from './http.js';
import { purgeNamespaces } from './kube-cleanup.js';
import { note } from './server.js';
import { REPO_ROOT } from './versions.js';

export interface KmsInfo {
  endpoint: string;
  region: string;
  keyId: string;
  keyAlias: string;
  otherKeyId: string;
  otherKeyAlias: string;
}

/** Plain connection details; this is what the shared-servers JSON file holds. */
export interface ConnectionInfo {
  kubeconfigPath: string;
  apiserverUrl: string;
  /** PEM bundle that verifies the apiserver's serving certificate (e.g. for Vault's Kubernetes auth). */
  apiserverCaFile: string;
  vault: { address: string; rootToken: string };
  kms: KmsInfo;
}

export type KvMountType = 'kv-v1' | 'kv-v2';

export interface TestEnv extends ConnectionInfo {
  kubeConfig(): KubeConfig;
  /** Creates a namespace `<prefix>-<random>` for this test file (purged afterwards). */
  namespace(prefix: string): Promise<string>;
  /** Enables a KV mount with a unique path in the Vault and returns that path (disabled afterwards). */
  vaultMount(type: KvMountType): Promise<string>;
  /** Creates or replaces the CRDs in these YAML files (repo-relative or absolute) and waits until each is Established. */
  applyCrds(...files: string[]): Promise<void>;
}

/** Pure: a DNS-label name from a free-form prefix plus a random suffix. */
export function uniqueName(prefix: string, suffix: string, maxLength = 63): string {
  const clean = prefix.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '') || 'test';
  return `${clean.slice(0, maxLength - suffix.length - 1).replace(/-+$/, '')}-${suffix}`;
}

function suffix(): string {
  return randomBytes(3).toString('hex');
}

function errorCode(error: unknown): number | undefined {
  return typeof error === 'object' && error !== null && 'code' in error ? Number((error as { code: unknown }).code) : undefined;
}

export function readConnectionInfo(file: string): ConnectionInfo {
  return JSON.parse(readFileSync(file, 'utf8')) as ConnectionInfo;
}

export function writeConnectionInfo(file: string, info: ConnectionInfo): void {
  writeFileSync(file, `${JSON.stringify(info, null, 2)}\n`, { mode: 0o600 });
}

export class HarnessEnv implements TestEnv {
  readonly kubeconfigPath: string;
  readonly apiserverUrl: string;
  readonly apiserverCaFile: string;
  readonly vault: { address: string; rootToken: string };
  readonly kms: KmsInfo;
  private readonly namespaces: string[] = [];
  private readonly mounts: string[] = [];

  constructor(info: ConnectionInfo) {
    this.kubeconfigPath = info.kubeconfigPath;
    this.apiserverUrl = info.apiserverUrl;
    this.apiserverCaFile = info.apiserverCaFile;
    this.vault = { ...info.vault };
    this.kms = { ...info.kms };
  }

  info(): ConnectionInfo {
    const { kubeconfigPath, apiserverUrl, apiserverCaFile, vault, kms } = this;
    return { kubeconfigPath, apiserverUrl, apiserverCaFile, vault, kms };
  }

  kubeConfig(): KubeConfig {
    if (!this.kubeconfigPath) throw new Error('no kube-apiserver in this environment (startServers({ apiserver: false }))');
    const kc = new KubeConfig();
    kc.loadFromFile(this.kubeconfigPath);
    return kc;
  }

  async namespace(prefix: string): Promise<string> {
    const name = uniqueName(prefix, suffix());
    const core = this.kubeConfig().makeApiClient(CoreV1Api);
    await core.createNamespace({
      body: { metadata: { name, labels: { 'app.kubernetes.io/created-by': 'vault-autopilot-test-harness' } } },
    });
    this.namespaces.push(name);
    return name;
  }

  async vaultMount(type: KvMountType): Promise<string> {
    if (!this.vault.rootToken) throw new Error('vaultMount needs a dev-mode Vault (this one has no root token)');
    const path = uniqueName(`test-${type}`, suffix());
    const version = type === 'kv-v2' ? '2' : '1';
    const res = await this.vaultRequest('POST', `sys/mounts/${path}`, { type: 'kv', options: { version } });
    if (res.status !== 204 && res.status !== 200) throw new Error(`enabling ${type} at ${path}: ${res.status} ${res.body}`);
    this.mounts.push(path);
    if (type === 'kv-v2') {
      // A new KV v2 mount answers 'upgrading' briefly before it takes writes.
      await eventually(
        async () => {
          const config = await this.vaultRequest('GET', `${path}/config`);
          if (config.status !== 200) throw new Error(`${path}/config: ${config.status}`);
        },
        { ...WITHIN.server, intervalMs: 100, message: `KV v2 mount ${path} not ready` },
      );
    }
    return path;
  }

  async applyCrds(...files: string[]): Promise<void> {
    const api = this.kubeConfig().makeApiClient(ApiextensionsV1Api);
    const crds: V1CustomResourceDefinition[] = [];
    for (const file of files) {
      const text = readFileSync(isAbsolute(file) ? file : resolve(REPO_ROOT, file), 'utf8');
      // client-node's loader maps YAML names (x-kubernetes-list-type, ...) to its model's; a plain
      // js-yaml object loses every x-kubernetes-* extension when the typed client serialises it
      for (const doc of loadAllYaml(text)) {
        if (doc === null || doc === undefined) continue;
        const crd = doc as V1CustomResourceDefinition;
        if (crd.kind !== 'CustomResourceDefinition') throw new Error(`${file}: expected CustomResourceDefinition, found ${String(crd.kind)}`);
        crds.push(crd);
      }
    }
    for (const crd of crds) {
      const name = crd.metadata!.name!;
      try {
        await api.createCustomResourceDefinition({ body: crd });
      } catch (error) {
        if (errorCode(error) !== 409) throw error;
        const current = await api.readCustomResourceDefinition({ name });
        await api.replaceCustomResourceDefinition({
          name,
          body: { ...crd, metadata: { ...crd.metadata, resourceVersion: current.metadata?.resourceVersion } },
        });
      }
    }
    for (const crd of crds) {
      const name = crd.metadata!.name!;
      await eventually(
        async () => {
          const current = await api.readCustomResourceDefinition({ name });
          const established = current.status?.conditions?.find((c) => c.type === 'Established');
          if (established?.status !== 'True') throw new Error(`${name} not Established yet`);
        },
        { ...WITHIN.server, intervalMs: 100, message: `CRD ${name}` },
      );
    }
  }

  /** Best effort: purges this file's namespaces and disables its Vault mounts. */
  async cleanup(): Promise<void> {
    const problems: string[] = [];
    if (this.namespaces.length > 0) {
      try {
        problems.push(...(await purgeNamespaces(this.kubeConfig(), this.namespaces.splice(0))));
      } catch (error) {
        problems.push(String(error));
      }
    }
    for (const mount of this.mounts.splice(0)) {
      try {
        await this.vaultRequest('DELETE', `sys/mounts/${mount}`);
      } catch (error) {
        problems.push(`disable ${mount}: ${String(error)}`);
      }
    }
    if (problems.length > 0) note(`clean-up incomplete (ignored): ${problems.join('; ')}`);
  }

  private vaultRequest(method: string, path: string, body?: unknown) {
    return httpRequest(`${this.vault.address}/v1/${path}`, {
      method,
      headers: { 'x-vault-token': this.vault.rootToken, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
      timeoutMs: 10_000,
    });
  }
}
