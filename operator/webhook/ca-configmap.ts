// The Vault CA as a ConfigMap in the namespaces whose pods mount it. Created
// on the first admission that needs it (never on a dry run) and kept equal to
// the Vault's CA by a periodic sync, so a CA rotation reaches running pods
// (kubelet refreshes ConfigMap volumes). Only a ConfigMap the operator made
// (its label and source annotation) is ever replaced: a same-named one of
// somebody else is left alone and the pod is refused with a message.

import type { CoreV1Api, V1ConfigMap } from '@kubernetes/client-node';
import { errorCode } from '../framework/index.js';
import type { VaultRef } from './annotations.js';
import { INJECTED_NAMES } from './mutate.js';
import { admitsNamespace, needsNamespaceLabels } from '../api/self-service.js';
import type { NamespaceLabels, VaultResolver } from './vault-target.js';

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

/** A same-named ConfigMap the operator did not make is in the way (the message says what to do). */
export class CaConfigMapNotOwned extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CaConfigMapNotOwned';
  }
}

/** Pure: did the operator make this ConfigMap for this Vault? Its label and source annotation say so. */
export function ownsCaConfigMap(cm: V1ConfigMap, vault: VaultRef): boolean {
  return cm.metadata?.labels?.[CA_CONFIGMAP.label] === 'true' && cm.metadata?.annotations?.[CA_CONFIGMAP.sourceAnnotation] === `${vault.namespace}/${vault.name}`;
}

export type CaConfigMapPlan = { action: 'create' } | { action: 'keep' } | { action: 'replace' } | { action: 'refuse'; message: string };

/** Pure: what to do about the ConfigMap `current` (undefined = absent) so it holds `caPem`. */
export function planCaConfigMap(current: V1ConfigMap | undefined, namespace: string, vault: VaultRef, caPem: string): CaConfigMapPlan {
  if (!current) return { action: 'create' };
  if (!ownsCaConfigMap(current, vault)) {
    const name = caConfigMapName(vault);
    return {
      action: 'refuse',
      message:
        `ConfigMap ${namespace}/${name} exists but was not made by vault-autopilot for Vault ${vault.namespace}/${vault.name} ` +
        `(it lacks label ${CA_CONFIGMAP.label}=true and annotation ${CA_CONFIGMAP.sourceAnnotation}=${vault.namespace}/${vault.name}): ` +
        `the operator does not replace it, so the pod cannot get the Vault CA. Rename or delete that ConfigMap, then create the pod again.`,
    };
  }
  return current.data?.[INJECTED_NAMES.caKey] === caPem ? { action: 'keep' } : { action: 'replace' };
}

export interface CaLog {
  debug(message: string, meta?: Record<string, unknown>): unknown;
  info(message: string, meta?: Record<string, unknown>): unknown;
  warn(message: string, meta?: Record<string, unknown>): unknown;
}

export class CaConfigMaps {
  readonly #core: CoreV1Api;
  readonly #resolve: VaultResolver;
  readonly #log: CaLog;
  /** namespace/name -> CA last written or seen, to skip the API on the hot path. */
  readonly #known = new Map<string, string>();

  /** Install scope: list in these namespaces only (undefined = across all). */
  readonly #namespaces: readonly string[] | undefined;
  readonly #namespaceLabels: NamespaceLabels;

  constructor(opts: { core: CoreV1Api; resolve: VaultResolver; namespaceLabels: NamespaceLabels; log: CaLog; namespaces?: readonly string[] }) {
    this.#namespaces = opts.namespaces;
    this.#namespaceLabels = opts.namespaceLabels;
    this.#core = opts.core;
    this.#resolve = opts.resolve;
    this.#log = opts.log;
  }

