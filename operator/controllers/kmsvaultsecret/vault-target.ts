// Which Vault a KMSVaultSecret writes to, and how the operator gets in.
// chooseVault/vaultUsable/loginFailure decide (pure); VaultTargets does the
// I/O: it reads the `Vault` resource and its CA Secret and keeps one client
// per Vault, logged in with the role the Vault controller keeps for
// KMSVaultSecrets (kms-identity.ts). Nothing is copied between namespaces:
// the CA is read where the Vault controller wrote it.
import { createHash } from 'node:crypto';
import { KmsVaultSecretReason, type KMSVaultSecret } from '../../api/kmsvaultsecret.js';
import { API_GROUP, API_VERSION, OPERATOR_AUTH_PATH } from '../../api/naming.js';
import { namespaceNotServed, needsNamespaceLabels } from '../../api/self-service.js';
import { vaultEndpoint } from '../../api/vault-endpoint.js';
import { VAULT_PLURAL, VaultConditionType, type VaultResource } from '../../api/vault.js';
import { getCondition, getOrUndefined, type KubeClients, resourcePath } from '../../framework/index.js';
import { VaultClient, VaultError } from '../../vault/client.js';
import type { VaultRef } from '../serviceaccount/settings.js';
import { hasKmsIdentity, KMS_AUTH_ROLE, KMS_ROLE_ID } from '../vault/kms-identity.js';
import { NO_EXTERNAL_VAULTS, vaultTrustDecision, type ExternalVaultTrust } from '../vault/trust.js';
import type { Failure } from './plan.js';

/** How soon an object waiting for its Vault looks again (a Vault becomes Ready in about a minute). */
export const VAULT_WAIT_RETRY_MS = 10_000;

export type VaultChoice = { kind: 'connection' } | { kind: 'resource'; ref: VaultRef };

export function formatRef(ref: VaultRef): string {
  return `${ref.namespace}/${ref.name}`;
}

/**
 * spec.vaultRef wins; otherwise the operator's configured connection (an
 * operator that manages no Vault); otherwise the default `Vault` resource.
 */
export function chooseVault(obj: KMSVaultSecret, hasConnection: boolean, defaultVault: VaultRef): VaultChoice {
  const ref = obj.spec.vaultRef;
  if (ref?.name) return { kind: 'resource', ref: { name: ref.name, namespace: ref.namespace || obj.metadata?.namespace || '' } };
  if (hasConnection) return { kind: 'connection' };
  return { kind: 'resource', ref: defaultVault };
}

/** The Vault a deletion must clean up: the one recorded in status, else today's choice. */
export function recordedChoice(obj: KMSVaultSecret, current: VaultChoice): VaultChoice {
  const recorded = obj.status?.vault;
  const m = recorded ? /^([^/:]+)\/([^/]+)$/.exec(recorded) : null;
  if (m) return { kind: 'resource', ref: { namespace: m[1]!, name: m[2]! } };
  return recorded ? { kind: 'connection' } : current;
}

const waiting = (reason: KmsVaultSecretReason, message: string): Failure => ({ reason, message, transient: false, retryAfterMs: VAULT_WAIT_RETRY_MS });

/** Whether a `Vault` resource can take KMSVaultSecrets now; the failure says what to fix. */
export function vaultUsable(ref: VaultRef, vault: VaultResource | undefined): Failure | undefined {
  const name = formatRef(ref);
  if (!vault || vault.metadata?.deletionTimestamp) {
    return waiting(
      KmsVaultSecretReason.VaultNotFound,
      `Vault resource ${name} ${vault ? 'is being deleted' : 'does not exist'}: create it (see samples/vault-managed.yaml) or point spec.vaultRef at another one; will retry`,
    );
  }
  const ready = getCondition(vault.status?.conditions, VaultConditionType.Ready);
  if (ready?.status !== 'True') {
    const why = ready ? `${ready.reason}: ${ready.message}` : 'no status yet';
    return waiting(KmsVaultSecretReason.VaultNotReady, `Vault ${name} is not Ready (${why}); will retry`);
  }
  if (!hasKmsIdentity(vault.status?.managed)) {
    return waiting(
      KmsVaultSecretReason.VaultIdentityMissing,
      `Vault ${name} has no login for KMSVaultSecrets (role ${KMS_ROLE_ID}): the operator keeps one in each Vault it logs in to with its own ServiceAccount (VAULT_AUTOPILOT_OPERATOR_SERVICE_ACCOUNT, set by install.yaml), unless auth path ${OPERATOR_AUTH_PATH} is hand-written or spec.external.auth is set`,
    );
  }
  return undefined;
}

/**
 * A KMSVaultSecret writes only through a Vault that serves its namespace (the
 * rule annotated ServiceAccounts and pods follow too, api/self-service.ts).
 * Checked before anything else about that Vault is told (its Ready message,
 * its address): the object's owner may not even be allowed to read it.
 */
export function vaultServes(vault: VaultResource, namespace: string, labels: Record<string, string>): Failure | undefined {
  const notServed = namespaceNotServed(vault, namespace, labels);
  if (!notServed) return undefined;
  return waiting(
    KmsVaultSecretReason.SelfServiceRefused,
    `${notServed}. Nothing was written: the Vault's owners admit the namespace in its spec.selfService.namespaces (from: Selector with a label of this namespace, or All), or point spec.vaultRef at a Vault that serves it; will retry`,
  );
}

/**
 * The operator logs in with its own ServiceAccount JWT: only to a managed
 * Vault, or to an external address the operator's settings allow and the
 * Vault controller pinned (status.externalAddress). A spec that changed since
 * (still Ready for a moment) is not followed.
 */
