// AutopilotOperator: our hardening subclass of the @dot-i/k8s-operator Operator.
// Handlers stay "registered through the framework" (watchResource, finalizers,
// status), but every rough edge of the base class is replaced:
//  - watches: resilient list+watch (resume, bookmarks, 410 relist, backoff, never exit);
//  - events feed a keyed work queue (one reconcile per object, bounded concurrency, backoff);
//  - finalizer and status writes THROW on failure instead of logging and carrying on (base-operator.ts);
//  - Kubernetes Events, metrics, readiness, graceful shutdown, webhook registration.
import { hostname } from 'node:os';
import type { ResourceEvent } from '@dot-i/k8s-operator';
import type { KubernetesObject } from '@kubernetes/client-node';
import type { AdmissionHandler } from './admission.js';
import { DEFAULT_BACKOFF } from './backoff.js';
import { HardenedBaseOperator, ResourceMetaImpl } from './base-operator.js';
import { systemClock, type Clock, type TimerHandle } from './clock.js';
import {
  parseQueueKey,
  queueKey,
  isRelevantChange,
  finalizerStep,
  ownersOf,
  type ControllerSpec,
  type ReconcileContext,
  type OwnedWatchSpec,
  type ReconcileResult,
  type RelatedWatchSpec,
} from './controller-spec.js';
import { EventRecorder } from './events.js';
import { LeaderElector } from './leader-election.js';
import { errorMessage } from './logger.js';
import { metrics as defaultMetrics, type OperatorMetrics } from './metrics.js';
import { StatusWriter } from './status-writer.js';
import type { ResourceRef, WatchEventType } from './watch.js';
import { scopedWatch, type ObjectWatch } from './watch-set.js';
import { installSignalHandlers, operatorQueue, type AutopilotOperatorOptions } from './operator-queue.js';
import type { KeySlot, WorkQueue } from './work-queue.js';

export type { AutopilotOperatorOptions } from './operator-queue.js';
export { isRelevantChange, type ControllerSpec, type ObjectKey, type OwnedWatchSpec, type ReconcileContext, type ReconcileResult, type RelatedWatchSpec } from './controller-spec.js';

/** Queue kind of the periodic tasks (every()); no controller may take it. */
const TASK_KIND = 'PeriodicTask';

interface Controller {
  spec: ControllerSpec<KubernetesObject>;
  watch: ObjectWatch;
  resyncTimer?: TimerHandle;
}

export class AutopilotOperator extends HardenedBaseOperator {
  readonly events: EventRecorder;
  readonly clock: Clock;
  readonly metrics: OperatorMetrics;
  readonly #options: AutopilotOperatorOptions;
  readonly #queue: WorkQueue;
  readonly #controllers = new Map<string, Controller>();
  readonly #plainWatches: ObjectWatch[] = [];
  readonly #tasks = new Map<string, { periodMs: number; run: () => Promise<void> }>();
  #started = false;
  #controllersStarted = false;
  #stopping: Promise<void> | undefined;
  #elector: LeaderElector | undefined;

