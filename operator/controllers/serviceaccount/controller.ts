// The ServiceAccount auto-configuration controller (I/O only): gather the
// `Vault` resources a ServiceAccount touches, plan with the pure desired.ts,
// hand the change to a per-resource batcher that server-side applies every
// ServiceAccount's compact entry (spec.serviceAccountRoles) under one field
// manager, report through Events. It never talks to Vault: the Vault
// controller renders the roles and policies from those entries and applies them.
import type { KubernetesObject, V1ServiceAccount } from '@kubernetes/client-node';
import { API_GROUP, API_VERSION, FINALIZER, serviceAccountPolicyName, serviceAccountRoleName } from '../../api/naming.js';
import { SERVICE_ACCOUNT_FIELD_MANAGER, ServiceAccountAnnotation, ServiceAccountReason } from '../../api/serviceaccount.js';
import { VAULT_PLURAL } from '../../api/vault.js';
import { type AutopilotOperator, errorCode, errorMessage, type KubeClients, PATCH, type ReconcileContext, ReportedFailure, resourcePath } from '../../framework/index.js';
import { CapReachedError, EntryBatcher, EntryConflictError, VaultFullError } from './entry-batcher.js';
import { VaultWaiters } from '../vault-waiters.js';
import { orphanedEntries, removalEventMessages } from './sweep.js';
import { headerOf } from './compact.js';
import {
  appliedVault,
  targetVault,
  annotationName,
  mentionsAutoConfigure,
  planServiceAccount,
  removalTargets,
  vaultsToRead,
  decideIntent,
  type EntryChangeAt,
  type ServiceAccountPlan,
  type VaultResourceLike,
} from './desired.js';
import { formatVaultRef, type ServiceAccountSettings, type VaultRef } from './settings.js';
import { inWatchScope } from '../../settings.js';
import { needsNamespaceLabels } from './self-service.js';

/** The part of the framework's ReconcileContext this controller uses (without waitOutsideSlot: the batch is awaited holding the slot). */
export type ServiceAccountReconcileContext = Pick<ReconcileContext<V1ServiceAccount>, 'log' | 'kube' | 'event'> & Partial<Pick<ReconcileContext<V1ServiceAccount>, 'waitOutsideSlot'>>;

/** What the framework's operator offers this controller. */
export type ServiceAccountControllerHost = Pick<AutopilotOperator, 'registerController' | 'enqueue' | 'cached'>;

export { VaultWaiters };

const SERVICE_ACCOUNT_KIND = 'ServiceAccount';
/**
 * Queue kind of the second watch, on `Vault` resources (the Vault controller
 * owns the kind `Vault`): the Vault-side cleanup of deleted ServiceAccounts
 * (sweep.ts), and waking the ServiceAccounts that wait for that Vault.
 */
const VAULT_SWEEP_KIND = 'VaultServiceAccountSweep';
/** Without a finalizer, deletions while the operator was down are found by this resync at the latest. */
const DEFAULT_SWEEP_PERIOD_MS = 5 * 60_000;

export interface ServiceAccountControllerDeps {
  settings: ServiceAccountSettings;
  /** Watch only this namespace (default: all). */
  namespace?: string;
  /**
   * Install scope (the operator's watched namespaces): ServiceAccounts
   * elsewhere are invisible, so their entries in a Vault are never swept.
   */
  watchNamespaces?: readonly string[];
  resyncPeriodMs?: number;
}

