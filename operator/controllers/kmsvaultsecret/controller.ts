// KMSVaultSecret lifecycle, the I/O half: gather (partials, Vault mount,
// KMS plaintext, Vault's current value) -> compute (plan.ts) -> apply (one
// Vault write only when Vault differs) -> status/events. Plaintext exists only
// in this process's memory, is registered with the logger's redaction for this
// object's lines and Events only (a tenant's value cannot blank anyone else's),
// and is never part of an error, event or status.
import {
  API_GROUP,
  API_VERSION,
  DeletionPolicy,
  KMS_VAULT_OPERATOR_FINALIZER,
  KMS_VAULT_SECRET_KIND,
  KMS_VAULT_SECRET_PLURAL,
  KmsVaultSecretEventReason,
  KmsVaultSecretReason,
  PARTIAL_KMS_VAULT_SECRET_PLURAL,
  type KMSVaultSecret,
  type PartialKMSVaultSecret,
} from '../../api/kmsvaultsecret.js';
import { FINALIZER } from '../../api/naming.js';
import {
  type AutopilotOperator,
  dropScopedSecrets,
  getOrUndefined,
  objectScope,
  ReportedFailure,
  type ReconcileContext,
  type ReconcileResult,
  resourcePath,
} from '../../framework/index.js';
import type { Decryptor } from '../../kms/decryptor.js';
import { VaultError, type VaultClient } from '../../vault/client.js';
import { deleteKv, detectMount, kvDataMatches, logicalPath, readKv, writeKv, type KvLocation, type KvSecret } from '../../vault/kv.js';
import { decryptAll } from './decrypt-all.js';
import { DecryptDigests } from './decrypt-digests.js';
import {
  checkNamespaceBinding,
  checkPathSyntax,
  checkTenancy,
  collectKeys,
  decodeKeys,
  failedStatus,
  failureEvents,
  includeNames,
  precheckTenancy,
  resolveLocation,
  staleLocation,
  syncedStatus,
  syncEvents,
  unexpectedFailure,
  vaultFailure,
  writeCause,
  type Failure,
  type PlannedEvent,
  type VaultPhase,
  type WriteCause,
} from './plan.js';
import type { KmsVaultSecretSettings } from './settings.js';
import { VAULT_PLURAL, type VaultResource } from '../../api/vault.js';
import { VaultWaiters } from '../vault-waiters.js';
import { chooseVault, formatRef, recordedChoice, vaultUsable, withMountHint, type Resolved, type VaultChoice, type VaultTargets } from './vault-target.js';

export interface KmsVaultSecretDeps {
  /**
   * The operator's configured Vault connection (VAULT_AUTOPILOT_VAULT_*), for
   * an operator that manages no Vault; objects without spec.vaultRef use it.
   */
  vault?: VaultClient;
  /** Clients for `Vault` resources (spec.vaultRef, or the default one when there is no connection). */
  targets?: VaultTargets;
  decryptor: Decryptor;
  settings: KmsVaultSecretSettings;
}

type Ctx = ReconcileContext<KMSVaultSecret>;

type SyncOutcome =
  | { ok: true; loc: KvLocation; keys: string[]; cause: WriteCause | undefined; vault: string }
  | { ok: false; failure: Failure };

const failed = (failure: Failure): SyncOutcome => ({ ok: false, failure });

export class KmsVaultSecretController {
  /** Objects waiting for a `Vault` resource to become usable, by that resource: synced the moment it is. */
  readonly waiting = new VaultWaiters();
  /** What each ciphertext decrypted to, as keyed digests: in-sync objects cost no KMS call. */
  readonly digests = new DecryptDigests();

  constructor(private readonly deps: KmsVaultSecretDeps) {}

  async reconcile(obj: KMSVaultSecret, ctx: Ctx): Promise<ReconcileResult> {
    let outcome: SyncOutcome;
    try {
      outcome = await this.sync(obj, ctx);
    } catch (err) {
      // whatever else went wrong (the Kubernetes API, mostly) still shows on the object
      if (err instanceof ReportedFailure) throw err;
      outcome = failed(unexpectedFailure(err));
    }
    if (!outcome.ok) return this.fail(obj, ctx, outcome.failure);
    const { loc, keys, cause, vault } = outcome;
    await ctx.patchStatus({ ...syncedStatus(obj, loc, keys, cause !== undefined, ctx.clock.now()), vault });
    await this.emit(ctx, syncEvents(obj, loc, keys.length, cause));
    if (cause) ctx.log.info('secret written to Vault', { path: logicalPath(loc), keys: keys.length, cause });
    return { requeueAfterMs: this.deps.settings.syncPeriodMs };
  }

