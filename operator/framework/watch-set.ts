// One cache over several namespaces: an operator confined to a list of
// namespaces (install scope) cannot list or watch cluster-wide, so every
// watch becomes one ResilientWatch per namespace behind the same interface.
import type { KubernetesObject } from '@kubernetes/client-node';
import { ResilientWatch, type ResilientWatchOptions } from './watch.js';

/** What the operator needs of a watch, whether it spans one namespace, all, or a list. */
export interface ObjectWatch {
  readonly id: string;
  readonly synced: boolean;
  get(namespace: string | undefined, name: string): KubernetesObject | undefined;
  list(): KubernetesObject[];
  start(): void;
  stop(): Promise<void>;
  waitForSync(): Promise<void>;
}

/**
 * A watch over `namespaces` (pure fan-out: each namespace keeps its own
 * resume point, relist and backoff). Synced when every namespace has listed.
 */
export class NamespacedWatchSet implements ObjectWatch {
  readonly #watches = new Map<string, ResilientWatch>();

  constructor(options: Omit<ResilientWatchOptions, 'namespace'>, namespaces: readonly string[]) {
    if (!namespaces.length) throw new Error('NamespacedWatchSet needs at least one namespace');
    for (const namespace of new Set(namespaces)) this.#watches.set(namespace, new ResilientWatch({ ...options, namespace }));
  }

  get id(): string {
    const first = this.#watches.values().next().value as ResilientWatch;
    return `${first.id.replace(/ in .*$/, '')} in ${[...this.#watches.keys()].join(',')}`;
  }
  get synced(): boolean {
    return [...this.#watches.values()].every((w) => w.synced);
  }
  get(namespace: string | undefined, name: string): KubernetesObject | undefined {
    return namespace === undefined ? undefined : this.#watches.get(namespace)?.get(namespace, name);
  }
  list(): KubernetesObject[] {
    return [...this.#watches.values()].flatMap((w) => w.list());
  }
  start(): void {
    for (const w of this.#watches.values()) w.start();
  }
  async stop(): Promise<void> {
    await Promise.all([...this.#watches.values()].map((w) => w.stop()));
  }
  async waitForSync(): Promise<void> {
    await Promise.all([...this.#watches.values()].map((w) => w.waitForSync()));
  }
}

/** One watch for `options`: itself when it names a namespace or no scope is set, else one per scoped namespace. */
export function scopedWatch(options: ResilientWatchOptions, scope: readonly string[] | undefined): ObjectWatch {
  if (options.namespace || !scope?.length) return new ResilientWatch(options);
  const { namespace: _all, ...rest } = options;
  return new NamespacedWatchSet(rest, scope);
}