export async function registerServiceAccountController(
  operator: ServiceAccountControllerHost,
  deps: ServiceAccountControllerDeps,
): Promise<void> {
  const { settings } = deps;
  const waiters = new VaultWaiters();
  const batcher = new EntryBatcher(SERVICE_ACCOUNT_FIELD_MANAGER, headerOf(settings));
  // the sweep's watch on `vaults` (below) is the cache: undefined until it has listed
  const cachedVault = (ref: VaultRef): VaultResourceLike | null | undefined => {
    const { synced, obj } = operator.cached(VAULT_SWEEP_KIND, ref.namespace, ref.name);
    return synced ? ((obj as VaultResourceLike | undefined) ?? null) : undefined;
  };
  const placed = new PlacedEntries();
  await operator.registerController<V1ServiceAccount>({
    kind: SERVICE_ACCOUNT_KIND,
    group: '',
    version: 'v1',
    plural: 'serviceaccounts',
    ...(deps.namespace ? { namespace: deps.namespace } : {}),
    ...(deps.resyncPeriodMs ? { resyncPeriodMs: deps.resyncPeriodMs } : {}),
    // No finalizer on ServiceAccounts: with one, every annotated ServiceAccount
    // (and its namespace) would hang in Terminating once the operator is
    // uninstalled. A deleted ServiceAccount's entries are removed by the sweep
    // below (at once while the operator runs; on start for deletions while it
    // was down). The finalizer an earlier version added is still honoured and
    // released. A ServiceAccount whose annotation was taken off stays in scope
    // while it still carries the applied-vault record: reconcile() removes its
    // entries, then the record.
    finalizer: FINALIZER,
    addFinalizer: false,
    filter: (sa) => mentionsAutoConfigure(sa, settings),
    reconcile: (sa, ctx) => reconcileServiceAccount(sa, ctx, settings, { manageFinalizer: true, waiters, batcher, cachedVault, placed }),
    finalize: (sa, ctx) => reconcileServiceAccount(sa, ctx, settings, { manageFinalizer: false, waiters, batcher, cachedVault, placed }),
    onDeleted: (sa) => {
      placed.forget(sa);
      for (const ref of vaultsOf(sa, settings)) operator.enqueue(VAULT_SWEEP_KIND, ref.namespace, ref.name);
    },
  });
  const inScope = (namespace: string) => (!deps.namespace || namespace === deps.namespace) && inWatchScope(deps.watchNamespaces, namespace);
  await operator.registerController<KubernetesObject>({
    kind: VAULT_SWEEP_KIND,
    group: API_GROUP,
    version: API_VERSION,
    plural: VAULT_PLURAL,
    resyncPeriodMs: deps.resyncPeriodMs ?? DEFAULT_SWEEP_PERIOD_MS,
    reconcile: async (vault, ctx) => {
      // A ServiceAccount waiting for a missing `Vault` is retried the moment that
      // resource appears, not at its next backoff (this controller's watch on
      // `vaults` serves both; one cache of these large objects, not two).
      for (const key of waiters.waitingFor(objectRef(vault))) {
        const [namespace, name] = key.split('/');
        operator.enqueue(SERVICE_ACCOUNT_KIND, namespace, name!);
      }
      // an absent ServiceAccount means "deleted" only once the cache has listed
      if (!operator.cached(SERVICE_ACCOUNT_KIND, undefined, '').synced) return { requeueAfterMs: 1000 };
      const lookup = (namespace: string, name: string) => operator.cached(SERVICE_ACCOUNT_KIND, namespace, name).obj as V1ServiceAccount | undefined;
      const target = { namespace: vault.metadata?.namespace ?? '', name: vault.metadata?.name ?? '' };
      // all at once: the batcher carries them in one apply (one by one, 1,000 deleted ServiceAccounts were 1,000 applies)
      const orphans = orphanedEntries(vault as VaultResourceLike, batcher.manager, settings, lookup, inScope);
      const outcomes = await Promise.allSettled(orphans.map((change) => submitChange(ctx, batcher, { target, change })));
      const removed: string[] = [];
      for (const [i, outcome] of outcomes.entries()) {
        if (outcome.status === 'rejected') continue;
        const change = orphans[i]!;
        const message = `removed role and policy ${change.roleName} of ServiceAccount ${change.serviceAccount}, which no longer asks for them here`;
        ctx.log.info(message, { reason: ServiceAccountReason.Removed });
        removed.push(message);
      }
      for (const message of removalEventMessages(removed)) await ctx.event('Normal', ServiceAccountReason.Removed, message);
      const failed = outcomes.find((o): o is PromiseRejectedResult => o.status === 'rejected');
      if (failed) throw failed.reason;
    },
  });
}

/**
 * Where this process last put each ServiceAccount's entries. A pass reads the
 * ServiceAccount from the watch cache, which can still hold the copy from
 * before the previous pass wrote its applied-vault record (a retarget right
 * after an apply, on a busy apiserver): without this, that pass would not know
 * where the entries are and leave them in the old Vault for good. Steady state:
 * the same as the target, so it costs no read.
 */
class PlacedEntries {
  readonly #at = new Map<string, VaultRef>();
  get(sa: V1ServiceAccount): VaultRef | undefined {
    return this.#at.get(sa.metadata?.uid ?? '');
  }
  record(sa: V1ServiceAccount, plan: ServiceAccountPlan): void {
    const uid = sa.metadata?.uid ?? '';
    const { intent } = plan;
    if (intent.kind === 'configure' && !plan.targetMissing && !plan.selfServiceRefused) this.#at.set(uid, intent.target);
    else if (!plan.targetMissing) this.#at.delete(uid);
  }
  forget(sa: V1ServiceAccount): void {
    this.#at.delete(sa.metadata?.uid ?? '');
  }
}

