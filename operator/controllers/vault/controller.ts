// The Vault lifecycle's I/O: gather (Kubernetes objects, Vault seal state,
// stored keys) -> compute (desired objects, TLS decision, config plan) ->
// apply -> status. Decisions live in desired-objects.ts, tls.ts,
// configure.ts and operator/vault/*; this file only moves data.
import { X509Certificate } from 'node:crypto';
import { PatchStrategy, type KubernetesObject, type KubernetesObjectApi, type V1PersistentVolumeClaim, type V1Pod, type V1Secret } from '@kubernetes/client-node';
import { FINALIZER, API_GROUP, API_VERSION } from '../../api/naming.js';
import {
  VAULT_KIND,
  VAULT_PLURAL,
  VaultConditionType,
  VaultEventReason,
  VaultReason,
  type ManagedRecord,
  type VaultCondition,
  type VaultNodeStatus,
  type VaultResource,
  type VaultStatus,
} from '../../api/vault.js';
import type { Clock } from '../../framework/clock.js';
import { setConditions, type ConditionUpdate } from '../../framework/conditions.js';
import type { KubeClients } from '../../framework/kube.js';
import { errorCode } from '../../framework/kube.js';
import { errorMessage, markSecret, secret, type Logger, type Secret } from '../../framework/logger.js';
import { deepEqual } from '../../framework/status.js';
import { AwsKms } from '../../kms/aws-kms.js';
import type { Decryptor, Encryptor } from '../../kms/decryptor.js';
import { VaultClient, VaultError, type VaultAuth } from '../../vault/client.js';
import { describeError } from '../../vault/config-plan.js';
import { INIT_STARTED_ANNOTATION, keysNotStoredMessage, kmsRoundTrip, preFlightChecksEnabled } from '../../vault/preflight.js';
import { OPERATOR_POLICY_NAME, createOperatorToken, generateRootToken, initParameters, initVault, needsRenewal, renewToken, revokeToken, tokenTtl } from '../../vault/init.js';
import {
  ROOT_TOKEN_KEY,
  decodeKeysSecretData,
  encodeKeysSecretData,
  hasStoredKeys,
  kmsContext,
  parseEncryptionContext,
  unsealNode,
  type KeyCipher,
  type StoredKeys,
} from '../../vault/unseal.js';
import type { PathPolicy } from '../kmsvaultsecret/settings.js';
import { obsoleteObjects } from './bankvaults-overlay.js';
import { ignoredFields, ignoredFieldsEvent } from './bankvaults-report.js';
import { OPERATOR_AUTH_PATH, OPERATOR_AUTH_ROLE, configureVault, withOperatorAuth } from './configure.js';
import {
  authDelegatorBindingName,
  caSecretName,
  containsDesired,
  desiredObjects,
  generatedTlsSecretName,
  INSTANCE_LABEL,
  MANAGED_POD_SELECTOR,
  operatorTokenSecretName,
  ownerReference,
  podAddress,
  podName,
  selectorLabels,
  tlsSecretName,
  unsealKeysSecretName,
  vaultSize,
} from './desired-objects.js';
import { withKmsIdentity } from './kms-identity.js';
import { diagnosePods, newlyUnsealed, recheckDelayMs } from './pod-status.js';
import { pruneRaftPeers } from './raft-peers.js';
import { PendingKeys, persistWithRetry, type PendingInit } from './pending-keys.js';
import type { VaultControllerSettings } from './settings.js';
import { decideTls, issueTls, thresholdMs, vaultTlsNames } from './tls.js';

export const FIELD_MANAGER = 'vault-autopilot-vault';
const KMS_KEY_ANNOTATION = `${API_GROUP}/kms-key-id`;

/** The part of the framework's ReconcileContext this controller uses. */
export interface VaultReconcileContext {
  log: Logger;
  kube: KubeClients;
  clock: Clock;
  event(type: 'Normal' | 'Warning', reason: string, message: string): Promise<void>;
  patchStatus(status: Record<string, unknown>): Promise<void>;
}

export interface VaultControllerDeps {
  settings: VaultControllerSettings;
  /** KMS for unsealConfig.aws; default AWS KMS in the key's region (endpoint from settings). */
  kms?: (region: string | undefined) => Encryptor & Decryptor;
  /** Observe every VaultClient made (tests sum their stats to prove zero writes). */
  onVaultClient?: (client: VaultClient) => void;
  /**
   * How the operator reaches pod `ordinal` of a managed Vault; default its
   * peer DNS name. Tests without a kubelet point it at a real Vault server.
   */
  podAddress?: (name: string, namespace: string, ordinal: number) => string;
  /** The operator ServiceAccount's JWT for Kubernetes-auth login; default: the mounted token file. */
  operatorJwt?: () => Promise<string>;
  /** Observe every Kubernetes write this controller makes (tests count them). */
  onKubeWrite?: (what: string) => void;
  /**
   * Keep a Vault login for KMSVaultSecrets (policy + role, kms-identity.ts) in
   * every Vault the operator logs in to with its ServiceAccount.
   */
  kmsIdentity?: { pathPolicy: PathPolicy };
  /** How long one reconcile keeps retrying to store freshly made unseal keys before reporting (default 30 s; they are kept and retried after). */
  persistKeysBudgetMs?: number;
}

/** A node the operator talks to: a managed pod or the adopted Vault. */
interface VaultNode {
  name: string;
  address: string;
}

interface Gathered {
  nodes: VaultNode[];
  caCert?: string;
  keysSecret?: V1Secret;
  /** Managed mode: the pods and data claims, to say why a node does not answer. */
  pods?: { pods: V1Pod[]; claims: V1PersistentVolumeClaim[] };
}

/** Thrown to end a reconcile with conditions already decided. */
class ReconcileStop extends Error {
  constructor(
    readonly updates: ConditionUpdate[],
    message: string,
    readonly retry: boolean,
    /** Sooner than the sealed recheck period (a pod that just started). */
    readonly retryAfterMs?: number,
  ) {
    super(message);
  }
}

function isNotFound(err: unknown): boolean {
  return errorCode(err) === 404;
}