  async finalize(obj: KMSVaultSecret, ctx: Ctx): Promise<void> {
    const policy = obj.spec.deletionPolicy ?? DeletionPolicy.Delete;
    const s = obj.status;
    // Only what this object wrote (recorded in status) is removed, and only inside its tenancy.
    if (!s?.vaultPath || !s.vaultMount || !s.engineVersion) {
      ctx.log.info('nothing written to Vault; nothing to clean up');
      return;
    }
    const loc: KvLocation = { mount: s.vaultMount, version: s.engineVersion, secretPath: s.vaultPath.slice(s.vaultMount.length + 1) };
    if (policy === DeletionPolicy.Retain) {
      await ctx.event('Normal', KmsVaultSecretEventReason.SecretRetained, `deletionPolicy Retain: left ${s.vaultPath} in Vault`);
      return;
    }
    if (checkTenancy(loc, obj.metadata?.namespace ?? '', this.deps.settings.pathPolicy) || checkPathSyntax(s.vaultPath)) {
      ctx.log.warn('recorded Vault path is outside this namespace; not deleting it', { path: s.vaultPath });
      return;
    }
    const choice = recordedChoice(obj, chooseVault(obj, this.deps.vault !== undefined, this.deps.settings.defaultVault));
    // no namespace check: only what this object wrote (its own path, when the Vault served it) is removed
    const target = await this.resolveVault(obj, ctx, choice);
    if (!target.ok) {
      if (target.failure.reason === KmsVaultSecretReason.VaultNotFound) {
        // the Vault resource is gone, and its data with it as far as this object can tell
        const where = choice.kind === 'resource' ? `Vault resource ${formatRef(choice.ref)}` : 'the configured Vault';
        await ctx.event('Warning', KmsVaultSecretEventReason.SecretRetained, `${where} is gone: nothing to delete ${s.vaultPath} from`);
        return;
      }
      await this.fail(obj, ctx, { ...target.failure, transient: true });
      throw new ReportedFailure(target.failure.reason, target.failure.message);
    }
    const vault = target.client;
    try {
      await deleteKv(vault, loc);
    } catch (err) {
      // transient by construction: fail() throws, so the finalizer stays and the framework retries
      const failure: Failure = { ...this.vaultError(err, 'delete', s.vaultPath), transient: true };
      await this.fail(obj, ctx, failure);
      throw new ReportedFailure(failure.reason, failure.message);
    }
    await ctx.event('Normal', KmsVaultSecretEventReason.SecretDeleted, `deleted ${s.vaultPath} from Vault${loc.version === 'v2' ? ' (metadata and all versions)' : ''}`);
    ctx.log.info('secret deleted from Vault', { path: s.vaultPath });
  }

