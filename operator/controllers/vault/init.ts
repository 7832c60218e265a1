// Initialise: the KMS cipher for the keys, sys/init made crash-safe (a
// pre-flight first; keys held in memory until their Secret holds them).
import type { V1Secret } from '@kubernetes/client-node';
import { VaultConditionType, VaultEventReason, VaultReason } from '../../api/vault.js';
import { errorCode, errorMessage, ExpectedState } from '../../framework/index.js';
import { AwsKms } from '../../kms/aws-kms.js';
import { initVault } from '../../vault/init.js';
import { INIT_STARTED_ANNOTATION, kmsRoundTrip, preFlightChecksEnabled } from '../../vault/preflight.js';
import { ROOT_TOKEN_KEY, decodeKeysSecretData, encodeKeysSecretData, hasStoredKeys, kmsContext, type KeyCipher } from '../../vault/unseal.js';
import { unsealKeysSecretName } from './desired-objects.js';
import { persistWithRetry, type PendingInit } from './pending-keys.js';
import { keysSecretDecision, UNSEAL_KEYS_LABEL, unsealKeyContexts } from './trust.js';
import { describeStore, keyStoreClient, keyStoreOf } from './key-store.js';
import { probeKvStore, writeKvKeys } from '../../vault/kv-keys.js';
import { KMS_KEY_ANNOTATION, pendingKeyOf, readSecret, redactionScope, writeSecret, type VaultNode, type VaultPhaseContext } from './phase-context.js';

/** The KMS cipher of the keys, and what to say when no allowed context decrypts them (trust.ts unsealKeyContexts). */
export type VaultKeyCipher = KeyCipher & { undecryptable: string };