/** The `Vault` resources a ServiceAccount's entries may be in: where it recorded them, and where it points. */
function vaultsOf(sa: V1ServiceAccount, settings: ServiceAccountSettings): VaultRef[] {
  const refs = new Map<string, VaultRef>();
  const applied = appliedVault(sa, settings);
  if (applied) refs.set(formatVaultRef(applied), applied);
  const target = targetVault(sa, settings);
  if ('ref' in target) refs.set(formatVaultRef(target.ref), target.ref);
  return [...refs.values()];
}

function objectRef(obj: KubernetesObject): string {
  return `${obj.metadata?.namespace ?? ''}/${obj.metadata?.name ?? ''}`;
}

/** A failed step: Warning Event + log, then throw so the framework retries with backoff. */
async function fail(ctx: ServiceAccountReconcileContext, reason: string, message: string): Promise<never> {
  await ctx.event('Warning', reason, message);
  ctx.log.warn(message, { reason });
  throw new ReportedFailure(reason, message);
}

/**
 * One pass for one ServiceAccount. `manageFinalizer: false` when the framework
 * owns the finalizer step (finalize() of a deleted or out-of-scope object).
 */
export async function reconcileServiceAccount(
  sa: V1ServiceAccount,
  ctx: ServiceAccountReconcileContext,
  settings: ServiceAccountSettings,
  opts: { manageFinalizer: boolean; waiters?: VaultWaiters; batcher?: EntryBatcher; cachedVault?: (ref: VaultRef) => VaultResourceLike | null | undefined; placed?: PlacedEntries } = { manageFinalizer: true },
): Promise<void> {
  const intent = decideIntent(sa, settings);
  const lastApplied = opts.placed?.get(sa);
  const batcher = opts.batcher ?? new EntryBatcher(SERVICE_ACCOUNT_FIELD_MANAGER, headerOf(settings));
  const self = objectRef(sa);
  const planFrom = async (read: (ref: VaultRef) => Promise<VaultResourceLike | null | undefined>): Promise<ServiceAccountPlan | undefined> => {
    // gather
    const vaults = new Map<string, VaultResourceLike | null>();
    for (const ref of vaultsToRead(sa, intent, settings, FINALIZER, lastApplied)) {
      const vault = await read(ref);
      if (vault === undefined) return undefined;
      vaults.set(formatVaultRef(ref), vault);
    }
    // compute
    const labels = await namespaceLabelsFor(ctx, sa, intent, vaults);
    return planServiceAccount(sa, settings, vaults, FINALIZER, batcher.manager, labels, lastApplied);
  };
  // Planned on the watch's copies first (1,000 ServiceAccounts each reading the ~100 KB resource
  // was most of a restart and half of a burst): in sync -> nothing to do; only its entry to add
  // -> the batcher computes the apply from a fresh copy anyway. Anything else is planned again
  // on fresh copies, so a cache that lags never decides a removal or a refusal.
  // Entries that may be elsewhere than the target (a retarget) are planned on fresh copies too: a
  // lagging copy of the old Vault would not show them, and they would stay there.
  const elsewhere = removalTargets(sa, intent, settings, FINALIZER, lastApplied).length > 0;
  const cachedVault = elsewhere ? undefined : opts.cachedVault;
  const cached = cachedVault ? await planFrom(async (ref) => cachedVault(ref)) : undefined;
  if (cached && isQuiet(cached)) {
    opts.waiters?.settle(self);
    ctx.log.debug('in sync (by the watched copy of the Vault resource)');
    opts.placed?.record(sa, cached);
    return;
  }
  if (cached && opts.manageFinalizer && isQuiet({ ...cached, apply: undefined, appliedVault: undefined })) {
    opts.waiters?.settle(self);
    await execute(sa, cached, ctx, settings, batcher, true);
    opts.placed?.record(sa, cached);
    return;
  }
  const plan = (await planFrom((ref) => readVault(ctx, ref)))!;
  if (plan.targetMissing) opts.waiters?.wait(formatVaultRef(plan.targetMissing), self);
  else opts.waiters?.settle(self);
  // apply
  await execute(sa, opts.manageFinalizer ? plan : { ...plan, finalizer: undefined, appliedVault: undefined }, ctx, settings, batcher);
  opts.placed?.record(sa, plan);
}

/** A plan that does nothing: no write, no Event (execute() would not act on it). */
function isQuiet(plan: ServiceAccountPlan): boolean {
  const problem = plan.intent.kind === 'unconfigure' && plan.intent.problem;
  return !problem && !plan.selfServiceRefused && !plan.databaseRefused && plan.removals.length === 0 && !plan.apply && !plan.targetMissing && plan.appliedVault === undefined && plan.finalizer === undefined;
}