  /** gather -> compute -> apply. Returns the failure instead of throwing for everything the user should see. */
  private async sync(obj: KMSVaultSecret, ctx: Ctx): Promise<SyncOutcome> {
    const namespace = obj.metadata?.namespace ?? '';
    const { pathPolicy } = this.deps.settings;
    const pathProblem = checkPathSyntax(obj.spec.path) ?? precheckTenancy(obj.spec.path, namespace, pathPolicy);
    if (pathProblem) return failed(pathProblem);

    const partials = await this.readPartials(obj, ctx);
    const planned = collectKeys(obj, partials);
    if (!planned.ok) return failed(planned.failure);
    const binding = checkNamespaceBinding(planned.value, namespace, this.deps.settings.legacyNamespaces);
    if (binding) return failed(binding);
    const decoded = decodeKeys(planned.value);
    if (!decoded.ok) return failed(decoded.failure);

    // the Vault must serve this namespace (spec.selfService.namespaces) before anything is written through it
    const target = await this.resolveVault(obj, ctx, chooseVault(obj, this.deps.vault !== undefined, this.deps.settings.defaultVault), namespace);
    if (!target.ok) return failed(target.failure);
    const { client: vault } = target;
    let loc: KvLocation;
    try {
      const mount = await detectMount(vault, obj.spec.path);
      const resolved = resolveLocation(obj, mount);
      if (!resolved.ok) return failed(mount ? resolved.failure : withMountHint(resolved.failure, target.vault, this.deps.vault?.address));
      loc = resolved.value;
    } catch (err) {
      return failed(this.vaultError(err, 'detect', obj.spec.path));
    }
    const tenancy = checkTenancy(loc, namespace, pathPolicy);
    if (tenancy) return failed(tenancy);

    const path = logicalPath(loc);
    // Vault's value first: a key whose value there is what its ciphertext was
    // seen to decrypt to needs no KMS call (an unchanged object makes none).
    let current: KvSecret | undefined;
    let readError: unknown;
    try {
      current = await readKv(vault, loc);
    } catch (err) {
      readError = err;
    }
    // Decrypt everything before writing: the secret is written whole or not at all.
    const decrypted = await decryptAll(this.deps.decryptor, this.digests, decoded.value, current?.data, objectScope(KMS_VAULT_SECRET_KIND, namespace, obj.metadata?.name));
    if (!decrypted.ok) return failed(decrypted.failure);
    if (!current) return failed(this.vaultError(readError, 'read', path));
    const desired = decrypted.value;

    let cause: WriteCause | undefined;
    try {
      cause = writeCause(obj, current.data !== undefined, kvDataMatches(current.data, desired), loc);
      if (cause) await writeKv(vault, loc, desired, loc.version === 'v2' ? { cas: current.version ?? 0 } : {});
    } catch (err) {
      return failed(this.vaultError(err, 'write', path));
    }

    const stale = staleLocation(obj, loc);
    if (stale) {
      const old: KvLocation = { mount: stale.mount, version: stale.version, secretPath: stale.path.slice(stale.mount.length + 1) };
      if (!checkTenancy(old, namespace, pathPolicy)) {
        try {
          await deleteKv(vault, old);
          ctx.log.info('removed the secret from its previous path', { path: stale.path });
        } catch (err) {
          return failed(this.vaultError(err, 'delete', stale.path));
        }
      }
    }
    return { ok: true, loc, keys: Object.keys(desired), cause, vault: target.vault };
  }

  private async readPartials(obj: KMSVaultSecret, ctx: Ctx): Promise<Map<string, PartialKMSVaultSecret | undefined>> {
    const namespace = obj.metadata?.namespace;
    const found = new Map<string, PartialKMSVaultSecret | undefined>();
    for (const name of includeNames(obj)) {
      // any error but 404 is transient: the framework retries
      const read = ctx.kube.raw.request<PartialKMSVaultSecret>({
        method: 'GET',
        path: resourcePath(API_GROUP, API_VERSION, PARTIAL_KMS_VAULT_SECRET_PLURAL, namespace, name),
        timeoutMs: 30_000,
      });
      found.set(name, await getOrUndefined(read));
    }
    return found;
  }

  /** The single failure exit: condition, Warning event (once per distinct failure), log, retry. */
  private async fail(obj: KMSVaultSecret, ctx: Ctx, failure: Failure): Promise<ReconcileResult> {
    await ctx.patchStatus({ ...failedStatus(obj, failure, ctx.clock.now()) });
    await this.emit(ctx, failureEvents(obj, failure));
    // Causes outside the object retry with backoff (the framework logs each retry);
    // bad input waits for an edit, and is re-checked every sync period.
    if (failure.retryAfterMs !== undefined) {
      ctx.log.debug('waiting', { reason: failure.reason, message: failure.message });
      return { requeueAfterMs: failure.retryAfterMs };
    }
    if (failure.transient) throw new ReportedFailure(failure.reason, failure.message);
    ctx.log.warn('cannot sync', { reason: failure.reason, message: failure.message });
    return { requeueAfterMs: this.deps.settings.syncPeriodMs };
  }

  private async emit(ctx: Ctx, events: readonly PlannedEvent[]): Promise<void> {
    for (const e of events) await ctx.event(e.type, e.reason, e.message);
  }

  private vaultError(err: unknown, phase: VaultPhase, path: string): Failure {
    if (err instanceof VaultError) return vaultFailure({ unreachable: err.unreachable, status: err.status, message: err.message }, phase, path);
    throw err;
  }