/** The kind's API is not served (a CRD that is not installed): client-node's discovery says so. */
function isMissingApi(err: unknown): boolean {
  const message = err instanceof Error ? err.message : String(err);
  return /Failed to fetch resource metadata|Unrecognized API version and kind/.test(message);
}

/** Where clients reach a Vault resource: for the webhook and for other lifecycles. */
export function vaultEndpoint(vault: VaultResource): { address: string; caSecretName?: string; caCert?: string } {
  const name = vault.metadata!.name!;
  const namespace = vault.metadata!.namespace!;
  if (vault.spec.external) {
    return {
      address: vault.spec.external.address,
      ...(vault.spec.external.caSecret ? { caSecretName: vault.spec.external.caSecret } : {}),
      ...(vault.spec.external.caCert ? { caCert: vault.spec.external.caCert } : {}),
    };
  }
  return { address: `https://${name}.${namespace}.svc:8200`, caSecretName: tlsSecretName(vault) };
}

export class VaultController {
  private readonly nodeClients = new Map<string, VaultClient>();
  private readonly configClients = new Map<string, VaultClient>();
  private readonly kmsClients = new Map<string, Encryptor & Decryptor>();
  /** the ServiceMonitor API was not found on the last try (the CRD is cluster-wide: one flag) */
  private serviceMonitorApiMissing = false;
  /** Unseal keys made by sys/init that are not yet in their Secret: never dropped. */
  private readonly pendingKeys = new PendingKeys();

  constructor(private readonly deps: VaultControllerDeps) {}

  // ---------------------------------------------------------------- reconcile