async function execute(
  sa: V1ServiceAccount,
  plan: ServiceAccountPlan,
  ctx: ServiceAccountReconcileContext,
  settings: ServiceAccountSettings,
  batcher: EntryBatcher,
  /** planned on the cache: an apply the fresh copy already had is not reported (no second Event) */
  fromCache = false,
): Promise<void> {
  const { intent } = plan;
  if (intent.kind === 'unconfigure' && intent.problem) {
    await ctx.event('Warning', intent.problem.reason, intent.problem.message);
  }
  if (plan.selfServiceRefused) {
    ctx.log.warn(plan.selfServiceRefused.message, { reason: plan.selfServiceRefused.reason });
    await ctx.event('Warning', plan.selfServiceRefused.reason, plan.selfServiceRefused.message);
  }
  if (plan.databaseRefused) {
    ctx.log.warn(plan.databaseRefused.message, { reason: plan.databaseRefused.reason });
    await ctx.event('Warning', plan.databaseRefused.reason, plan.databaseRefused.message);
  }
  const current = sa;

  const entryNames = describeEntries(sa, settings);
  for (const removal of plan.removals) {
    await submitChange(ctx, batcher, removal);
    const message = `removed ${entryNames} from Vault ${formatVaultRef(removal.target)}`;
    ctx.log.info(message, { reason: ServiceAccountReason.Removed });
    await ctx.event('Normal', ServiceAccountReason.Removed, message);
  }

  if (plan.targetMissing) {
    await fail(
      ctx,
      ServiceAccountReason.TargetVaultNotFound,
      `Vault ${formatVaultRef(plan.targetMissing)} does not exist (or is being deleted); ${entryNames} will be written once it exists. ` +
        `Name another one with the ${annotationName(settings, ServiceAccountAnnotation.Vault)} annotation (<namespace>/<name>).`,
    );
  }
  if (plan.apply && !(await submitChange(ctx, batcher, plan.apply)) && fromCache) {
    ctx.log.debug(`${entryNames} already in Vault ${formatVaultRef(plan.apply.target)}`);
  } else if (plan.apply) {
    const database = plan.apply.change.entries?.database;
    const dbNote = database ? ` with database role ${database.role.name} on ${database.mount}/${database.role.db_name} (credentials at ${database.mount}/creds/${database.role.name})` : '';
    const message = `wrote ${entryNames}${dbNote} into Vault ${formatVaultRef(plan.apply.target)}; the Vault controller renders and applies them`;
    ctx.log.info(message, { reason: ServiceAccountReason.Configured });
    await ctx.event('Normal', ServiceAccountReason.Configured, message);
  }

  const releaseFinalizer = plan.finalizer === 'remove';
  if (plan.appliedVault !== undefined || releaseFinalizer) {
    await patchMetadata(ctx.kube, current, {
      ...(releaseFinalizer ? { finalizer: 'remove' as const } : {}),
      ...(plan.appliedVault !== undefined
        ? { annotations: { [annotationName(settings, ServiceAccountAnnotation.AppliedVault)]: plan.appliedVault } }
        : {}),
    });
  }
}

function describeEntries(sa: V1ServiceAccount, settings: ServiceAccountSettings): string {
  const ns = sa.metadata?.namespace ?? '';
  const name = sa.metadata?.name ?? '';
  return `Kubernetes-auth role ${serviceAccountRoleName(ns, name)} (auth/${settings.kubernetesAuthPath}) and policy ${serviceAccountPolicyName(ns, name)}`;
}

/** The namespace's labels, read only when the target Vault admits namespaces by label selector. */
async function namespaceLabelsFor(
  ctx: ServiceAccountReconcileContext,
  sa: V1ServiceAccount,
  intent: ReturnType<typeof decideIntent>,
  vaults: ReadonlyMap<string, VaultResourceLike | null>,
): Promise<Record<string, string>> {
  if (intent.kind !== 'configure') return {};
  const vault = vaults.get(formatVaultRef(intent.target));
  const namespace = sa.metadata?.namespace ?? '';
  if (!vault || !needsNamespaceLabels(vault)) return {};
  try {
    return (await ctx.kube.core.readNamespace({ name: namespace })).metadata?.labels ?? {};
  } catch (err) {
    return fail(ctx, ServiceAccountReason.ApplyFailed, `cannot read the labels of namespace ${namespace} (Vault ${formatVaultRef(intent.target)} selects namespaces by label): ${errorMessage(err)}`);
  }
}