export function vaultTrusted(ref: VaultRef, vault: VaultResource, trust: ExternalVaultTrust): Failure | undefined {
  if (!vault.spec.external) return undefined;
  const decision = vaultTrustDecision(vault, trust);
  if (!decision.ok) return waiting(KmsVaultSecretReason.VaultNotTrusted, `Vault ${formatRef(ref)}: ${decision.message}`);
  if (vault.status?.externalAddress !== vault.spec.external.address) {
    return waiting(KmsVaultSecretReason.VaultNotReady, `Vault ${formatRef(ref)} has not adopted ${vault.spec.external.address} yet (status.externalAddress); will retry`);
  }
  return undefined;
}

/**
 * Through a `Vault` resource the operator's login sees only the KV mounts that
 * resource declares, so "no engine here" usually means "not declared there".
 */
export function withMountHint(failure: Failure, vault: string, connectionAddress: string | undefined): Failure {
  if (vault === connectionAddress) return failure;
  return { ...failure, message: `${failure.message}; through Vault ${vault}, KMSVaultSecrets may write only the KV mounts its spec.externalConfig.secrets declares` };
}

/** A refused login, named for the user (the reason Vault gave, never the JWT). */
export function loginFailure(vault: string, err: VaultError): Failure {
  if (err.unreachable) {
    return { reason: KmsVaultSecretReason.VaultUnreachable, message: `Vault ${vault} is unreachable (${err.message}); will retry`, transient: true };
  }
  return {
    reason: KmsVaultSecretReason.VaultLoginFailed,
    message: `the operator could not log in to Vault ${vault} as role ${KMS_AUTH_ROLE} at auth/${OPERATOR_AUTH_PATH}: ${err.message}; will retry`,
    transient: true,
  };
}

export type Resolved = { ok: true; client: VaultClient; vault: string } | { ok: false; failure: Failure };

export interface VaultTargetsOptions {
  /** The operator's JWT for the Kubernetes-auth login; default the mounted ServiceAccount token. */
  operatorJwt?: () => Promise<string>;
  /** External Vaults the operator may log in to (the Vault controller's setting); default none. */
  trust?: ExternalVaultTrust;
}

/** Clients for `Vault` resources, one per address + CA, logged in as the KMS role. */
export class VaultTargets {
  readonly #clients = new Map<string, VaultClient>();

  constructor(private readonly options: VaultTargetsOptions = {}) {}

  /**
   * `forNamespace`: the namespace of the object that writes; the Vault must
   * serve it. Left out only to clean up what an object wrote earlier (its own
   * path, when the Vault served it).
   */
  async resolve(kube: KubeClients, ref: VaultRef, forNamespace?: string): Promise<Resolved> {
    const name = formatRef(ref);
    const vault = await this.#read<VaultResource>(kube, resourcePath(API_GROUP, API_VERSION, VAULT_PLURAL, ref.namespace, ref.name));
    let refused: Failure | undefined;
    if (vault && forNamespace !== undefined) {
      const labels = needsNamespaceLabels(vault) ? ((await this.#read<{ metadata?: { labels?: Record<string, string> } }>(kube, resourcePath('', 'v1', 'namespaces', undefined, forNamespace)))?.metadata?.labels ?? {}) : {};
      refused = vaultServes(vault, forNamespace, labels);
    }
    const problem = refused ?? vaultUsable(ref, vault) ?? vaultTrusted(ref, vault!, this.options.trust ?? NO_EXTERNAL_VAULTS);
    if (problem) return { ok: false, failure: problem };
    const endpoint = vaultEndpoint(vault!);
    let caCert = endpoint.caCert;
    if (!caCert && endpoint.caSecretName) {
      const secret = await this.#read<{ data?: Record<string, string> }>(kube, resourcePath('', 'v1', 'secrets', ref.namespace, endpoint.caSecretName));
      const ca = secret?.data?.['ca.crt'];
      if (!ca) {
        return { ok: false, failure: waiting(KmsVaultSecretReason.VaultNotReady, `the CA of Vault ${name} is not there yet (Secret ${ref.namespace}/${endpoint.caSecretName}, key ca.crt); will retry`) };
      }
      caCert = Buffer.from(ca, 'base64').toString('utf8');
    }
    const key = `${endpoint.address}|${createHash('sha256').update(caCert ?? '').digest('hex')}`;
    let client = this.#clients.get(key);
    if (!client) {
      client = new VaultClient({
        address: endpoint.address,
        ...(caCert ? { caCert } : {}),
        auth: { method: 'kubernetes', role: KMS_AUTH_ROLE, mountPath: OPERATOR_AUTH_PATH, ...(this.options.operatorJwt ? { jwt: this.options.operatorJwt } : {}) },
      });
      this.#clients.set(key, client);
    }
    try {
      await client.token();
    } catch (err) {
      if (err instanceof VaultError) return { ok: false, failure: loginFailure(name, err) };
      // no ServiceAccount token to log in with (an operator outside a pod): say so, never stay silent
      const code = (err as NodeJS.ErrnoException).code ?? 'error';
      return {
        ok: false,
        failure: { reason: KmsVaultSecretReason.VaultLoginFailed, message: `the operator has no ServiceAccount token to log in to Vault ${name} with (${code}); will retry`, transient: true },
      };
    }
    return { ok: true, client, vault: name };
  }

  async #read<T>(kube: KubeClients, path: string): Promise<T | undefined> {
    return getOrUndefined(kube.raw.request<T>({ method: 'GET', path, timeoutMs: 30_000 }));
  }
}