  constructor(options: AutopilotOperatorOptions) {
    super(options);
    this.#options = options;
    this.clock = options.clock ?? systemClock;
    this.metrics = options.metrics ?? defaultMetrics;
    this.events = new EventRecorder({
      raw: this.kube.raw,
      component: options.component ?? 'vault-autopilot',
      clock: this.clock,
      logger: this.logger,
    });
    this.#queue = operatorQueue({
      concurrency: options.concurrency ?? 8,
      backoff: options.backoff ? { ...options.backoff, jitter: 0.1 } : DEFAULT_BACKOFF,
      clock: this.clock,
      logger: this.logger,
      metrics: this.metrics,
      kinds: () => this.#controllers.keys(),
      process: (key, slot) => this.#process(key, slot),
    });
  }

  /** Override to register controllers; the default registers nothing. */
  protected async init(): Promise<void> {}

  // ----- registration -----------------------------------------------------

  async registerController<T extends KubernetesObject>(spec: ControllerSpec<T>): Promise<void> {
    if (this.#controllers.has(spec.kind)) throw new Error(`a controller for ${spec.kind} is already registered`);
    if (spec.kind.includes('/') || spec.kind === TASK_KIND) throw new Error(`invalid kind ${spec.kind}`);
    const generic = spec as unknown as ControllerSpec<KubernetesObject>;
    const watch = this.#makeWatch(spec, (type, obj, previous) => this.#onControllerEvent(generic, type, obj, previous));
    this.#controllers.set(spec.kind, { spec: generic, watch });
    this.rememberRef(spec);
    if (this.#controllersStarted) this.#startController(this.#controllers.get(spec.kind) as Controller);
  }

  /** Watch related objects and reconcile their owners when they change (see RelatedWatchSpec). */
  async watchRelated<T extends KubernetesObject>(spec: RelatedWatchSpec<T>): Promise<void> {
    const { map, ...ref } = spec;
    this.rememberRef(ref);
    const watch = this.#makeWatch(ref, (type, obj) => {
      for (const key of map(obj as T, type)) this.#queue.add(queueKey(key.kind, key.namespace, key.name));
    });
    this.#plainWatches.push(watch);
    if (this.#controllersStarted) watch.start();
  }

  /** Watch a secondary kind and reconcile only the owners of a changed object (see OwnedWatchSpec). */
  async watchOwned<S extends KubernetesObject, O extends KubernetesObject>(spec: OwnedWatchSpec<S, O>): Promise<void> {
    const { ownerKind, owns, ...ref } = spec;
    await this.watchRelated<S>({
      ...ref,
      map: (obj) => {
        const owners = this.#controllers.get(ownerKind);
        if (!owners) throw new Error(`no controller for ${ownerKind}`);
        return ownersOf(owners.watch.list() as O[], ownerKind, owns, obj);
      },
    });
  }

  /**
   * A background loop on the framework's clock and work queue: `run` every
   * `periodMs` (the first after one period), only while this replica runs the
   * controllers; a failure is logged and retried with the queue's backoff.
   */
  every(name: string, periodMs: number, run: () => Promise<void>): void {
    if (this.#tasks.has(name)) throw new Error(`a task ${name} is already registered`);
    this.#tasks.set(name, { periodMs, run });
    if (this.#controllersStarted) this.#queue.addAfter(queueKey(TASK_KIND, undefined, name), periodMs);
  }

  registerMutatingWebhook(path: string, handler: AdmissionHandler): void {
    const host = this.#options.webhookServer;
    if (!host) throw new Error('registerMutatingWebhook needs the webhookServer option');
    host.register(path, handler);
  }

  /**
   * A registered controller's cached copy of an object (every object of its
   * kind is cached, filtered or not), and whether that cache has listed yet:
   * an absent object means "gone" only once `synced`.
   */
  cached(kind: string, namespace: string | undefined, name: string): { synced: boolean; obj: KubernetesObject | undefined } {
    const c = this.#controllers.get(kind);
    if (!c) throw new Error(`no controller for ${kind}`);
    return { synced: c.watch.synced, obj: c.watch.get(namespace, name) };
  }

  /** Reconcile an object soon (e.g. a Vault after one of its inputs changed). */
  enqueue(kind: string, namespace: string | undefined, name: string): void {
    this.#queue.add(queueKey(kind, namespace, name));
  }

  // ----- lifecycle --------------------------------------------------------

  override async start(): Promise<void> {
    if (this.#started) return;
    this.#started = true;
    await this.init();
    if (this.#options.webhookServer) await this.#options.webhookServer.start();
    const election = this.#options.leaderElection;
    if (!election) {
      this.#startControllers();
      return;
    }
    this.#elector = new LeaderElector({
      ...election,
      identity: election.identity ?? `${hostname()}-${process.pid}`,
      raw: this.kube.raw,
      clock: this.clock,
      logger: this.logger,
      onStartedLeading: () => this.#startControllers(),
      onStoppedLeading: () => {
        if (election.onLost) election.onLost();
        else void this.stop().finally(() => process.exit(1));
      },
    });
    this.#elector.start();
    this.logger.info('operator started, waiting for leadership', { lease: `${election.namespace}/${election.leaseName}`, identity: this.#elector.identity });
  }

  /** True when this replica runs the controllers (always, without leader election). */
  isLeader(): boolean {
    return this.#controllersStarted;
  }

  #startControllers(): void {
    if (this.#controllersStarted || this.#stopping) return;
    this.#controllersStarted = true;
    for (const c of this.#controllers.values()) this.#startController(c);
    for (const w of this.#plainWatches) w.start();
    for (const [name, task] of this.#tasks) this.#queue.addAfter(queueKey(TASK_KIND, undefined, name), task.periodMs);
    this.#queue.start();
    this.logger.info('operator started', { controllers: [...this.#controllers.keys()] });
  }

  /** Stops watches, lets reconciles in flight finish (bounded), stops the webhook server. */
  // eslint-disable-next-line @typescript-eslint/no-misused-promises -- the base declares stop(): void; ours resolves when stopped and every caller here awaits it
  override stop(): Promise<void> {
    this.#stopping ??= this.#stop();
    return this.#stopping;
  }

  async #stop(): Promise<void> {
    this.logger.info('operator stopping');
    for (const c of this.#controllers.values()) if (c.resyncTimer) this.clock.clearTimeout(c.resyncTimer);
    await Promise.all([...[...this.#controllers.values()].map((c) => c.watch.stop()), ...this.#plainWatches.map((w) => w.stop())]);
    const timeoutMs = this.#options.shutdownTimeoutMs ?? 30_000;
    const drained = await this.#queue.drain(timeoutMs);
    if (!drained) this.logger.warn('reconciles still running at shutdown timeout', { timeoutMs, inFlight: this.#queue.inFlight });
    // Release the lease only after our reconciles finished, so two leaders never overlap.
    if (this.#elector) await this.#elector.stop();
    if (this.#options.webhookServer) await this.#options.webhookServer.stop();
    this.kube.raw.close();
    this.logger.info('operator stopped', { drained });
  }

  /** SIGTERM/SIGINT -> stop() -> exit 0. Returns a function that removes the handlers. */
  installSignalHandlers(exit: (code: number) => void = (code) => process.exit(code)): () => void {
    return installSignalHandlers(() => this.stop(), this.logger, exit);
  }

  /** Every watch has completed its initial list, and the webhook server (if any) serves. */
  isReady(): boolean {
    if (!this.#started || this.#stopping) return false;
    const host = this.#options.webhookServer;
    // A standby replica is ready when it serves webhooks: it has nothing else to sync.
    if (this.#elector && !this.#controllersStarted) return host ? host.isServing() : true;
    for (const c of this.#controllers.values()) if (!c.watch.synced) return false;
    for (const w of this.#plainWatches) if (!w.synced) return false;
    return host ? host.isServing() : true;
  }

  /** Resolves once every watch has listed (tests, start-up logging). */
  async waitForSync(): Promise<void> {
    await Promise.all([...[...this.#controllers.values()].map((c) => c.watch.waitForSync()), ...this.#plainWatches.map((w) => w.waitForSync())]);
  }

  // ----- the base class's watch, hardened ---------------------------------

  /**
   * A resilient watch (see watch.ts). Handlers of one watch run one at a time,
   * in order; a handler that throws is logged, not swallowed.
   */
  protected override async watchResource(
    group: string,
    version: string,
    plural: string,
    onEvent: (event: ResourceEvent) => Promise<void>,
    namespace?: string,
  ): Promise<void> {
    let chain: Promise<void> = Promise.resolve();
    const ref: ResourceRef = { group, version, plural, namespace };
    this.rememberRef(ref);
    const watch = this.#makeWatch(ref, (type, obj) => {
      const event = { meta: ResourceMetaImpl.createWithPlural(plural, obj as never), object: obj, type } as unknown as ResourceEvent;
      chain = chain.then(() =>
        onEvent(event).catch((err: unknown) => {
          this.logger.error('watch handler failed', { watch: watch.id, error: errorMessage(err) });
        }),
      );
    });
    this.#plainWatches.push(watch);
    if (this.#controllersStarted) watch.start();
  }

  // ----- internals ---------------------------------------------------------

  #makeWatch(ref: ResourceRef & { labelSelector?: string }, onEvent: (type: WatchEventType, obj: KubernetesObject, previous: KubernetesObject | undefined) => void): ObjectWatch {
    return scopedWatch({
      ...ref,
      raw: this.kube.raw,
      clock: this.clock,
      logger: this.logger,
      backoff: this.#options.watchBackoff ? { ...this.#options.watchBackoff, jitter: 0.2 } : undefined,
      onEvent,
      onError: () => this.metrics.watchErrors.inc({ resource: `${ref.plural}.${ref.group || 'core'}` }),
    }, this.#options.namespaces);
  }

  /** The namespaces this operator watches, or undefined for all of them. */
  get watchedNamespaces(): readonly string[] | undefined {
    return this.#options.namespaces?.length ? this.#options.namespaces : undefined;
  }

  #startController(c: Controller): void {
    c.watch.start();
    const period = c.spec.resyncPeriodMs ?? this.#options.resyncPeriodMs ?? 10 * 60_000;
    const resync = () => {
      for (const obj of c.watch.list()) {
        if (this.#wantsObject(c.spec, obj)) this.#queue.add(queueKey(c.spec.kind, obj.metadata?.namespace, obj.metadata?.name ?? ''));
      }
      c.resyncTimer = this.clock.setTimeout(resync, period);
    };
    if (period > 0) c.resyncTimer = this.clock.setTimeout(resync, period);
  }

  #onControllerEvent(spec: ControllerSpec<KubernetesObject>, type: WatchEventType, obj: KubernetesObject, previous: KubernetesObject | undefined): void {
    const name = obj.metadata?.name;
    if (!name) return;
    const key = queueKey(spec.kind, obj.metadata?.namespace, name);
    if (type === 'DELETED') {
      this.#queue.forget(key);
      spec.onDeleted?.(obj);
      return;
    }
    if (type === 'MODIFIED' && !isRelevantChange(previous, obj)) return;
    if (!this.#wantsObject(spec, obj)) return;
    this.#queue.add(key);
  }

  #wantsObject(spec: ControllerSpec<KubernetesObject>, obj: KubernetesObject): boolean {
    if (spec.finalizer && obj.metadata?.finalizers?.includes(spec.finalizer)) return true;
    if (obj.metadata?.finalizers?.some((f) => spec.replacesFinalizers?.includes(f))) return true;
    return !spec.filter || spec.filter(obj);
  }

  async #process(key: string, slot: KeySlot): Promise<ReconcileResult | void> {
    const { kind, namespace, name } = parseQueueKey(key);
    const task = kind === TASK_KIND ? this.#tasks.get(name) : undefined;
    if (task) return task.run().then(() => ({ requeueAfterMs: task.periodMs }));
    const controller = this.#controllers.get(kind);
    if (!controller) return;
    const { spec, watch } = controller;
    // Always the LATEST object: events only say "look at this key".
    const obj = watch.get(namespace, name);
    if (!obj) return;
    const ctx = this.#context(spec, obj, slot);
    const step = finalizerStep(spec, obj);
    if (step.action === 'skip') return;
    if (step.action === 'finalize') {
      if (spec.finalize) await spec.finalize(obj, ctx);
      // Only after finalize() succeeded: a throw above leaves the finalizer for the retry.
      await this.#setFinalizers(spec, ctx.current(), step.finalizers);
      ctx.log.info('finalized', { finalizer: spec.finalizer, ...(step.replaced.length ? { replaced: step.replaced } : {}) });
      return;
    }
    if (step.action === 'adopt') {
      // Ours in place, the replaced operator's gone, in one write; the resulting MODIFIED event brings us back.
      await this.#setFinalizers(spec, obj, step.finalizers);
      if (step.replaced.length) ctx.log.info('replaced finalizers removed', { replaced: step.replaced });
      return;
    }
    return (await spec.reconcile(obj, ctx)) ?? undefined;
  }

  async #setFinalizers(spec: ControllerSpec<KubernetesObject>, obj: KubernetesObject, finalizers: string[]): Promise<void> {
    const meta = ResourceMetaImpl.createWithPlural(spec.plural, this.#withTypeMeta(spec, obj) as never);
    await this.setResourceFinalizers(meta, finalizers);
  }

  #withTypeMeta(spec: ControllerSpec<KubernetesObject>, obj: KubernetesObject): KubernetesObject {
    return {
      ...obj,
      apiVersion: obj.apiVersion ?? (spec.group ? `${spec.group}/${spec.version}` : spec.version),
      kind: obj.kind ?? spec.kind,
    };
  }

  #context(spec: ControllerSpec<KubernetesObject>, obj: KubernetesObject, slot: KeySlot): ReconcileContext<KubernetesObject> {
    const namespace = obj.metadata?.namespace;
    const name = obj.metadata?.name ?? '';
    const log = this.logger.child({ controller: spec.kind, namespace, name });
    const status = new StatusWriter(this.kube.raw, { group: spec.group, version: spec.version, plural: spec.plural, namespace, name }, obj);
    return {
      log,
      kube: this.kube,
      clock: this.clock,
      current: () => status.current(),
      event: (type, reason, message) => this.events.record(this.#withTypeMeta(spec, status.current()), type, reason, message),
      patchStatus: (patch) => status.patch(patch),
      waitOutsideSlot: (work) => slot.waitOutsideSlot(work),
    };
  }
}
