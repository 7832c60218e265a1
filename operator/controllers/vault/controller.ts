// The Vault lifecycle's orchestration: gather (gather.ts, managed-objects.ts)
// -> converge (converge.ts: init.ts, unseal, operator-access.ts,
// configure.ts) -> status. Decisions live in desired-objects.ts, tls.ts,
// configure.ts and operator/vault/*; the phases move data, this file runs
// them in order, writes the status once and finalizes.
import type { V1Pod } from '@kubernetes/client-node';
import { FINALIZER, API_GROUP, API_VERSION } from '../../api/naming.js';
import {
  VAULT_KIND,
  VAULT_PLURAL,
  VaultConditionType,
  VaultEventReason,
  VaultReason,
  type VaultCondition,
  type VaultResource,
  type VaultStatus,
} from '../../api/vault.js';
import { type AutopilotOperator, type ConditionUpdate, deepEqual, dropScopedSecrets, errorCode, errorMessage, ExpectedState, isNotFound, mergePatchFor, redactText, setConditions } from '../../framework/index.js';
import { VaultError } from '../../vault/client.js';
import { CA_NAMESPACES_FIELD, ignoredFields, ignoredFieldsEvent } from './bankvaults-report.js';
import { deleteCaCopies } from './ca-namespaces.js';
import { serviceRegistrationReport } from './service-registration.js';
import { VaultClientCache } from './clients.js';
import { converge } from './converge.js';
import { authDelegatorBindingName, serverConfig, INSTANCE_LABEL, MANAGED_POD_SELECTOR, unsealKeysSecretName } from './desired-objects.js';
import { gather } from './gather.js';
import { PendingKeys } from './pending-keys.js';
import { readSecret, redactionScope, type VaultClusterFacts, type VaultControllerDeps, type VaultPhaseContext, type VaultReconcileContext } from './phase-context.js';

export { FIELD_MANAGER } from './managed-objects.js';
export { type VaultControllerDeps, type VaultPhaseContext, type VaultReconcileContext } from './phase-context.js';

export class VaultController {
  private readonly clients: VaultClientCache;
  private readonly cluster: VaultClusterFacts = { serviceMonitorApiMissing: false };
  /** Unseal keys made by sys/init that are not yet in their Secret: never dropped. */
  private readonly pendingKeys = new PendingKeys();

  constructor(private readonly deps: VaultControllerDeps) {
    this.clients = new VaultClientCache();
  }

  // ---------------------------------------------------------------- reconcile

  async reconcile(vault: VaultResource, ctx: VaultReconcileContext): Promise<{ requeueAfterMs?: number } | void> {
    const generation = vault.metadata?.generation;
    const status: VaultStatus = { ...(vault.status ?? {}) };
    status.mode = vault.spec.external ? 'external' : 'managed';
    const updates: ConditionUpdate[] = [];
    const p: VaultPhaseContext = { vault, ctx, deps: this.deps, clients: this.clients.of(vault.metadata!.namespace!, vault.metadata!.name!), pendingKeys: this.pendingKeys, cluster: this.cluster, status, updates };
    let requeueAfterMs: number | undefined;
    let failure: unknown;
    try {
      const gathered = await gather(p);
      const result = await converge(p, gathered);
      requeueAfterMs = result.requeueAfterMs;
    } catch (err) {
      // Thrown, not returned, by the phases: the stops come from some fifteen
      // places up to three calls deep (gather, managed objects, init and its
      // preflight, unseal, operator access, configure's notAuthorized);
      // returning them would thread a union through each helper and caller.
      // This catch is the one place that turns them into conditions, and none
      // reaches the framework.
      if (err instanceof ExpectedState) {
        // an expected state (sealed, unreachable, no token): the status says it; debug only, it repeats
        ctx.log.debug('vault not converged', { reason: err.updates[0]?.reason, detail: err.message });
        updates.push(...err.updates);
        if (err.retry) requeueAfterMs = err.retryAfterMs ?? this.deps.settings.sealedRecheckMs;
      } else {
        failure = err;
        const reason = failureReason(err);
        updates.push({ type: VaultConditionType.Ready, status: 'False', reason, message: errorMessage(err) });
      }
    }
    // after the phases: what they found out (the ServiceMonitor API, caNamespaces) is reported this pass
    await reportIgnoredFields(vault, ctx, status, {
      serviceMonitorApiMissing: this.cluster.serviceMonitorApiMissing,
      caNamespacesRefused: p.caNamespacesRefused,
      serviceRegistration: serviceRegistrationReport(vault, p.serviceRegistrationUnbound, vault.spec.external ? undefined : serverConfig(vault)),
    });
    await this.writeStatus(vault, ctx, status, updates, generation);
    if (failure) {
      await ctx.event('Warning', VaultEventReason.ReconcileFailed, errorMessage(failure));
      throw failure; // the framework logs it and retries with backoff
    }
    return requeueAfterMs ? { requeueAfterMs } : undefined;
  }