  /** The client for the chosen Vault, or why there is none. */
  private async resolveVault(obj: KMSVaultSecret, ctx: Ctx, choice: VaultChoice, forNamespace?: string): Promise<Resolved> {
    if (choice.kind === 'connection') {
      const vault = this.deps.vault;
      if (vault) return { ok: true, client: vault, vault: vault.address };
      // recorded under a connection this operator no longer has
      return { ok: false, failure: { reason: KmsVaultSecretReason.VaultNotFound, message: `written to ${obj.status?.vault ?? 'a configured Vault'}, which this operator is no longer configured for (VAULT_AUTOPILOT_VAULT_ADDR)`, transient: false } };
    }
    if (!this.deps.targets) {
      return {
        ok: false,
        failure: { reason: KmsVaultSecretReason.VaultNotFound, message: `this operator does not use Vault resources (it writes to VAULT_AUTOPILOT_VAULT_ADDR); remove spec.vaultRef`, transient: false },
      };
    }
    ctx.log.debug('writing through a Vault resource', { vault: formatRef(choice.ref), object: obj.metadata?.name });
    const resolved = await this.deps.targets.resolve(ctx.kube, choice.ref, forNamespace);
    const self = `${obj.metadata?.namespace ?? ''}/${obj.metadata?.name ?? ''}`;
    if (!resolved.ok && resolved.failure.retryAfterMs !== undefined) this.waiting.wait(formatRef(choice.ref), self);
    else this.waiting.settle(self);
    return resolved;
  }

}

/**
 * Register the KMSVaultSecret lifecycle with the operator: the controller
 * (finalizer added automatically) and a watch on PartialKMSVaultSecrets that
 * re-reconciles the objects including a partial when it changes.
 */
export async function registerKmsVaultSecretController(operator: AutopilotOperator, deps: KmsVaultSecretDeps): Promise<KmsVaultSecretController> {
  const controller = new KmsVaultSecretController(deps);
  await operator.registerController<KMSVaultSecret>({
    kind: KMS_VAULT_SECRET_KIND,
    group: API_GROUP,
    version: API_VERSION,
    plural: KMS_VAULT_SECRET_PLURAL,
    finalizer: FINALIZER,
    // kms-vault-operator's: a migrated object still carries it
    replacesFinalizers: [KMS_VAULT_OPERATOR_FINALIZER],
    reconcile: (obj, ctx) => controller.reconcile(obj, ctx),
    finalize: (obj, ctx) => controller.finalize(obj, ctx),
    onDeleted: (obj) => {
      controller.waiting.settle(`${obj.metadata?.namespace ?? ''}/${obj.metadata?.name ?? ''}`);
      dropScopedSecrets(objectScope(KMS_VAULT_SECRET_KIND, obj.metadata?.namespace, obj.metadata?.name));
    },
  });
  // A KMSVaultSecret waiting for its Vault (not found, not Ready, no login yet)
  // is synced as soon as that Vault can take it, not at its next 10 s look.
  // Vault status changes are what matter here, so this is a related watch
  // (every event), not a controller (which skips status-only changes). Only
  // when objects may write through Vault resources at all.
  if (deps.targets) await operator.watchRelated<VaultResource>({
    group: API_GROUP,
    version: API_VERSION,
    plural: VAULT_PLURAL,
    map: (vault) => {
      const ref = { namespace: vault.metadata?.namespace ?? '', name: vault.metadata?.name ?? '' };
      const waiters = controller.waiting.waitingFor(formatRef(ref));
      if (waiters.length === 0 || vaultUsable(ref, vault)) return [];
      return waiters.map((key) => {
        const [namespace, name] = key.split('/');
        return { kind: KMS_VAULT_SECRET_KIND, namespace, name: name ?? '' };
      });
    },
  });
  // a changed PartialKMSVaultSecret re-syncs only the objects that include it (from the cache, no LIST)
  await operator.watchOwned<PartialKMSVaultSecret, KMSVaultSecret>({
    group: API_GROUP,
    version: API_VERSION,
    plural: PARTIAL_KMS_VAULT_SECRET_PLURAL,
    ownerKind: KMS_VAULT_SECRET_KIND,
    owns: (parent, partial) => includeNames(parent).includes(partial.metadata?.name ?? ''),
  });
  return controller;
}
