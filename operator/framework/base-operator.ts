// The @dot-i/k8s-operator base class with its rough edges replaced: it never
// reads the default kubeconfig, finalizer and status writes THROW on failure
// (the base logged and carried on), CRDs are created with our client.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import P, { type ResourceEvent, type ResourceMeta } from '@dot-i/k8s-operator';
import { loadYaml, type KubeConfig, type KubernetesObject, type V1CustomResourceDefinition } from '@kubernetes/client-node';
import { errorCode, makeKubeClients, PATCH, resourcePath, type KubeClients } from './kube.js';
import type { Logger } from './logger.js';
import type { ResourceRef } from './watch.js';

const Operator = P.default;
export const { ResourceMetaImpl } = P;

// The base constructor loads the DEFAULT kubeconfig (with our client-node
// 1.x: package.json's `overrides` replaces the 0.20 it asks for, which would
// bring request/tough-cookie/form-data 2.x into the image) and throws if that
// is missing or odd. We never use that config: point it at an inert file
// while the base constructor runs.
let inertKubeconfigPath: string | undefined;
function inertKubeconfig(): string {
  if (!inertKubeconfigPath) {
    const dir = mkdtempSync(join(tmpdir(), 'vault-autopilot-'));
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
    inertKubeconfigPath = join(dir, 'inert-kubeconfig.yaml');
    writeFileSync(
      inertKubeconfigPath,
      [
        'apiVersion: v1',
        'kind: Config',
        'clusters: [{name: unused, cluster: {server: "https://127.0.0.1:1"}}]',
        'users: [{name: unused, user: {}}]',
        'contexts: [{name: unused, context: {cluster: unused, user: unused}}]',
        'current-context: unused',
        '',
      ].join('\n'),
    );
  }
  return inertKubeconfigPath;
}
let savedKubeconfigEnv: string | undefined;
function beforeBaseConstructor<V>(value: V): V {
  savedKubeconfigEnv = process.env.KUBECONFIG;
  process.env.KUBECONFIG = inertKubeconfig();
  return value;
}
function afterBaseConstructor(): void {
  if (savedKubeconfigEnv === undefined) delete process.env.KUBECONFIG;
  else process.env.KUBECONFIG = savedKubeconfigEnv;
}

export abstract class HardenedBaseOperator extends Operator {
  readonly kube: KubeClients;
  override readonly logger: Logger;
  readonly #resourceRefs = new Map<string, ResourceRef>();

  constructor(options: { kubeConfig: KubeConfig; logger: Logger }) {
    super(beforeBaseConstructor(options.logger));
    afterBaseConstructor();
    this.logger = options.logger;
    this.kube = makeKubeClients(options.kubeConfig);
  }

  /** Like the base method, but a failed patch throws and the event object is not mutated. */
  protected override async handleResourceFinalizer(
    event: ResourceEvent,
    finalizer: string,
    deleteAction: (event: ResourceEvent) => Promise<void>,
  ): Promise<boolean> {
    const metadata = event.object.metadata;
    if (!metadata || (event.type !== 'ADDED' && event.type !== 'MODIFIED')) return false;
    const finalizers = metadata.finalizers ?? [];
    if (!metadata.deletionTimestamp && !finalizers.includes(finalizer)) {
      await this.setResourceFinalizers(event.meta, [...finalizers, finalizer]);
      return true;
    }
    if (metadata.deletionTimestamp) {
      if (finalizers.includes(finalizer)) {
        await deleteAction(event);
        await this.setResourceFinalizers(
          event.meta,
          finalizers.filter((f) => f !== finalizer),
        );
      }
      return true;
    }
    return false;
  }

  /**
   * Sets metadata.finalizers with a merge patch that carries the resourceVersion
   * we read, so a concurrent change is a 409 (thrown) instead of a lost finalizer.
   */
  protected override async setResourceFinalizers(meta: ResourceMeta, finalizers: string[]): Promise<void> {
    const ref = this.#refFor(meta.id);
    await this.kube.raw.request({
      method: 'PATCH',
      path: resourcePath(ref.group, ref.version, ref.plural, meta.namespace, meta.name),
      body: { metadata: { finalizers, resourceVersion: meta.resourceVersion } },
      contentType: PATCH.merge,
      timeoutMs: 30_000,
    });
  }

  /** PUT /status; throws on failure (the base returned null). */
  protected override async setResourceStatus(meta: ResourceMeta, status: unknown): Promise<ResourceMeta | null> {
    return this.#statusRequest('PUT', meta, status);
  }

  /** Merge-patches /status; throws on failure (the base returned null). */
  protected override async patchResourceStatus(meta: ResourceMeta, status: unknown): Promise<ResourceMeta | null> {
    return this.#statusRequest('PATCH', meta, status);
  }

  /** Creates the CRD in the file (an existing one is left alone, as the base did), with our client. */
  protected override async registerCustomResourceDefinition(crdFile: string) {
    const crd = loadYaml<V1CustomResourceDefinition>(readFileSync(crdFile, 'utf8'));
    if (!crd.apiVersion?.startsWith('apiextensions.k8s.io/')) throw new Error(`${crdFile}: not a CustomResourceDefinition`);
    try {
      await this.kube.apiextensions.createCustomResourceDefinition({ body: crd });
      this.logger.info('registered custom resource definition', { name: crd.metadata?.name });
    } catch (err) {
      if (errorCode(err) !== 409) throw err;
    }
    return { group: crd.spec.group, versions: crd.spec.versions as never, plural: crd.spec.names.plural };
  }

  protected override getCustomResourceApiUri(group: string, version: string, plural: string, namespace?: string): string {
    const server = this.kube.kubeConfig.getCurrentCluster()?.server ?? '';
    return server.replace(/\/$/, '') + resourcePath(group, version, plural, namespace);
  }

  async #statusRequest(method: 'PUT' | 'PATCH', meta: ResourceMeta, status: unknown): Promise<ResourceMeta> {
    const ref = this.#refFor(meta.id);
    const body: Record<string, unknown> = {
      apiVersion: meta.apiVersion,
      kind: meta.kind,
      metadata: { name: meta.name, namespace: meta.namespace, resourceVersion: meta.resourceVersion },
      status,
    };
    const updated = await this.kube.raw.request<KubernetesObject>({
      method,
      path: resourcePath(ref.group, ref.version, ref.plural, meta.namespace, meta.name, 'status'),
      body,
      contentType: method === 'PATCH' ? PATCH.merge : 'application/json',
      timeoutMs: 30_000,
    });
    return ResourceMetaImpl.createWithId(meta.id, updated as never);
  }

  /** Remembers group/version/plural of a watched or registered resource (the base passes only its id). */
  protected rememberRef(ref: ResourceRef): void {
    const apiVersion = ref.group ? `${ref.group}/${ref.version}` : ref.version;
    this.#resourceRefs.set(`${ref.plural}.${apiVersion}`, ref);
  }

  #refFor(id: string): ResourceRef {
    const ref = this.#resourceRefs.get(id);
    if (!ref) throw new Error(`unknown resource ${id}: watch or register it first`);
    return ref;
  }
}