  /** Conditions -> Ready, then one status write (skipped by the framework when nothing changed). */
  private async writeStatus(vault: VaultResource, ctx: VaultReconcileContext, status: VaultStatus, updates: ConditionUpdate[], generation: number | undefined): Promise<void> {
    const now = ctx.clock.now();
    // a message may quote what a Vault answered (which may echo a token or key it was sent): redacted as the Vault's Events are
    const scope = redactionScope(vault);
    const redacted = updates.map((u) => ({ ...u, message: redactText(u.message, scope) }));
    let conditions = setConditions(vault.status?.conditions, redacted.map((u) => ({ ...u, ...(generation !== undefined ? { observedGeneration: generation } : {}) })), now);
    if (!redacted.some((u) => u.type === VaultConditionType.Ready)) {
      conditions = setConditions(conditions, [{ ...readiness(conditions), ...(generation !== undefined ? { observedGeneration: generation } : {}) }], now);
    }
    const next: VaultStatus = { ...status, conditions: conditions as VaultCondition[] };
    if (generation !== undefined) next.observedGeneration = generation;
    if (deepEqual(JSON.parse(JSON.stringify(next)), vault.status ?? {})) return;
    await ctx.patchStatus(mergePatchFor(vault.status, next));
    vault.status = next;
  }

  // ---------------------------------------------------------------- finalize

