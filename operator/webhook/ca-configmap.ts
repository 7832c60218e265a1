// The Vault CA as a ConfigMap in the namespaces whose pods mount it. Created
// on the first admission that needs it (never on a dry run) and kept equal to
// the Vault's CA by a periodic sync, so a CA rotation reaches running pods
// (kubelet refreshes ConfigMap volumes).

import type { CoreV1Api, V1ConfigMap } from '@kubernetes/client-node';
import { errorCode } from '../framework/index.js';
import type { VaultRef } from './annotations.js';
import { INJECTED_NAMES } from './mutate.js';
import type { VaultResolver } from './vault-target.js';

export const CA_CONFIGMAP = {
  label: 'vault.autopilot.dev/vault-ca',
  sourceAnnotation: 'vault.autopilot.dev/vault-ca-source',
} as const;

/** One ConfigMap per target Vault per namespace; a namespace name cannot contain ".", so this is unique. */
export function caConfigMapName(vault: VaultRef): string {
  return `vault-ca.${vault.namespace}.${vault.name}`;
}

/** Pure: the ConfigMap that should exist. */
export function desiredCaConfigMap(namespace: string, vault: VaultRef, caPem: string): V1ConfigMap {
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: {
      name: caConfigMapName(vault),
      namespace,
      labels: { 'app.kubernetes.io/managed-by': 'vault-autopilot', [CA_CONFIGMAP.label]: 'true' },
      annotations: { [CA_CONFIGMAP.sourceAnnotation]: `${vault.namespace}/${vault.name}` },
    },
    data: { [INJECTED_NAMES.caKey]: caPem },
  };
}

export interface CaLog {
  info(message: string, meta?: Record<string, unknown>): unknown;
  warn(message: string, meta?: Record<string, unknown>): unknown;
}

export class CaConfigMaps {
  readonly #core: CoreV1Api;
  readonly #resolve: VaultResolver;
  readonly #log: CaLog;
  /** namespace/name -> CA last written or seen, to skip the API on the hot path. */
  readonly #known = new Map<string, string>();
  #timer: NodeJS.Timeout | undefined;

  /** Install scope: list in these namespaces only (undefined = across all). */
  readonly #namespaces: readonly string[] | undefined;

  constructor(opts: { core: CoreV1Api; resolve: VaultResolver; log: CaLog; namespaces?: readonly string[] }) {
    this.#namespaces = opts.namespaces;
    this.#core = opts.core;
    this.#resolve = opts.resolve;
    this.#log = opts.log;
  }

  /** Makes sure `namespace` has the CA of `vault`; returns the ConfigMap name. */
  async ensure(namespace: string, vault: VaultRef, caPem: string): Promise<string> {
    const desired = desiredCaConfigMap(namespace, vault, caPem);
    const name = desired.metadata!.name!;
    const key = `${namespace}/${name}`;
    if (this.#known.get(key) === caPem) return name;
    let current: V1ConfigMap | undefined;
    try {
      current = await this.#core.readNamespacedConfigMap({ name, namespace });
    } catch (err) {
      if (errorCode(err) !== 404) throw err;
    }
    if (!current) {
      try {
        await this.#core.createNamespacedConfigMap({ namespace, body: desired });
        this.#log.info('Vault CA ConfigMap created', { namespace, name, vault: `${vault.namespace}/${vault.name}` });
      } catch (err) {
        if (errorCode(err) !== 409) throw err; // created concurrently: fine
      }
    } else if (current.data?.[INJECTED_NAMES.caKey] !== caPem) {
      await this.#core.replaceNamespacedConfigMap({
        name,
        namespace,
        body: { ...desired, metadata: { ...desired.metadata, resourceVersion: current.metadata?.resourceVersion } },
      });
      this.#log.info('Vault CA ConfigMap updated', { namespace, name });
    }
    this.#known.set(key, caPem);
    return name;
  }

  /** Brings every ConfigMap this operator made up to date with its Vault's current CA. */
  async syncAll(): Promise<{ checked: number; updated: number }> {
    const labelSelector = `${CA_CONFIGMAP.label}=true`;
    const list = this.#namespaces
      ? { items: (await Promise.all(this.#namespaces.map((namespace) => this.#core.listNamespacedConfigMap({ namespace, labelSelector })))).flatMap((l) => l.items) }
      : await this.#core.listConfigMapForAllNamespaces({ labelSelector });
    let updated = 0;
    for (const cm of list.items) {
      const source = cm.metadata?.annotations?.[CA_CONFIGMAP.sourceAnnotation];
      const [vaultNs, vaultName] = source?.split('/') ?? [];
      if (!vaultNs || !vaultName) continue;
      const resolved = await this.#resolve({ namespace: vaultNs, name: vaultName });
      if (!resolved.found || !resolved.caPem) continue; // the Vault is gone or has no CA: leave the last good one
      if (cm.data?.[INJECTED_NAMES.caKey] === resolved.caPem) {
        this.#known.set(`${cm.metadata!.namespace}/${cm.metadata!.name}`, resolved.caPem);
        continue;
      }
      this.#known.delete(`${cm.metadata!.namespace}/${cm.metadata!.name}`);
      await this.ensure(cm.metadata!.namespace!, { namespace: vaultNs, name: vaultName }, resolved.caPem);
      updated++;
    }
    return { checked: list.items.length, updated };
  }

  /** Periodic sync; `active` (default always) keeps it to the leader when replicas run side by side. */
  start(intervalMs: number, active: () => boolean = () => true): void {
    if (this.#timer) return;
    const run = (): void => {
      if (!active()) return;
      this.syncAll().then(
        (r) => {
          if (r.updated > 0) this.#log.info('Vault CA ConfigMaps synced', r);
        },
        (err: unknown) => this.#log.warn('Vault CA ConfigMap sync failed; will retry', { error: (err as Error).message }),
      );
    };
    this.#timer = setInterval(run, intervalMs);
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
  }
}