/** How the unseal keys are encrypted at rest: KMS (unsealConfig.aws) or not at all. */
export function keyCipher(p: VaultPhaseContext): VaultKeyCipher | undefined {
  const vault = p.vault;
  const aws = vault.spec.unsealConfig?.aws;
  if (!aws) return undefined;
  const region = aws.kmsRegion ?? p.deps.settings.kms.region;
  const kms = p.clients.kms(region, () => (p.deps.kms ? p.deps.kms(region) : new AwsKms({ region, ...(p.deps.settings.kms.endpoint ? { endpoint: p.deps.settings.kms.endpoint } : {}) })));
  // keys Bank-Vaults stored (its kmsEncryptionContext, or none): only when bound to this namespace or listed as legacy
  const others = unsealKeyContexts(vault, p.deps.settings.legacyNamespaces ?? []);
  return {
    kms,
    keyId: aws.kmsKeyId,
    context: kmsContext(vault.metadata!.namespace!, vault.metadata!.name!),
    fallbackContexts: others.fallbacks,
    undecryptable: others.message,
  };
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
export async function initialise(
  p: VaultPhaseContext,
  node: VaultNode,
  caCert: string | undefined,
  params: { secretShares: number; secretThreshold: number; recovery?: boolean },
  cipher: KeyCipher | undefined,
  existing: V1Secret | undefined,
): Promise<V1Secret> {
  const { vault, ctx } = p;
  const namespace = vault.metadata!.namespace!;
  const keysName = unsealKeysSecretName(vault);
  const preFlightFailed = (message: string, retry: boolean) =>
    new ExpectedState([{ type: VaultConditionType.Initialized, status: 'False', reason: VaultReason.PreFlightFailed, message }], message, retry);
  if (cipher && preFlightChecksEnabled(vault.spec.unsealConfig)) {
    const probe = await kmsRoundTrip(cipher);
    if (!probe.ok) {
      const previous = vault.status?.conditions?.find((c) => c.type === VaultConditionType.Initialized);
      if (previous?.message !== probe.message) await ctx.event('Warning', VaultEventReason.PreFlightFailed, probe.message);
      throw preFlightFailed(probe.message, true);
    }
  }
  const store = await keyStoreOf(p);
  if (store && preFlightChecksEnabled(vault.spec.unsealConfig)) {
    // Bank-Vaults' probe: the store takes a write, or sys/init does not start
    try {
      await probeKvStore(keyStoreClient(p, store), store.path);
    } catch (err) {
      throw preFlightFailed(`${describeStore(store)} does not take a write (${errorMessage(err)}); Vault not initialised`, true);
    }
  }
  const startedAt = ctx.clock.now().toISOString();
  const annotations = { ...(existing?.metadata?.annotations ?? {}), ...(cipher ? { [KMS_KEY_ANNOTATION]: cipher.keyId } : {}), [INIT_STARTED_ANNOTATION]: startedAt };
  let marked: V1Secret;
  try {
    // no owner reference: the keys must outlive the resource
    marked = await writeSecret(p, existing, { metadata: { name: keysName, namespace, annotations, labels: keysLabels(existing, vault.metadata!.name!) }, type: 'Opaque', data: existing?.data ?? {} });
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
  const result = await initVault(p.clients.node(node.address, caCert), { ...params, storeRootToken: true }, { scope: redactionScope(vault) });
  const pending: PendingInit = { keys: { keys: result.keys, rootToken: result.rootToken }, address: node.address, startedAt, attempts: 0, ...(params.recovery ? { recovery: true } : {}) };
  p.pendingKeys.set(pendingKeyOf(vault), pending);
  return storeInitKeys(p, pending, cipher);
}

/** Writes keys held in memory into the keys Secret, retrying; they leave memory only once stored. */
export async function storeInitKeys(p: VaultPhaseContext, pending: PendingInit, cipher: KeyCipher | undefined): Promise<V1Secret> {
  const { vault, ctx } = p;
  const namespace = vault.metadata!.namespace!;
  const keysName = unsealKeysSecretName(vault);
  let saved: V1Secret | undefined;
  const store = await keyStoreOf(p);
  const persist = async () => {
    const data = await encodeKeysSecretData(pending.keys, cipher);
    const current = await readSecret(ctx, namespace, keysName);
    // made by someone else since gather: kept in memory, reported, never written over
    const owned = keysSecretDecision(current, vault.metadata!.name!);
    if (!owned.ok) throw new Error(owned.message);
    if (store) {
      // unsealConfig.vault: the keys go to the store only; the Secret loses its "init started" mark
      await writeKvKeys(keyStoreClient(p, store), store.path, data, redactionScope(vault));
      const annotations: Record<string, string> = { ...(current?.metadata?.annotations ?? {}) };
      delete annotations[INIT_STARTED_ANNOTATION];
      const marker = current
        ? await writeSecret(p, current, { metadata: { name: keysName, namespace, annotations, labels: keysLabels(current, vault.metadata!.name!) }, type: 'Opaque', data: current.data ?? {} })
        : undefined;
      saved = { ...(marker ?? {}), metadata: marker?.metadata ?? { name: keysName, namespace }, data };
      return;
    }
    if (hasStoredKeys(current?.data)) {
      // an earlier write whose answer was lost, or someone else's keys: never overwrite, compare
      const stored = await decodeKeysSecretData(current!.data, cipher, redactionScope(vault));
      const same = stored.keys.length === pending.keys.keys.length && stored.keys.every((k, i) => k.reveal() === pending.keys.keys[i]!.reveal());
      if (!same) throw new Error(`Secret ${keysName} already holds other unseal keys; not overwriting them`);
      saved = current;
      return;
    }
    const annotations: Record<string, string> = { ...(current?.metadata?.annotations ?? {}), ...(cipher ? { [KMS_KEY_ANNOTATION]: cipher.keyId } : {}) };
    delete annotations[INIT_STARTED_ANNOTATION];
    saved = await writeSecret(p, current, { metadata: { name: keysName, namespace, annotations, labels: keysLabels(current, vault.metadata!.name!) }, type: 'Opaque', data });
  };
  const stored = await persistWithRetry(pending, persist, ctx.clock, p.deps.persistKeysBudgetMs ?? 30_000);
  if (!stored || !saved) {
    const message = `Vault at ${pending.address} is initialised; its unseal keys are held in the operator's memory only until Secret ${keysName} can be written (${pending.attempts} attempts, last: ${pending.lastError}). Retrying; do not stop the operator.`;
    ctx.log.error('unseal keys not stored yet, retrying', { vault: `${namespace}/${vault.metadata!.name}`, attempts: pending.attempts, error: pending.lastError });
    throw new ExpectedState([{ type: VaultConditionType.Initialized, status: 'False', reason: VaultReason.KeysNotStored, message }], message, true);
  }
  p.pendingKeys.delete(pendingKeyOf(vault));
  const shares = pending.keys.keys.length;
  await ctx.event('Normal', VaultEventReason.Initialized, `initialised ${pending.address} with ${shares} ${pending.recovery ? 'recovery key shares (auto-unseal seal)' : 'key shares'}; keys stored in ${store ? describeStore(store) : `Secret ${keysName}`}${cipher ? ' encrypted with KMS' : ''}${pending.attempts > 1 ? ` (after ${pending.attempts} attempts)` : ''}`);
  ctx.log.info('vault initialised', { vault: `${namespace}/${vault.metadata!.name}`, ...(store ? { keyStore: describeStore(store) } : { secret: keysName }), attempts: pending.attempts });
  return saved;
}

/** The keys Secret says whose keys it holds (trust.ts keysSecretDecision); other labels are kept. */
function keysLabels(current: V1Secret | undefined, vaultName: string): Record<string, string> {
  return { ...(current?.metadata?.labels ?? {}), [UNSEAL_KEYS_LABEL]: vaultName };
}