  async finalize(vault: VaultResource, ctx: VaultReconcileContext): Promise<void> {
    const name = vault.metadata!.name!;
    const namespace = vault.metadata!.namespace!;
    if (!vault.spec.external) {
      try {
        await ctx.kube.rbac.deleteClusterRoleBinding({ name: authDelegatorBindingName(namespace, name) });
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
    }
    await deleteCaCopies(vault, ctx);
    const keysName = unsealKeysSecretName(vault);
    const keys = await readSecret(ctx, namespace, keysName);
    if (keys) {
      if (vault.spec.deleteUnsealKeysOnDelete) {
        await ctx.kube.core.deleteNamespacedSecret({ name: keysName, namespace });
        await ctx.event('Warning', VaultEventReason.UnsealKeysDeleted, `deleted Secret ${keysName} with the unseal keys (deleteUnsealKeysOnDelete is true)`);
      } else {
        await ctx.event('Warning', VaultEventReason.UnsealKeysKept, `kept Secret ${keysName} with the unseal keys; delete it by hand once the Vault data is gone`);
      }
    }
    this.clients.forget(namespace, name);
    dropScopedSecrets(redactionScope(vault));
  }

  /** Unseal keys not yet stored (for shutdown warnings and tests). */
  unstoredKeys(): number {
    return this.pendingKeys.size;
  }

  /** Whether clients of this Vault resource are kept (tests: a deleted Vault's are dropped). */
  hasClients(namespace: string, name: string): boolean {
    return this.clients.has(namespace, name);
  }
}

/** Bank-Vaults fields without effect: status.ignoredFields, and one Warning Event whenever that list changes. */
async function reportIgnoredFields(vault: VaultResource, ctx: VaultReconcileContext, status: VaultStatus, cluster: { serviceMonitorApiMissing: boolean; caNamespacesRefused?: string | null; serviceRegistration?: string | undefined }): Promise<void> {
  // caNamespaces not checked this pass (stopped earlier): the last word stands
  const caNamespacesRefused = cluster.caNamespacesRefused === undefined ? vault.status?.ignoredFields?.find((f) => f.field === CA_NAMESPACES_FIELD)?.reason : (cluster.caNamespacesRefused ?? undefined);
  const ignored = ignoredFields(vault.spec, vault.metadata?.namespace, { serviceMonitorApiMissing: cluster.serviceMonitorApiMissing, ...(caNamespacesRefused ? { caNamespacesRefused } : {}), ...(cluster.serviceRegistration ? { serviceRegistration: cluster.serviceRegistration } : {}) });
  const message = ignoredFieldsEvent(vault.status?.ignoredFields, ignored);
  if (ignored.length) status.ignoredFields = ignored;
  else delete status.ignoredFields;
  if (message) await ctx.event('Warning', VaultEventReason.FieldsIgnored, message);
}

/** Why an unexpected error stopped a reconcile. */
export function failureReason(err: unknown): VaultReason {
  if (err instanceof VaultError) {
    if (err.unreachable) return VaultReason.VaultUnreachable;
    if (err.status === 401 || err.status === 403) return VaultReason.NotAuthorized;
    return VaultReason.VaultRequestFailed;
  }
  return errorCode(err) !== undefined ? VaultReason.KubernetesError : VaultReason.NotReady;
}

/** Ready follows the other three conditions; the first one not True explains why. */
export function readiness(conditions: readonly VaultCondition[] | readonly { type: string; status: string; reason: string; message: string }[]): ConditionUpdate {
  for (const type of [VaultConditionType.Initialized, VaultConditionType.Unsealed, VaultConditionType.Configured]) {
    const c = conditions.find((x) => x.type === type);
    if (!c) return { type: VaultConditionType.Ready, status: 'False', reason: VaultReason.Pending, message: `${type} not yet known` };
    if (c.status !== 'True') return { type: VaultConditionType.Ready, status: 'False', reason: VaultReason.NotReady, message: `${type}: ${c.message}` };
  }
  return { type: VaultConditionType.Ready, status: 'True', reason: VaultReason.Ready, message: 'Vault is initialised, unsealed and configured' };
}

/** The part of the framework's operator this lifecycle registers on (tests wrap it to count reconciles). */
export type ControllerHost = Pick<AutopilotOperator, 'registerController'> & Partial<Pick<AutopilotOperator, 'watchRelated'>>;

/** Registers the Vault lifecycle on the operator; call from the operator's init(). */
export async function registerVaultController(operator: ControllerHost, deps: VaultControllerDeps): Promise<VaultController> {
  const controller = new VaultController(deps);
  await operator.registerController<VaultResource>({
    kind: VAULT_KIND,
    group: API_GROUP,
    version: API_VERSION,
    plural: VAULT_PLURAL,
    ...(deps.settings.namespace ? { namespace: deps.settings.namespace } : {}),
    finalizer: FINALIZER,
    reconcile: (obj, ctx) => controller.reconcile(obj, ctx),
    finalize: (obj, ctx) => controller.finalize(obj, ctx),
    resyncPeriodMs: deps.settings.resyncPeriodMs,
  });
  // A Vault pod that restarts, goes Pending or fails to pull is seen at once, not at the next resync.
  await operator.watchRelated?.<V1Pod>({
    group: '',
    version: 'v1',
    plural: 'pods',
    ...(deps.settings.namespace ? { namespace: deps.settings.namespace } : {}),
    labelSelector: MANAGED_POD_SELECTOR,
    map: (pod) => {
      const name = pod.metadata?.labels?.[INSTANCE_LABEL];
      return name ? [{ kind: VAULT_KIND, namespace: pod.metadata?.namespace, name }] : [];
    },
  });
  return controller;
}
