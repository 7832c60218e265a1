// What a controller registers with AutopilotOperator (operator.ts) and what
// its reconcile is handed; the queue key of an object; which watch events can
// change what a reconcile does.
import type { KubernetesObject } from '@kubernetes/client-node';
import type { Clock } from './clock.js';
import type { EventType } from './events.js';
import type { KubeClients } from './kube.js';
import type { Logger } from './logger.js';
import type { ResourceRef, WatchEventType } from './watch.js';

export interface ReconcileResult {
  requeueAfterMs?: number;
}

export interface ReconcileContext<T extends KubernetesObject> {
  log: Logger;
  kube: KubeClients;
  clock: Clock;
  /** Records a core/v1 Event on the object being reconciled. Never throws. */
  event(type: EventType, reason: string, message: string): Promise<void>;
  /** Merge-patches the /status subresource; makes no request when nothing would change. */
  patchStatus(status: Record<string, unknown>): Promise<void>;
  /** The latest copy of the object (updated by patchStatus). */
  current(): T;
  /**
   * Waits for `work` without holding one of the operator's concurrency slots
   * (the next object's reconcile gets it meanwhile), then waits for a slot
   * again, ahead of objects not yet started. The object stays in flight: it is
   * never reconciled twice at once, and an event meanwhile still brings it
   * back afterwards. For waits other reconciles feed (a batched write they all
   * join): holding the slot would cap such a batch at the concurrency.
   */
  waitOutsideSlot<T2>(work: Promise<T2>): Promise<T2>;
}

export interface ControllerSpec<T extends KubernetesObject> {
  kind: string;
  group: string;
  version: string;
  plural: string;
  namespace?: string;
  /** Added automatically before the first reconcile; finalize() runs on deletion, then it is removed. */
  finalizer?: string;
  /**
   * false: never add the finalizer; objects that already carry it (from an
   * earlier version) are still finalized and released. For objects whose
   * deletion must never wait for the operator (ServiceAccounts: their
   * namespace would hang once the operator is uninstalled).
   */
  addFinalizer?: boolean;
  /**
   * Finalizers of the operator this one replaces (objects migrated from it
   * still carry them, and nothing would ever remove them). Removed as soon as
   * ours is in place (finalize() does the cleanup from then on), and on
   * deletion after finalize() ran.
   */
  replacesFinalizers?: string[];
  /** The object is gone (the watch saw it deleted). No retry, no context: enqueue follow-up work here. */
  onDeleted?(obj: T): void;
  /**
   * Objects it rejects are not reconciled. An object that carries the finalizer
   * but no longer passes the filter has left our care: finalize() runs and the
   * finalizer is removed (e.g. the opt-in annotation was taken off).
   */
  filter?(obj: T): boolean;
  reconcile(obj: T, ctx: ReconcileContext<T>): Promise<ReconcileResult | void>;
  finalize?(obj: T, ctx: ReconcileContext<T>): Promise<void>;
  resyncPeriodMs?: number;
}

/** A key of a registered controller's work queue: which object to reconcile. */
export interface ObjectKey {
  kind: string;
  namespace?: string;
  name: string;
}

/**
 * A watch on objects a controller does not own but depends on (e.g. the pods
 * of a StatefulSet it created): every change, deletion included, enqueues the
 * owners `map` names. The cache is not exposed; read what you need in reconcile.
 */
export interface RelatedWatchSpec<T extends KubernetesObject> extends ResourceRef {
  labelSelector?: string;
  map(obj: T, type: WatchEventType): ObjectKey[];
}

/**
 * A watch on a secondary kind whose objects belong to objects of a registered
 * controller (e.g. PartialKMSVaultSecrets included by KMSVaultSecrets): every
 * change enqueues only the owners `owns` picks from that controller's cache,
 * in the object's namespace; no request is made.
 */
export interface OwnedWatchSpec<S extends KubernetesObject, O extends KubernetesObject> extends ResourceRef {
  labelSelector?: string;
  /** The registered controller whose objects own the watched ones. */
  ownerKind: string;
  owns(owner: O, obj: S): boolean;
}

/** The keys of the `owners` (of kind `ownerKind`) in `obj`'s namespace that own it. Pure. */
export function ownersOf<S extends KubernetesObject, O extends KubernetesObject>(owners: readonly O[], ownerKind: string, owns: (owner: O, obj: S) => boolean, obj: S): ObjectKey[] {
  const namespace = obj.metadata?.namespace;
  return owners.filter((o) => o.metadata?.namespace === namespace && owns(o, obj)).map((o) => ({ kind: ownerKind, namespace, name: o.metadata?.name ?? '' }));
}

export function queueKey(kind: string, namespace: string | undefined, name: string): string {
  return `${kind}/${namespace ?? ''}/${name}`;
}
export function parseQueueKey(key: string): { kind: string; namespace: string | undefined; name: string } {
  const [kind = '', namespace = '', name = ''] = key.split('/');
  return { kind, namespace: namespace || undefined, name };
}

const sameJson = (a: unknown, b: unknown) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);

/**
 * Whether a MODIFIED event can change what a reconcile does. Status-only
 * writes (our own, mostly) bump resourceVersion but not generation: skipping
 * them keeps a controller from reconciling after each of its own status writes.
 */
export function isRelevantChange(oldObj: KubernetesObject | undefined, newObj: KubernetesObject): boolean {
  if (!oldObj) return true;
  const o = oldObj.metadata ?? {};
  const n = newObj.metadata ?? {};
  if (n.generation === undefined || o.generation === undefined) return true;
  return (
    o.generation !== n.generation ||
    !sameJson(o.labels, n.labels) ||
    !sameJson(o.annotations, n.annotations) ||
    !sameJson(o.finalizers, n.finalizers) ||
    !sameJson(o.ownerReferences, n.ownerReferences) ||
    !sameJson(o.deletionTimestamp, n.deletionTimestamp)
  );
}

/**
 * What processing an object comes to, finalizers-wise: `finalize` (deleted, or
 * out of the filter's scope while still carrying our or a replaced finalizer;
 * then `finalizers` is the list without them), `adopt` (put ours in place and
 * drop replaced ones: `finalizers`), `reconcile`, or `skip`. Pure.
 */
export function finalizerStep<T extends KubernetesObject>(
  spec: Pick<ControllerSpec<T>, 'finalizer' | 'addFinalizer' | 'replacesFinalizers' | 'filter'>,
  obj: T,
): { action: 'skip' | 'reconcile' } | { action: 'finalize' | 'adopt'; finalizers: string[]; replaced: string[] } {
  const current = obj.metadata?.finalizers ?? [];
  const hasFinalizer = !!spec.finalizer && current.includes(spec.finalizer);
  const replaced = current.filter((f) => spec.replacesFinalizers?.includes(f));
  const others = current.filter((f) => f !== spec.finalizer && !replaced.includes(f));
  if (obj.metadata?.deletionTimestamp || (spec.filter && !spec.filter(obj))) {
    return hasFinalizer || replaced.length ? { action: 'finalize', finalizers: others, replaced } : { action: 'skip' };
  }
  if (spec.finalizer && (!hasFinalizer || replaced.length) && (hasFinalizer || spec.addFinalizer !== false)) {
    return { action: 'adopt', finalizers: [...others, spec.finalizer], replaced };
  }
  return { action: 'reconcile' };
}