  async reconcile(vault: VaultResource, ctx: VaultReconcileContext): Promise<{ requeueAfterMs?: number } | void> {
    const generation = vault.metadata?.generation;
    const status: VaultStatus = { ...(vault.status ?? {}) };
    status.mode = vault.spec.external ? 'external' : 'managed';
    await reportIgnoredFields(vault, ctx, status, { serviceMonitorApiMissing: this.serviceMonitorApiMissing });
    const updates: ConditionUpdate[] = [];
    let requeueAfterMs: number | undefined;
    let failure: unknown;
    try {
      const gathered = await this.gather(vault, ctx, status);
      const result = await this.converge(vault, ctx, gathered, status, updates);
      requeueAfterMs = result.requeueAfterMs;
    } catch (err) {
      if (err instanceof ReconcileStop) {
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
    let conditions = setConditions(vault.status?.conditions, updates.map((u) => ({ ...u, ...(generation !== undefined ? { observedGeneration: generation } : {}) })), now);
    if (!updates.some((u) => u.type === VaultConditionType.Ready)) {
      conditions = setConditions(conditions, [{ ...readiness(conditions), ...(generation !== undefined ? { observedGeneration: generation } : {}) }], now);
    }
    const next: VaultStatus = { ...status, conditions: conditions as VaultCondition[] };
    if (generation !== undefined) next.observedGeneration = generation;
    if (deepEqual(JSON.parse(JSON.stringify(next)), vault.status ?? {})) return;
    await ctx.patchStatus(mergePatchFor(vault.status, next));
    vault.status = next;
  }

  // ------------------------------------------------------------------ gather

  private async gather(vault: VaultResource, ctx: VaultReconcileContext, status: VaultStatus): Promise<Gathered> {
    const name = vault.metadata!.name!;
    const namespace = vault.metadata!.namespace!;
    const keysSecret = await this.readSecret(ctx, namespace, unsealKeysSecretName(vault));
    if (vault.spec.external) {
      let caCert = vault.spec.external.caCert;
      if (!caCert && vault.spec.external.caSecret) {
        const ca = await this.readSecret(ctx, namespace, vault.spec.external.caSecret);
        if (!ca?.data?.['ca.crt']) {
          throw new ReconcileStop(
            [{ type: VaultConditionType.Ready, status: 'False', reason: VaultReason.InvalidSpec, message: `Secret ${vault.spec.external.caSecret} has no ca.crt` }],
            'missing CA',
            true,
          );
        }
        caCert = Buffer.from(ca.data['ca.crt'], 'base64').toString('utf8');
      }
      return { nodes: [{ name: 'external', address: vault.spec.external.address }], ...(caCert ? { caCert } : {}), ...(keysSecret ? { keysSecret } : {}) };
    }
    const caCert = await this.ensureManagedObjects(vault, ctx, status);
    const address = this.deps.podAddress ?? podAddress;
    const nodes = Array.from({ length: vaultSize(vault) }, (_, i) => ({ name: podName(name, i), address: address(name, namespace, i) }));
    const pods = await this.podsAndClaims(vault, ctx);
    return { nodes, ...(caCert ? { caCert } : {}), ...(keysSecret ? { keysSecret } : {}), pods };
  }

  /** The managed Vault's pods and data claims (by the labels the operator and the StatefulSet put on them). */
  private async podsAndClaims(vault: VaultResource, ctx: VaultReconcileContext): Promise<{ pods: V1Pod[]; claims: V1PersistentVolumeClaim[] }> {
    const namespace = vault.metadata!.namespace!;
    const labelSelector = Object.entries(selectorLabels(vault.metadata!.name!)).map(([k, v]) => `${k}=${v}`).join(',');
    const [pods, claims] = await Promise.all([
      ctx.kube.core.listNamespacedPod({ namespace, labelSelector }),
      ctx.kube.core.listNamespacedPersistentVolumeClaim({ namespace, labelSelector }),
    ]);
    return { pods: pods.items, claims: claims.items };
  }

  // ----------------------------------------------------------------- managed

  /** StatefulSet, Services, config, RBAC, PDB and TLS. Returns the CA clients use. */
  private async ensureManagedObjects(vault: VaultResource, ctx: VaultReconcileContext, status: VaultStatus): Promise<string | undefined> {
    const objects = ctx.kube.objects;
    const tls = await this.ensureTls(vault, ctx, status);
    for (const desired of desiredObjects(vault, this.deps.settings.defaultImage, tls.cert)) {
      // a ServiceAccount may be shared or pre-created: create it, never take it over
      if (desired.kind === 'ServiceMonitor') {
        // the Prometheus Operator's CRD may not be installed: then serviceMonitorEnabled is reported
        try {
          await this.ensureObject(objects, desired, false);
          this.serviceMonitorApiMissing = false;
        } catch (err) {
          if (!isMissingApi(err)) throw err;
          this.serviceMonitorApiMissing = true;
        }
        continue;
      }
      await this.ensureObject(objects, desired, desired.kind === 'ServiceAccount');
    }
    for (const ref of obsoleteObjects(vault)) {
      try {
        await this.deleteIfControlled(objects, ref, vault.metadata!.uid!);
      } catch (err) {
        if (!isMissingApi(err)) throw err;
      }
    }
    return tls.caCert;
  }

  /** Deletes an object this Vault made for a field that is now unset; anything else of that name is left alone. */
  private async deleteIfControlled(objects: KubernetesObjectApi, ref: { apiVersion: string; kind: string; name: string; namespace: string }, uid: string): Promise<void> {
    const id = { apiVersion: ref.apiVersion, kind: ref.kind, metadata: { name: ref.name, namespace: ref.namespace } };
    let actual: KubernetesObject;
    try {
      actual = await objects.read(id);
    } catch (err) {
      if (isNotFound(err)) return;
      throw err;
    }
    if (!actual.metadata?.ownerReferences?.some((o) => o.uid === uid && o.controller)) return;
    this.deps.onKubeWrite?.(`delete ${ref.kind}/${ref.name}`);
    try {
      await objects.delete(id);
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }

  private async ensureObject(objects: KubernetesObjectApi, desired: KubernetesObject, createOnly: boolean): Promise<void> {
    let actual: KubernetesObject | undefined;
    try {
      actual = await objects.read({ apiVersion: desired.apiVersion!, kind: desired.kind!, metadata: { name: desired.metadata!.name!, namespace: desired.metadata!.namespace! } } as KubernetesObject & { metadata: { name: string; namespace: string } });
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
    if (actual && (createOnly || containsDesired(desired, actual))) return;
    this.deps.onKubeWrite?.(`${actual ? 'apply' : 'create'} ${desired.kind}/${desired.metadata!.name}`);
    await objects.patch(desired, undefined, undefined, FIELD_MANAGER, true, PatchStrategy.ServerSideApply);
  }

  /** The CA clients use, and the serving certificate the pods must run with. */
  private async ensureTls(vault: VaultResource, ctx: VaultReconcileContext, status: VaultStatus): Promise<{ caCert?: string; cert?: string }> {
    const name = vault.metadata!.name!;
    const namespace = vault.metadata!.namespace!;
    if (vault.spec.existingTlsSecretName) {
      const existing = await this.readSecret(ctx, namespace, vault.spec.existingTlsSecretName);
      delete status.tlsNotAfter;
      const text = (key: string) => (existing?.data?.[key] ? Buffer.from(existing.data[key], 'base64').toString('utf8') : undefined);
      return { caCert: text('ca.crt'), cert: text('tls.crt') };
    }
    const caSecret = await this.readSecret(ctx, namespace, caSecretName(name));
    const tlsSecret = await this.readSecret(ctx, namespace, generatedTlsSecretName(name));
    const text = (s: V1Secret | undefined, key: string) => (s?.data?.[key] ? Buffer.from(s.data[key], 'base64').toString('utf8') : undefined);
    const stored = {
      ca: { cert: text(caSecret, 'tls.crt'), key: text(caSecret, 'tls.key') },
      serving: { cert: text(tlsSecret, 'tls.crt'), key: text(tlsSecret, 'tls.key'), caCert: text(tlsSecret, 'ca.crt') },
    };
    const names = vaultTlsNames(name, namespace, vault.spec.tlsAdditionalHosts);
    const now = ctx.clock.now();
    const decision = decideTls(stored, names, now, thresholdMs(vault.spec.tlsExpiryThreshold));
    if (decision.action === 'keep') {
      status.tlsNotAfter = decision.notAfter.toISOString();
      return { caCert: stored.ca.cert, cert: stored.serving.cert };
    }
    const existingCa = !decision.newCa && stored.ca.cert && stored.ca.key ? { cert: stored.ca.cert, key: stored.ca.key } : undefined;
    const issued = issueTls(name, names, existingCa, { now, caValidityDays: this.deps.settings.caValidityDays, certValidityDays: this.deps.settings.certValidityDays });
    markSecret(issued.ca.key);
    markSecret(issued.serving.key);
    const owner = [ownerReference(vault)];
    if (decision.newCa) {
      await this.writeSecret(ctx, caSecret, {
        metadata: { name: caSecretName(name), namespace, ownerReferences: owner },
        type: 'kubernetes.io/tls',
        data: { 'tls.crt': b64(issued.ca.cert), 'tls.key': b64(issued.ca.key) },
      });
    }
    await this.writeSecret(ctx, tlsSecret, {
      metadata: { name: generatedTlsSecretName(name), namespace, ownerReferences: owner },
      type: 'kubernetes.io/tls',
      data: { 'ca.crt': b64(issued.ca.cert), 'tls.crt': b64(issued.serving.cert), 'tls.key': b64(issued.serving.key) },
    });
    status.tlsNotAfter = new Date(Date.parse(new X509Certificate(issued.serving.cert).validTo)).toISOString();
    await ctx.event('Normal', VaultEventReason.TlsRenewed, `issued serving certificate in Secret ${generatedTlsSecretName(name)} (${decision.reason})`);
    return { caCert: issued.ca.cert, cert: issued.serving.cert };
  }

  // ---------------------------------------------------------------- converge

  private async converge(
    vault: VaultResource,
    ctx: VaultReconcileContext,
    gathered: Gathered,
    status: VaultStatus,
    updates: ConditionUpdate[],
  ): Promise<{ requeueAfterMs?: number }> {
    const namespace = vault.metadata!.namespace!;
    const keysName = unsealKeysSecretName(vault);
    const params = initParameters(vault.spec.unsealConfig);
    if ('error' in params) {
      throw new ReconcileStop([{ type: VaultConditionType.Initialized, status: 'Unknown', reason: VaultReason.InvalidSpec, message: params.error }], params.error, false);
    }
    const cipher = this.cipher(vault);

    // keys made by an earlier sys/init that could not be stored yet come first (they need no Vault)
    let keysSecret = gathered.keysSecret;
    const pending = this.pendingKeys.get(pendingKeyOf(vault));
    if (pending) keysSecret = await this.storeInitKeys(vault, ctx, pending, cipher);

    // seal state of every node
    const nodeStates = await Promise.all(gathered.nodes.map((n) => this.nodeState(n, gathered.caCert)));
    status.nodes = nodeStates.map((s) => s.status);
    const reachable = nodeStates.filter((s) => s.status.reachable);
    const names = (states: typeof nodeStates) => states.map((s) => s.node.name);
    const pods = gathered.pods;
    const podProblem = (states: typeof nodeStates) => (pods ? diagnosePods(names(states), pods.pods, pods.claims) : undefined);
    const recheck = (states: typeof nodeStates) => (pods ? recheckDelayMs(names(states), pods.pods, ctx.clock.now(), this.deps.settings.sealedRecheckMs) : undefined);
    if (reachable.length === 0) {
      status.sealed = true;
      // what Kubernetes knows about the pods says more than a refused connection
      const problem = podProblem(nodeStates);
      const reason = problem?.reason ?? VaultReason.VaultUnreachable;
      const message = problem?.message ?? `no Vault node answers (${gathered.nodes.map((n) => n.address).join(', ')})`;
      throw new ReconcileStop(
        [
          { type: VaultConditionType.Initialized, status: 'Unknown', reason, message },
          { type: VaultConditionType.Unsealed, status: 'Unknown', reason, message },
        ],
        message,
        true,
        recheck(nodeStates),
      );
    }

    // initialise: the first node that answers uninitialised, if no node is initialised
    if (!reachable.some((s) => s.status.initialized)) {
      const first = reachable[0]!;
      if (hasStoredKeys(keysSecret?.data)) {
        const message = `Vault at ${first.node.address} is not initialised but Secret ${keysName} already holds unseal keys; the operator will not overwrite them. Move the Secret away (or set unsealConfig.kubernetes.secretName) to initialise a new Vault.`;
        throw new ReconcileStop([{ type: VaultConditionType.Initialized, status: 'False', reason: VaultReason.InitFailed, message }], message, true);
      }
      keysSecret = await this.initialise(vault, ctx, first.node, gathered.caCert, params, cipher, keysSecret);
      first.status.initialized = true;
    }
    status.initialized = true;
    const lost = hasStoredKeys(keysSecret?.data)
      ? undefined
      : keysNotStoredMessage({
          managed: !vault.spec.external,
          keysSecretName: keysName,
          initStartedAt: keysSecret?.metadata?.annotations?.[INIT_STARTED_ANNOTATION],
          address: reachable.find((s) => s.status.initialized)?.node.address ?? reachable[0]!.node.address,
          volumeClaims: vault.spec.external ? [] : gathered.nodes.map((_, i) => `data-${vault.metadata!.name}-${i}`),
        });
    if (lost) {
      const previous = vault.status?.conditions?.find((c) => c.type === VaultConditionType.Initialized);
      if (previous?.reason !== VaultReason.KeysNotStored) await ctx.event('Warning', VaultEventReason.KeysNotStored, lost);
      updates.push({ type: VaultConditionType.Initialized, status: 'False', reason: VaultReason.KeysNotStored, message: lost });
    } else {
      updates.push({ type: VaultConditionType.Initialized, status: 'True', reason: VaultReason.Initialized, message: 'Vault is initialised' });
    }

    // unseal every sealed node; keys are decrypted only when they are needed
    const hasKeys = hasStoredKeys(keysSecret?.data);
    let decoded: Promise<StoredKeys> | undefined;
    const loadKeys = () => (decoded ??= decodeKeysSecretData(keysSecret!.data, cipher));
    const sealed: string[] = [];
    const unsealedNow = new Set<string>();
    for (const state of nodeStates) {
      if (!state.status.reachable || !state.status.sealed) continue;
      if (!hasKeys) {
        sealed.push(state.node.name);
        continue;
      }
      const outcome = await unsealNode(this.nodeClient(state.node.address, gathered.caCert), (await loadKeys()).keys);
      state.status.sealed = outcome.sealed;
      state.status.initialized = outcome.status.initialized;
      if (outcome.sealed) sealed.push(state.node.name);
      else unsealedNow.add(state.node.name);
    }
    // one event per node, also for a Raft follower that finished unsealing after it joined
    for (const node of newlyUnsealed(vault.status?.nodes, nodeStates.map((s) => s.status), unsealedNow)) {
      const address = nodeStates.find((s) => s.node.name === node)!.node.address;
      await ctx.event('Normal', VaultEventReason.Unsealed, `unsealed ${node} (${address})${unsealedNow.has(node) ? '' : ' after joining the Raft cluster'}`);
    }
    status.nodes = nodeStates.map((s) => s.status);
    const unreachable = nodeStates.filter((s) => !s.status.reachable).map((s) => s.node.name);
    status.sealed = sealed.length > 0 || unreachable.length > 0;
    status.leader = await this.leader(nodeStates.filter((s) => s.status.reachable && !s.status.sealed), gathered.caCert);
    if (!status.leader) delete status.leader;
    if (sealed.length) {
      const reason = hasKeys ? VaultReason.Sealed : VaultReason.UnsealKeysMissing;
      const message = hasKeys
        ? `sealed: ${sealed.join(', ')}; unsealing did not complete`
        : `sealed: ${sealed.join(', ')}, and Secret ${keysName} in ${namespace} holds no unseal keys`;
      // once per episode, not on every re-check
      const previous = vault.status?.conditions?.find((c) => c.type === VaultConditionType.Unsealed);
      if (!hasKeys && previous?.reason !== VaultReason.UnsealKeysMissing) await ctx.event('Warning', VaultEventReason.ReconcileFailed, message);
      throw new ReconcileStop(
        [
          { type: VaultConditionType.Unsealed, status: 'False', reason, message },
          { type: VaultConditionType.Configured, status: 'False', reason: VaultReason.WaitingForUnseal, message: 'waiting until Vault is unsealed' },
        ],
        message,
        true,
        recheck(nodeStates.filter((s) => sealed.includes(s.node.name))),
      );
    }
    const down = nodeStates.filter((s) => !s.status.reachable);
    const downProblem = down.length ? podProblem(down) : undefined;
    updates.push(
      unreachable.length
        ? {
            type: VaultConditionType.Unsealed,
            status: 'Unknown',
            reason: downProblem?.reason ?? VaultReason.VaultUnreachable,
            message: `unreachable: ${downProblem?.message ?? unreachable.join(', ')}; the others are unsealed`,
          }
        : { type: VaultConditionType.Unsealed, status: 'True', reason: VaultReason.Unsealed, message: `${nodeStates.length} of ${nodeStates.length} nodes unsealed` },
    );

    // the operator's own access, then the configuration
    const active = nodeStates.find((s) => s.status.name === status.leader) ?? nodeStates.find((s) => s.status.reachable && !s.status.sealed)!;
    const keys = {
      hasRootToken: !!keysSecret?.data?.[ROOT_TOKEN_KEY],
      hasKeys,
      load: loadKeys,
    };
    const client = await this.operatorAccess(vault, ctx, active.node.address, gathered.caCert, keys, params.storeRootToken);
    await this.configure(vault, ctx, client, status, updates);
    if (!vault.spec.external) {
      const size = vaultSize(vault);
      for (const address of await pruneRaftPeers(client, vault.metadata!.name!, namespace, size, ctx.log)) {
        await ctx.event('Normal', VaultEventReason.RaftPeerRemoved, `removed Raft peer ${address}: size is ${size}`);
      }
    }
    return unreachable.length ? { requeueAfterMs: recheck(down) ?? this.deps.settings.sealedRecheckMs } : {};
  }

  private async nodeState(node: VaultNode, caCert: string | undefined): Promise<{ node: VaultNode; status: VaultNodeStatus }> {
    try {
      const seal = await this.nodeClient(node.address, caCert).sealStatus();
      return { node, status: { name: node.name, address: node.address, reachable: true, initialized: seal.initialized, sealed: seal.sealed } };
    } catch (err) {
      if (err instanceof VaultError && err.unreachable) return { node, status: { name: node.name, address: node.address, reachable: false } };
      throw err;
    }
  }

  private async leader(states: Array<{ node: VaultNode }>, caCert: string | undefined): Promise<string | undefined> {
    for (const state of states) {
      try {
        const res = await this.nodeClient(state.node.address, caCert).request<{ ha_enabled?: boolean; is_self?: boolean }>('GET', 'sys/leader', undefined, { token: null });
        if (!res.data.ha_enabled || res.data.is_self) return state.node.name;
      } catch {
        // a node that cannot say is not the leader
      }
    }
    return undefined;
  }

  private cipher(vault: VaultResource): KeyCipher | undefined {
    const aws = vault.spec.unsealConfig?.aws;
    if (!aws) return undefined;
    const region = aws.kmsRegion ?? this.deps.settings.kms.region;
    let kms = this.kmsClients.get(region ?? '');
    if (!kms) {
      kms = this.deps.kms ? this.deps.kms(region) : new AwsKms({ region, ...(this.deps.settings.kms.endpoint ? { endpoint: this.deps.settings.kms.endpoint } : {}) });
      this.kmsClients.set(region ?? '', kms);
    }
    // keys Bank-Vaults stored: its kmsEncryptionContext, or no context at all
    const bankVaults = parseEncryptionContext(aws.kmsEncryptionContext);
    return { kms, keyId: aws.kmsKeyId, context: kmsContext(vault.metadata!.namespace!, vault.metadata!.name!), fallbackContexts: Object.keys(bankVaults).length ? [bankVaults] : [{}] };
  }

  /**
   * sys/init, made crash-safe as far as an operator can: first the pre-flight
   * (a KMS encrypt+decrypt round trip with this key and context; the keys
   * Secret created or updated for real, marked "init started", then a
   * dry-run write of the final shape), so a wrong key or a missing permission
   * stops us while Vault is still uninitialised. The keys sys/init returns
   * go straight into memory (pendingKeys) and are written until the Secret
   * holds them; a failed write never drops them. The root token is stored
   * too until the operator's own token exists.
   */
  private async initialise(
    vault: VaultResource,
    ctx: VaultReconcileContext,
    node: VaultNode,
    caCert: string | undefined,
    params: { secretShares: number; secretThreshold: number },
    cipher: KeyCipher | undefined,
    existing: V1Secret | undefined,
  ): Promise<V1Secret> {
    const namespace = vault.metadata!.namespace!;
    const keysName = unsealKeysSecretName(vault);
    const preFlightFailed = (message: string, retry: boolean) =>
      new ReconcileStop([{ type: VaultConditionType.Initialized, status: 'False', reason: VaultReason.PreFlightFailed, message }], message, retry);
    if (cipher && preFlightChecksEnabled(vault.spec.unsealConfig)) {
      const probe = await kmsRoundTrip(cipher);
      if (!probe.ok) {
        const previous = vault.status?.conditions?.find((c) => c.type === VaultConditionType.Initialized);
        if (previous?.message !== probe.message) await ctx.event('Warning', VaultEventReason.PreFlightFailed, probe.message);
        throw preFlightFailed(probe.message, true);
      }
    }
    const startedAt = ctx.clock.now().toISOString();
    const annotations = { ...(existing?.metadata?.annotations ?? {}), ...(cipher ? { [KMS_KEY_ANNOTATION]: cipher.keyId } : {}), [INIT_STARTED_ANNOTATION]: startedAt };
    let marked: V1Secret;
    try {
      // no owner reference: the keys must outlive the resource
      marked = await this.writeSecret(ctx, existing, { metadata: { name: keysName, namespace, annotations }, type: 'Opaque', data: existing?.data ?? {} });
      // the final write, tried without effect: admission or quota would refuse it now, not after sys/init
      const shape: Record<string, string> = {};
      for (let i = 0; i < params.secretShares; i++) shape[`vault-unseal-${i}`] = Buffer.alloc(cipher ? 184 : 66).toString('base64');
      shape[ROOT_TOKEN_KEY] = Buffer.alloc(cipher ? 144 : 28).toString('base64');
      await ctx.kube.core.replaceNamespacedSecret({ name: keysName, namespace, dryRun: 'All', body: { apiVersion: 'v1', kind: 'Secret', ...marked, data: shape } });
    } catch (err) {
      const code = errorCode(err);
      if (code === 403 || code === 422) throw preFlightFailed(`the operator cannot write Secret ${keysName} in ${namespace} (HTTP ${code}: ${errorMessage(err)}); Vault not initialised`, true);
      throw err; // apiserver trouble: nothing initialised yet, retried with backoff
    }
    const result = await initVault(this.nodeClient(node.address, caCert), { ...params, storeRootToken: true });
    const pending: PendingInit = { keys: { keys: result.keys, rootToken: result.rootToken }, address: node.address, startedAt, attempts: 0 };
    this.pendingKeys.set(pendingKeyOf(vault), pending);
    return this.storeInitKeys(vault, ctx, pending, cipher);
  }

  /** Writes keys held in memory into the keys Secret, retrying; they leave memory only once stored. */
  private async storeInitKeys(vault: VaultResource, ctx: VaultReconcileContext, pending: PendingInit, cipher: KeyCipher | undefined): Promise<V1Secret> {
    const namespace = vault.metadata!.namespace!;
    const keysName = unsealKeysSecretName(vault);
    let saved: V1Secret | undefined;
    const persist = async () => {
      const data = await encodeKeysSecretData(pending.keys, cipher);
      const current = await this.readSecret(ctx, namespace, keysName);
      if (hasStoredKeys(current?.data)) {
        // an earlier write whose answer was lost, or someone else's keys: never overwrite, compare
        const stored = await decodeKeysSecretData(current!.data, cipher);
        const same = stored.keys.length === pending.keys.keys.length && stored.keys.every((k, i) => k.reveal() === pending.keys.keys[i]!.reveal());
        if (!same) throw new Error(`Secret ${keysName} already holds other unseal keys; not overwriting them`);
        saved = current;
        return;
      }
      const annotations: Record<string, string> = { ...(current?.metadata?.annotations ?? {}), ...(cipher ? { [KMS_KEY_ANNOTATION]: cipher.keyId } : {}) };
      delete annotations[INIT_STARTED_ANNOTATION];
      saved = await this.writeSecret(ctx, current, { metadata: { name: keysName, namespace, annotations }, type: 'Opaque', data });
    };
    const stored = await persistWithRetry(pending, persist, ctx.clock, this.deps.persistKeysBudgetMs ?? 30_000);
    if (!stored || !saved) {
      const message = `Vault at ${pending.address} is initialised; its unseal keys are held in the operator's memory only until Secret ${keysName} can be written (${pending.attempts} attempts, last: ${pending.lastError}). Retrying; do not stop the operator.`;
      ctx.log.error('unseal keys not stored yet, retrying', { vault: `${namespace}/${vault.metadata!.name}`, attempts: pending.attempts, error: pending.lastError });
      throw new ReconcileStop([{ type: VaultConditionType.Initialized, status: 'False', reason: VaultReason.KeysNotStored, message }], message, true);
    }
    this.pendingKeys.delete(pendingKeyOf(vault));
    const shares = pending.keys.keys.length;
    await ctx.event('Normal', VaultEventReason.Initialized, `initialised ${pending.address} with ${shares} key shares; keys stored in Secret ${keysName}${cipher ? ' encrypted with KMS' : ''}${pending.attempts > 1 ? ` (after ${pending.attempts} attempts)` : ''}`);
    ctx.log.info('vault initialised', { vault: `${namespace}/${vault.metadata!.name}`, secret: keysName, attempts: pending.attempts });
    return saved;
  }

  /** Unseal keys not yet stored (for shutdown warnings and tests). */
  unstoredKeys(): number {
    return this.pendingKeys.size;
  }

  /**
   * A client the operator may configure Vault with. In order: spec.external.auth;
   * the operator token kept in `<name>-operator-token`; bootstrapping that token
   * with a stored root token. The root token is revoked and removed once the
   * operator token exists, unless storeRootToken.
   */
  private async operatorAccess(
    vault: VaultResource,
    ctx: VaultReconcileContext,
    address: string,
    caCert: string | undefined,
    keys: { hasRootToken: boolean; hasKeys: boolean; load: () => Promise<StoredKeys> },
    storeRootToken: boolean,
  ): Promise<VaultClient> {
    const name = vault.metadata!.name!;
    const namespace = vault.metadata!.namespace!;
    const external = vault.spec.external?.auth;
    if (external?.method === 'kubernetes') {
      return this.configClient(address, caCert, { method: 'kubernetes', role: external.role, ...(external.mountPath ? { mountPath: external.mountPath } : {}) }, `k8s:${external.mountPath ?? 'kubernetes'}:${external.role}`);
    }
    if (external?.method === 'token') {
      const ref = await this.readSecret(ctx, namespace, external.tokenSecretRef.name);
      const raw = ref?.data?.[external.tokenSecretRef.key ?? 'token'];
      if (!raw) throw this.notAuthorized(`Secret ${external.tokenSecretRef.name} has no key ${external.tokenSecretRef.key ?? 'token'}`);
      const token = Buffer.from(raw, 'base64').toString('utf8').trim();
      markSecret(token);
      return this.configClient(address, caCert, { method: 'token', token }, token);
    }

    const nodeClient = this.nodeClient(address, caCert);
    const tokenSecret = await this.readSecret(ctx, namespace, operatorTokenSecretName(name));
    let token: Secret | undefined;
    if (tokenSecret?.data?.token) {
      const value = Buffer.from(tokenSecret.data.token, 'base64').toString('utf8');
      markSecret(value);
      token = secret(value);
      const ttl = await tokenTtl(nodeClient, token);
      if (!ttl.valid) token = undefined;
      else if (needsRenewal(ttl.ttl, ttl.period)) await renewToken(nodeClient, token);
    }
    const rootToken = keys.hasRootToken ? (await keys.load()).rootToken : undefined;
    if (!token && rootToken) {
      token = await createOperatorToken(nodeClient, rootToken);
      await this.writeSecret(ctx, tokenSecret, {
        metadata: { name: operatorTokenSecretName(name), namespace, ownerReferences: [ownerReference(vault)] },
        type: 'Opaque',
        data: { token: b64(token.reveal()) },
      });
      ctx.log.info('operator token created', { vault: `${namespace}/${name}` });
    }
    // only once the operator has its own token is the root token given up
    if (token && rootToken && !storeRootToken) {
      await revokeToken(nodeClient, rootToken);
      const keysSecret = await this.readSecret(ctx, namespace, unsealKeysSecretName(vault));
      if (keysSecret?.data?.[ROOT_TOKEN_KEY]) {
        const data = { ...keysSecret.data };
        delete data[ROOT_TOKEN_KEY];
        await this.writeSecret(ctx, keysSecret, { ...keysSecret, data });
      }
      await ctx.event('Normal', VaultEventReason.RootTokenRevoked, 'revoked the root token; the operator uses its own token (storeRootToken is false)');
    }
    // the Kubernetes-auth role (kept by configure()) is preferred once it works;
    // the stored token stays the way back in
    if (this.deps.settings.operatorServiceAccount) {
      const k8s = this.configClient(
        address,
        caCert,
        { method: 'kubernetes', role: OPERATOR_AUTH_ROLE, mountPath: OPERATOR_AUTH_PATH, ...(this.deps.operatorJwt ? { jwt: this.deps.operatorJwt } : {}) },
        `k8s:${OPERATOR_AUTH_PATH}:${OPERATOR_AUTH_ROLE}`,
      );
      try {
        await k8s.token();
        return k8s;
      } catch (err) {
        if (err instanceof VaultError && err.unreachable) throw err;
        ctx.log.debug('operator Kubernetes-auth login not possible yet, using the operator token', { error: describeError(err) });
      }
    }
    if (!token && keys.hasKeys) {
      // every credential is gone: the unseal keys can still make a root token
      const root = await generateRootToken(nodeClient, (await keys.load()).keys);
      try {
        token = await createOperatorToken(nodeClient, root);
        await this.writeSecret(ctx, tokenSecret, {
          metadata: { name: operatorTokenSecretName(name), namespace, ownerReferences: [ownerReference(vault)] },
          type: 'Opaque',
          data: { token: b64(token.reveal()) },
        });
      } finally {
        await revokeToken(nodeClient, root);
      }
      await ctx.event(
        'Normal',
        VaultEventReason.OperatorTokenRecovered,
        `the operator had no valid token: generated a root token with the unseal keys, created a new operator token in Secret ${operatorTokenSecretName(name)}, revoked the root token`,
      );
    }
    if (!token) {
      throw this.notAuthorized(
        `the operator has no valid token for this Vault: put one in Secret ${operatorTokenSecretName(name)} (key token), set spec.external.auth, or give the operator a Kubernetes-auth role (VAULT_AUTOPILOT_OPERATOR_SERVICE_ACCOUNT)`,
      );
    }
    return this.configClient(address, caCert, { method: 'token', token: token.reveal() }, token.reveal());
  }

  private notAuthorized(message: string): ReconcileStop {
    return new ReconcileStop([{ type: VaultConditionType.Configured, status: 'False', reason: VaultReason.NotAuthorized, message }], message, true);
  }

  private async configure(vault: VaultResource, ctx: VaultReconcileContext, client: VaultClient, status: VaultStatus, updates: ConditionUpdate[]): Promise<void> {
    const cluster = {
      ...(this.deps.settings.kubernetesHost ? { kubernetesHost: this.deps.settings.kubernetesHost } : {}),
      ...(this.deps.settings.kubernetesCaCert ? { kubernetesCaCert: this.deps.settings.kubernetesCaCert } : {}),
    };
    const saveRecord = async (record: ManagedRecord) => {
      status.managed = record;
      // written at once (not with the final status) so a crash cannot lose it
      await ctx.patchStatus(mergePatchFor({ managed: vault.status?.managed ?? {} }, { managed: record }));
      vault.status = { ...(vault.status ?? {}), managed: record };
    };
    let outcome;
    try {
      // with spec.external.auth the user decides how the operator gets in
      const identity = vault.spec.external?.auth ? undefined : this.deps.settings.operatorServiceAccount;
      const withOperator = withOperatorAuth(vault.spec.externalConfig, identity, OPERATOR_POLICY_NAME);
      const kms = this.deps.kmsIdentity;
      const config = kms ? withKmsIdentity(withOperator, identity, vault.spec.externalConfig, kms.pathPolicy) : withOperator;
      // the operator's own policy grows by the engine-configuration paths only when it uses its own token
      outcome = await configureVault(client, config, cluster, vault.status?.managed, saveRecord, {
        manageOperatorPolicy: !vault.spec.external?.auth,
        // startupSecrets' secretKeyRef: Secrets of the Vault resource's own namespace only
        readSecretKey: async (name, key) => {
          const raw = (await this.readSecret(ctx, vault.metadata!.namespace!, name))?.data?.[key];
          if (raw === undefined) return undefined;
          const value = Buffer.from(raw, 'base64').toString('utf8');
          markSecret(value);
          return value;
        },
      });
    } catch (err) {
      if (err instanceof VaultError && !err.unreachable && (err.status === 403 || err.status === 401)) {
        throw this.notAuthorized(`Vault refused the operator's token: ${describeError(err)}`);
      }
      throw err;
    }
    status.managed = outcome.record;
    for (const change of outcome.result.applied) {
      await ctx.event('Normal', VaultEventReason.ConfigChanged, change.summary);
      ctx.log.info('vault config changed', { vault: `${vault.metadata!.namespace}/${vault.metadata!.name}`, change: change.summary });
    }
    const issues = [
      ...outcome.plan.problems.map((p) => `${p.concern} ${p.id}: ${p.message}`),
      ...outcome.result.failed.map((f) => `${f.change.concern} ${f.change.id}: ${f.error}`),
    ];
    if (issues.length) {
      const message = `${issues.length} entr${issues.length === 1 ? 'y' : 'ies'} not applied (the rest is): ${issues.join('; ')}`;
      await ctx.event('Warning', VaultEventReason.ConfigInvalid, message);
      updates.push({ type: VaultConditionType.Configured, status: 'False', reason: VaultReason.InvalidEntries, message });
      return;
    }
    const record = outcome.record;
    const count = (k: keyof ManagedRecord) => record[k]?.length ?? 0;
    updates.push({
      type: VaultConditionType.Configured,
      status: 'True',
      reason: VaultReason.Applied,
      message: `externalConfig applied: ${count('policies')} policies, ${count('auth')} auth methods, ${count('roles')} roles, ${count('secrets')} secret engines, ${count('audit')} audit devices`,
    });
  }

  // ---------------------------------------------------------------- finalize

  async finalize(vault: VaultResource, ctx: VaultReconcileContext): Promise<void> {
    const name = vault.metadata!.name!;
    const namespace = vault.metadata!.namespace!;
    if (!vault.spec.external) {
      try {
        this.deps.onKubeWrite?.(`delete ClusterRoleBinding/${authDelegatorBindingName(namespace, name)}`);
        await ctx.kube.rbac.deleteClusterRoleBinding({ name: authDelegatorBindingName(namespace, name) });
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
    }
    const keysName = unsealKeysSecretName(vault);
    const keys = await this.readSecret(ctx, namespace, keysName);
    if (keys) {
      if (vault.spec.deleteUnsealKeysOnDelete) {
        this.deps.onKubeWrite?.(`delete Secret/${keysName}`);
        await ctx.kube.core.deleteNamespacedSecret({ name: keysName, namespace });
        await ctx.event('Warning', VaultEventReason.UnsealKeysDeleted, `deleted Secret ${keysName} with the unseal keys (deleteUnsealKeysOnDelete is true)`);
      } else {
        await ctx.event('Warning', VaultEventReason.UnsealKeysKept, `kept Secret ${keysName} with the unseal keys; delete it by hand once the Vault data is gone`);
      }
    }
    for (const [key] of this.configClients) if (key.startsWith(`${namespace}/${name}`)) this.configClients.delete(key);
  }

  // ---------------------------------------------------------------- plumbing

  private nodeClient(address: string, caCert: string | undefined): VaultClient {
    const key = `${address}|${caCert ?? ''}`;
    let client = this.nodeClients.get(key);
    if (!client) {
      client = new VaultClient({ address, ...(caCert ? { caCert } : {}), auth: { method: 'token' } });
      this.nodeClients.set(key, client);
      this.deps.onVaultClient?.(client);
    }
    return client;
  }

  private configClient(address: string, caCert: string | undefined, auth: VaultAuth, identity: string): VaultClient {
    const key = `${address}|${caCert ?? ''}|${identity}`;
    let client = this.configClients.get(key);
    if (!client) {
      client = new VaultClient({ address, ...(caCert ? { caCert } : {}), auth });
      this.configClients.set(key, client);
      this.deps.onVaultClient?.(client);
    }
    return client;
  }

  private async readSecret(ctx: VaultReconcileContext, namespace: string, name: string): Promise<V1Secret | undefined> {
    try {
      return await ctx.kube.core.readNamespacedSecret({ name, namespace });
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  /** Create, or replace the current version (optimistic concurrency through resourceVersion). */
  private async writeSecret(ctx: VaultReconcileContext, current: V1Secret | undefined, body: V1Secret): Promise<V1Secret> {
    const namespace = body.metadata!.namespace!;
    const name = body.metadata!.name!;
    const full: V1Secret = { apiVersion: 'v1', kind: 'Secret', ...body };
    this.deps.onKubeWrite?.(`${current ? 'replace' : 'create'} Secret/${name}`);
    if (!current) return ctx.kube.core.createNamespacedSecret({ namespace, body: full });
    full.metadata = { ...current.metadata, ...body.metadata };
    return ctx.kube.core.replaceNamespacedSecret({ name, namespace, body: full });
  }
}

/**
 * A JSON merge patch turning `previous` into `next`: keys that disappeared
 * become null (merge patch cannot delete otherwise); lists are replaced whole.
 */
export function mergePatchFor(previous: object | undefined, next: object): Record<string, unknown> {
  const patch: Record<string, unknown> = { ...(next as Record<string, unknown>) };
  const prev = (previous ?? {}) as Record<string, unknown>;
  for (const key of Object.keys(prev)) {
    const before = prev[key];
    const after = patch[key];
    if (after === undefined) patch[key] = null;
    else if (isPlainRecord(before) && isPlainRecord(after)) patch[key] = mergePatchFor(before, after);
  }
  return patch;
}

function isPlainRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Bank-Vaults fields without effect: status.ignoredFields, and one Warning Event whenever that list changes. */
async function reportIgnoredFields(vault: VaultResource, ctx: VaultReconcileContext, status: VaultStatus, cluster: { serviceMonitorApiMissing: boolean }): Promise<void> {
  const ignored = ignoredFields(vault.spec, vault.metadata?.namespace, cluster);
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

/** Which Vault resource pending keys belong to: a re-created resource of the same name is another one. */
function pendingKeyOf(vault: VaultResource): string {
  return `${vault.metadata!.namespace}/${vault.metadata!.name}/${vault.metadata!.uid ?? ''}`;
}

function b64(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64');
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

/** What the framework's ControllerSpec needs from us (structural, see operator/README.md). */
export interface ControllerHost {
  registerController(spec: {
    kind: string;
    group: string;
    version: string;
    plural: string;
    namespace?: string;
    finalizer?: string;
    reconcile(obj: VaultResource, ctx: VaultReconcileContext): Promise<{ requeueAfterMs?: number } | void>;
    finalize?(obj: VaultResource, ctx: VaultReconcileContext): Promise<void>;
    resyncPeriodMs?: number;
  }): Promise<void>;
  /** The framework's secondary watch (framework/operator.ts); without it Vault pods are only seen on resync. */
  watchRelated?(spec: { group: string; version: string; plural: string; namespace?: string; labelSelector?: string; map(obj: V1Pod): Array<{ kind: string; namespace?: string; name: string }> }): Promise<void>;
}

/** Registers the Vault lifecycle on the operator; call from the operator's init(). */
export async function registerVaultController(operator: ControllerHost, deps: VaultControllerDeps): Promise<VaultController> {
  const controller = new VaultController(deps);
  await operator.registerController({
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
  await operator.watchRelated?.({
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