  /**
   * Makes sure `namespace` has the CA of `vault`; returns the ConfigMap name.
   * Throws CaConfigMapNotOwned when a ConfigMap of that name is somebody else's.
   * `dryRun`: only reads and decides (a server-side dry run has no side effects).
   */
  async ensure(namespace: string, vault: VaultRef, caPem: string, opts: { dryRun?: boolean } = {}): Promise<string> {
    const desired = desiredCaConfigMap(namespace, vault, caPem);
    const name = desired.metadata!.name!;
    const key = `${namespace}/${name}`;
    if (this.#known.get(key) === caPem) return name;
    // a create that loses a race reads again: the winner may be another replica (ours) or not
    for (let attempt = 0; ; attempt++) {
      let current: V1ConfigMap | undefined;
      try {
        current = await this.#core.readNamespacedConfigMap({ name, namespace });
      } catch (err) {
        if (errorCode(err) !== 404) throw err;
      }
      const plan = planCaConfigMap(current, namespace, vault, caPem);
      if (plan.action === 'refuse') {
        this.#known.delete(key);
        this.#log.warn('Vault CA ConfigMap not replaced: not made by the operator', { namespace, name, vault: `${vault.namespace}/${vault.name}` });
        throw new CaConfigMapNotOwned(plan.message);
      }
      if (opts.dryRun) return name;
      if (plan.action === 'create') {
        try {
          await this.#core.createNamespacedConfigMap({ namespace, body: desired });
          this.#log.info('Vault CA ConfigMap created', { namespace, name, vault: `${vault.namespace}/${vault.name}` });
        } catch (err) {
          if (errorCode(err) === 409 && attempt === 0) continue;
          throw err;
        }
      } else if (plan.action === 'replace') {
        // resourceVersion: a ConfigMap swapped for somebody else's since the read is not overwritten (409)
        await this.#core.replaceNamespacedConfigMap({
          name,
          namespace,
          body: { ...desired, metadata: { ...desired.metadata, resourceVersion: current!.metadata?.resourceVersion } },
        });
        this.#log.info('Vault CA ConfigMap updated', { namespace, name });
      }
      this.#known.set(key, caPem);
      return name;
    }
  }

  /**
   * Remembers what the CA ConfigMaps the operator made hold (one list, no
   * write): after a start, a pod in a namespace that has its CA already
   * costs no ConfigMap read. Only a ConfigMap that is ours by label, source
   * annotation and name counts, exactly what `ensure` would accept on a read.
   */
  async load(): Promise<number> {
    let loaded = 0;
    for (const cm of await this.#list()) {
      const [vaultNs, vaultName] = cm.metadata?.annotations?.[CA_CONFIGMAP.sourceAnnotation]?.split('/') ?? [];
      const ca = cm.data?.[INJECTED_NAMES.caKey];
      if (!vaultNs || !vaultName || ca === undefined) continue;
      const vault = { namespace: vaultNs, name: vaultName };
      if (cm.metadata?.name !== caConfigMapName(vault) || !ownsCaConfigMap(cm, vault)) continue;
      this.#known.set(`${cm.metadata.namespace}/${cm.metadata.name}`, ca);
      loaded++;
    }
    return loaded;
  }

  async #list(): Promise<V1ConfigMap[]> {
    const labelSelector = `${CA_CONFIGMAP.label}=true`;
    if (!this.#namespaces) return (await this.#core.listConfigMapForAllNamespaces({ labelSelector })).items;
    return (await Promise.all(this.#namespaces.map((namespace) => this.#core.listNamespacedConfigMap({ namespace, labelSelector })))).flatMap((l) => l.items);
  }

  /**
   * Brings every ConfigMap this operator made up to date with its Vault's
   * current CA, while that Vault still serves the ConfigMap's namespace (a
   * label copied onto a ConfigMap by hand does not pull in another Vault's CA).
   */
  async syncAll(): Promise<{ checked: number; updated: number; refused: number }> {
    const configMaps = await this.#list();
    let updated = 0;
    let refused = 0;
    for (const cm of configMaps) {
      const source = cm.metadata?.annotations?.[CA_CONFIGMAP.sourceAnnotation];
      const [vaultNs, vaultName] = source?.split('/') ?? [];
      if (!vaultNs || !vaultName || cm.metadata?.name !== caConfigMapName({ namespace: vaultNs, name: vaultName })) continue;
      const resolved = await this.#resolve({ namespace: vaultNs, name: vaultName });
      if (!resolved.found || !resolved.caPem || resolved.untrusted) continue; // the Vault is gone, has no CA, or is not trusted: leave the last good one
      const namespace = cm.metadata.namespace!;
      const labels = needsNamespaceLabels(resolved.vault) ? await this.#namespaceLabels(namespace) : {};
      if (!admitsNamespace(resolved.vault, namespace, labels)) {
        refused++;
        this.#log.debug('Vault CA ConfigMap not synced: its Vault does not serve this namespace', { namespace, name: cm.metadata.name, vault: source });
        continue;
      }
      if (cm.data?.[INJECTED_NAMES.caKey] === resolved.caPem) {
        this.#known.set(`${cm.metadata!.namespace}/${cm.metadata!.name}`, resolved.caPem);
        continue;
      }
      this.#known.delete(`${cm.metadata!.namespace}/${cm.metadata!.name}`);
      await this.ensure(cm.metadata!.namespace!, { namespace: vaultNs, name: vaultName }, resolved.caPem);
      updated++;
    }
    return { checked: configMaps.length, updated, refused };
  }
}