async function readVault(ctx: ServiceAccountReconcileContext, ref: VaultRef): Promise<VaultResourceLike | null> {
  try {
    return await ctx.kube.raw.request<VaultResourceLike>({
      method: 'GET',
      path: resourcePath(API_GROUP, API_VERSION, VAULT_PLURAL, ref.namespace, ref.name),
      timeoutMs: 30_000,
    });
  } catch (err) {
    if (errorCode(err) === 404) return null;
    return fail(ctx, ServiceAccountReason.ApplyFailed, `cannot read Vault ${formatVaultRef(ref)}: ${errorMessage(err)}`);
  }
}

/**
 * Hands one change to the batcher and turns what went wrong into the
 * failure path. A hand-written role or policy of the same name in
 * externalConfig is a conflict the user must resolve, never taken over.
 */
async function submitChange(ctx: ServiceAccountReconcileContext, batcher: EntryBatcher, at: EntryChangeAt): Promise<boolean> {
  const ref = formatVaultRef(at.target);
  try {
    const applied = batcher.submit(ctx.kube, at.target, at.change);
    // Awaited outside the reconcile's queue slot: holding it, a batch carried at most
    // `concurrency` (8) entries, ~125 applies of the ~100 KB resource for 1,000 ServiceAccounts.
    return await (ctx.waitOutsideSlot ? ctx.waitOutsideSlot(applied) : applied);
  } catch (err) {
    const code = errorCode(err);
    if (err instanceof VaultFullError) await fail(ctx, ServiceAccountReason.VaultFull, err.message);
    if (err instanceof CapReachedError) await fail(ctx, ServiceAccountReason.SelfServiceRefused, err.message);
    const conflicts = err instanceof EntryConflictError ? err.fields : conflictFields(err);
    if (conflicts.length > 0) {
      await fail(
        ctx,
        ServiceAccountReason.ApplyConflict,
        `Vault ${ref} already has entries written by someone else at ${conflicts.join(', ')}; ` +
          'remove or rename that hand-written entry so this ServiceAccount can own its role and policy',
      );
    }
    if (code === 404 || (code === 409 && /uid mismatch/i.test(errorMessage(err)))) {
      await fail(ctx, ServiceAccountReason.TargetVaultNotFound, `Vault ${ref} was deleted or replaced while being updated; retrying`);
    }
    return fail(ctx, ServiceAccountReason.ApplyFailed, `cannot update Vault ${ref}: ${errorMessage(err)}`);
  }
}

function conflictFields(err: unknown): string[] {
  const causes = (err as { body?: { details?: { causes?: Array<{ reason?: string; field?: string }> } } }).body?.details?.causes;
  return (causes ?? []).filter((c) => c.reason === 'FieldManagerConflict' && c.field).map((c) => c.field!);
}

/**
 * Merge patch of the ServiceAccount's finalizers/annotations. A finalizer
 * change replaces the whole list, so it is guarded by the resourceVersion (a
 * concurrent change -> 409 -> retry with a fresh copy). The applied-vault
 * record alone is not: it states where the entries just went, true whatever
 * else changed meanwhile, and a 409 there would lose it when the
 * auto-configure annotation was taken off in between — the ServiceAccount would
 * leave the controller's scope with its entries still in the Vault resource.
 */
async function patchMetadata(
  kube: KubeClients,
  sa: V1ServiceAccount,
  change: { finalizer?: 'remove'; annotations?: Record<string, string | null> },
): Promise<V1ServiceAccount> {
  const meta = sa.metadata ?? {};
  const metadata: Record<string, unknown> = {};
  const finalizers = meta.finalizers ?? [];
  if (change.finalizer === 'remove' && finalizers.includes(FINALIZER)) {
    metadata['finalizers'] = finalizers.filter((f) => f !== FINALIZER);
    metadata['resourceVersion'] = meta.resourceVersion;
  }
  const annotationsChange = Object.entries(change.annotations ?? {}).filter(([key, value]) => (meta.annotations?.[key] ?? null) !== value);
  if (annotationsChange.length > 0) metadata['annotations'] = Object.fromEntries(annotationsChange);
  if (!metadata['finalizers'] && !metadata['annotations']) return sa;
  try {
    return await kube.raw.request<V1ServiceAccount>({
      method: 'PATCH',
      path: resourcePath('', 'v1', 'serviceaccounts', meta.namespace, meta.name),
      body: { metadata },
      contentType: PATCH.merge,
      timeoutMs: 30_000,
    });
  } catch (err) {
    // already gone: releasing its finalizer is moot
    if (errorCode(err) === 404 && change.finalizer === 'remove') return sa;
    throw err;
  }
}
