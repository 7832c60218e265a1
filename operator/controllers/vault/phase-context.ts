// What every phase of the Vault lifecycle (gather, managed objects, init,
// converge, operator access, configure) is handed: one explicit context
// object instead of a controller's private fields, and the few helpers they
// all share (reading and writing Secrets).
import { type ConditionUpdate, ExpectedState, getOrUndefined, objectScope, type ReconcileContext } from '../../framework/index.js';
import type { V1PersistentVolumeClaim, V1Pod, V1Secret } from '@kubernetes/client-node';
import { API_GROUP } from '../../api/naming.js';
import { VAULT_KIND, VaultConditionType, VaultReason, type VaultResource, type VaultStatus } from '../../api/vault.js';
import type { Decryptor, Encryptor } from '../../kms/decryptor.js';
import type { PathPolicy } from '../kmsvaultsecret/settings.js';
import type { VaultClients } from './clients.js';
import type { PendingKeys } from './pending-keys.js';
import type { VaultControllerSettings } from './settings.js';

export const KMS_KEY_ANNOTATION = `${API_GROUP}/kms-key-id`;

/**
 * Where values that reach the operator through a Vault resource are redacted:
 * its own log lines and Events. Every key, token and Secret value read for a
 * Vault is registered here, never globally: the resource's owner may have
 * chosen it (a Secret they write, an image that answers sys/init).
 */
export function redactionScope(vault: VaultResource): string {
  return objectScope(VAULT_KIND, vault.metadata?.namespace, vault.metadata?.name);
}

/** The part of the framework's ReconcileContext this controller uses. */
export type VaultReconcileContext = Pick<ReconcileContext<VaultResource>, 'log' | 'kube' | 'clock' | 'event' | 'patchStatus'>;

export interface VaultControllerDeps {
  settings: VaultControllerSettings;
  /** KMS for unsealConfig.aws; default AWS KMS in the key's region (endpoint from settings). */
  kms?: (region: string | undefined) => Encryptor & Decryptor;
  /**
   * How the operator reaches pod `ordinal` of a managed Vault; default its
   * peer DNS name. Tests without a kubelet point it at a real Vault server.
   */
  podAddress?: (name: string, namespace: string, ordinal: number) => string;
  /** The operator ServiceAccount's JWT for Kubernetes-auth login; default: the mounted token file. */
  operatorJwt?: () => Promise<string>;
  /**
   * Keep a Vault login for KMSVaultSecrets (policy + role, kms-identity.ts) in
   * every Vault the operator logs in to with its ServiceAccount.
   */
  kmsIdentity?: { pathPolicy: PathPolicy };
  /** How long one reconcile keeps retrying to store freshly made unseal keys before reporting (default 30 s; they are kept and retried after). */
  persistKeysBudgetMs?: number;
}

/** What the cluster told an earlier reconcile (cluster-wide facts, one flag each). */
export interface VaultClusterFacts {
  /** the ServiceMonitor API was not found on the last try (the CRD is cluster-wide: one flag) */
  serviceMonitorApiMissing: boolean;
}

/** One reconcile of one Vault resource, as every phase sees it. */
export interface VaultPhaseContext {
  vault: VaultResource;
  ctx: VaultReconcileContext;
  deps: VaultControllerDeps;
  /** Vault and KMS clients, kept across reconciles by the controller. */
  clients: VaultClients;
  /** Unseal keys made by sys/init that are not yet in their Secret: never dropped. */
  pendingKeys: PendingKeys;
  cluster: VaultClusterFacts;
  /** The status this reconcile builds; written once at the end. */
  status: VaultStatus;
  /** Condition updates decided so far; written with the status. */
  updates: ConditionUpdate[];
  /** caNamespaces found this pass (ca-namespaces.ts): why some namespaces got no copy; null = all did; unset = not checked. */
  caNamespacesRefused?: string | null;
  /** serviceRegistrationEnabled: the ServiceAccount not bound to the pod-labelling ClusterRole (not created by this Vault). */
  serviceRegistrationUnbound?: string;
}

/** A node the operator talks to: a managed pod or the adopted Vault. */
export interface VaultNode {
  name: string;
  address: string;
}

export interface Gathered {
  nodes: VaultNode[];
  caCert?: string;
  keysSecret?: V1Secret;
  /** Managed mode: the pods and data claims, to say why a node does not answer. */
  pods?: { pods: V1Pod[]; claims: V1PersistentVolumeClaim[] };
}

export function notAuthorized(message: string): ExpectedState {
  return new ExpectedState([{ type: VaultConditionType.Configured, status: 'False', reason: VaultReason.NotAuthorized, message }], message, true);
}

export async function readSecret(ctx: VaultReconcileContext, namespace: string, name: string): Promise<V1Secret | undefined> {
  return getOrUndefined(ctx.kube.core.readNamespacedSecret({ name, namespace }));
}

/** Create, or replace the current version (optimistic concurrency through resourceVersion). */
export async function writeSecret(p: Pick<VaultPhaseContext, 'ctx' | 'deps'>, current: V1Secret | undefined, body: V1Secret): Promise<V1Secret> {
  const ctx = p.ctx;
  const namespace = body.metadata!.namespace!;
  const name = body.metadata!.name!;
  const full: V1Secret = { apiVersion: 'v1', kind: 'Secret', ...body };
  if (!current) return ctx.kube.core.createNamespacedSecret({ namespace, body: full });
  full.metadata = { ...current.metadata, ...body.metadata };
  return ctx.kube.core.replaceNamespacedSecret({ name, namespace, body: full });
}

/** Which Vault resource pending keys belong to: a re-created resource of the same name is another one. */
export function pendingKeyOf(vault: VaultResource): string {
  return `${vault.metadata!.namespace}/${vault.metadata!.name}/${vault.metadata!.uid ?? ''}`;
}

export function b64(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64');
}
