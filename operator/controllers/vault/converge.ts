// Converge: seal state of every node -> initialise (init.ts) -> unseal ->
// the operator's own access (operator-access.ts) -> configuration
// (configure.ts) -> Raft peers. Expected states end the reconcile with a
// ExpectedState carrying their conditions.
import { ExpectedState } from '../../framework/index.js';
import { VaultConditionType, VaultEventReason, VaultReason, type VaultNodeStatus } from '../../api/vault.js';
import { KmsError, KmsFailure } from '../../kms/decryptor.js';
import { VaultError } from '../../vault/client.js';
import { initParameters } from '../../vault/init.js';
import { keysNotStoredMessage, INIT_STARTED_ANNOTATION } from '../../vault/preflight.js';
import { ROOT_TOKEN_KEY, decodeKeysSecretData, hasStoredKeys, unsealNode, type StoredKeys } from '../../vault/unseal.js';
import { configure } from './configure.js';
import { unsealKeysSecretName, vaultSize } from './desired-objects.js';
import { initialise, keyCipher, storeInitKeys, type VaultKeyCipher } from './init.js';
import { describeStore, keyStoreOf, withStoreKeys } from './key-store.js';
import { operatorAccess } from './operator-access.js';
import { pendingKeyOf, redactionScope, type Gathered, type VaultNode, type VaultPhaseContext } from './phase-context.js';
import { diagnosePods, newlyUnsealed, recheckDelayMs } from './pod-status.js';
import { pruneRaftPeers } from './raft-peers.js';
import { followerWaitingMessage, raftLeaderApiAddr } from './raft-follower.js';
import { refusedStop } from './refusal.js';
import { TrustReason } from './trust.js';

export async function converge(p: VaultPhaseContext, gathered: Gathered): Promise<{ requeueAfterMs?: number }> {
  const { vault, ctx, status, updates } = p;
  const namespace = vault.metadata!.namespace!;
  const keysName = unsealKeysSecretName(vault);
  const params = initParameters(vault.spec.unsealConfig);
  if ('error' in params) {
    throw new ExpectedState([{ type: VaultConditionType.Initialized, status: 'Unknown', reason: VaultReason.InvalidSpec, message: params.error }], params.error, false);
  }
  const cipher = keyCipher(p);
  // unsealConfig.vault: the keys live in another Vault's KV (refused before anything is sent when not allowed)
  const store = await keyStoreOf(p);

  // keys made by an earlier sys/init that could not be stored yet come first (they need no Vault)
  let keysSecret = gathered.keysSecret;
  const pending = p.pendingKeys.get(pendingKeyOf(vault));
  if (pending) keysSecret = await storeInitKeys(p, pending, cipher);
  if (store) keysSecret = await withStoreKeys(p, store, keysSecret);

  // seal state of every node
  const nodeStates = await Promise.all(gathered.nodes.map((n) => nodeState(p, n, gathered.caCert)));
  status.nodes = nodeStates.map((s) => s.status);
  const reachable = nodeStates.filter((s) => s.status.reachable);
  const names = (states: typeof nodeStates) => states.map((s) => s.node.name);
  const pods = gathered.pods;
  const podProblem = (states: typeof nodeStates) => (pods ? diagnosePods(names(states), pods.pods, pods.claims) : undefined);
  const recheck = (states: typeof nodeStates) => (pods ? recheckDelayMs(names(states), pods.pods, ctx.clock.now(), p.deps.settings.sealedRecheckMs) : undefined);
  if (reachable.length === 0) {
    status.sealed = true;
    // what Kubernetes knows about the pods says more than a refused connection
    const problem = podProblem(nodeStates);
    const reason = problem?.reason ?? VaultReason.VaultUnreachable;
    const message = problem?.message ?? `no Vault node answers (${gathered.nodes.map((n) => n.address).join(', ')})`;
    throw new ExpectedState(
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
    if (raftLeaderApiAddr(vault)) {
      // the leader's cluster is initialised; these pods join it (retry_join), then are unsealed below
      const message = followerWaitingMessage(vault, reachable.map((s) => s.node.name));
      throw new ExpectedState([{ type: VaultConditionType.Initialized, status: 'False', reason: VaultReason.JoiningRaftLeader, message }], message, true, recheck(nodeStates));
    }
    if (hasStoredKeys(keysSecret?.data)) {
      const message = store
        ? `Vault at ${first.node.address} is not initialised but ${describeStore(store)} (or Secret ${keysName}) already holds unseal keys, another Vault's?; the operator will not overwrite them. Set unsealKeysPath to a path of this Vault's own to initialise a new Vault.`
        : `Vault at ${first.node.address} is not initialised but Secret ${keysName} already holds unseal keys; the operator will not overwrite them. Move the Secret away (or set unsealConfig.kubernetes.secretName) to initialise a new Vault.`;
      throw new ExpectedState([{ type: VaultConditionType.Initialized, status: 'False', reason: VaultReason.InitFailed, message }], message, true);
    }
    // an auto-unseal seal (seal "transit" etc. in spec.config): the shares are recovery keys, the seal unseals
    keysSecret = await initialise(p, first.node, gathered.caCert, { ...params, recovery: !!first.autoUnseal }, cipher, keysSecret);
    first.status.initialized = true;
  }
  status.initialized = true;
  // from now on keys and tokens go to this address only (trust.ts addressChangeDecision)
  // (never cleared by the operator: only a cluster admin moves a Vault)
  if (vault.spec.external) status.externalAddress = vault.spec.external.address;
  // the same for the key store and a Raft follower's leader (key-store.ts, raft-follower.ts)
  if (store) status.keyStore = { address: store.address, path: store.path };
  const joined = raftLeaderApiAddr(vault);
  if (joined) status.raftLeaderAddress = joined;
  // a Raft follower's keys are the leader cluster's, never made here: missing ones are UnsealKeysMissing below
  const lost = hasStoredKeys(keysSecret?.data) || raftLeaderApiAddr(vault)
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
  const loadKeys = () => (decoded ??= decodeKeysSecretData(keysSecret!.data, cipher, redactionScope(vault)).catch((err: unknown) => notBound(p, cipher, err)));
  const sealed: string[] = [];
  const autoSealed: string[] = [];
  const unsealedNow = new Set<string>();
  for (const state of nodeStates) {
    if (!state.status.reachable || !state.status.sealed) continue;
    if (state.autoUnseal) {
      // its seal unseals it (at start, and right after sys/init); stored keys are recovery keys and cannot
      sealed.push(state.node.name);
      autoSealed.push(`${state.node.name} (seal ${state.autoUnseal})`);
      continue;
    }
    if (!hasKeys) {
      sealed.push(state.node.name);
      continue;
    }
    const outcome = await unsealNode(p.clients.node(state.node.address, gathered.caCert), (await loadKeys()).keys);
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
  status.leader = await leader(p, nodeStates.filter((s) => s.status.reachable && !s.status.sealed), gathered.caCert);
  if (!status.leader) delete status.leader;
  if (sealed.length) {
    const reason = hasKeys || autoSealed.length === sealed.length ? VaultReason.Sealed : VaultReason.UnsealKeysMissing;
    const message = autoSealed.length === sealed.length
      ? `sealed: ${autoSealed.join(', ')}; waiting for the auto-unseal seal to unseal it (if this lasts, check the seal's provider, e.g. the transit Vault and its token)`
      : hasKeys
        ? `sealed: ${sealed.join(', ')}; unsealing did not complete`
        : `sealed: ${sealed.join(', ')}, and ${store ? `${describeStore(store)} nor ` : ''}Secret ${keysName} in ${namespace} holds no unseal keys`;
    // once per episode, not on every re-check
    const previous = vault.status?.conditions?.find((c) => c.type === VaultConditionType.Unsealed);
    if (reason === VaultReason.UnsealKeysMissing && previous?.reason !== VaultReason.UnsealKeysMissing) await ctx.event('Warning', VaultEventReason.ReconcileFailed, message);
    throw new ExpectedState(
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
  const client = await operatorAccess(p, active.node.address, gathered.caCert, keys, params.storeRootToken);
  await configure(p, client);
  if (!vault.spec.external) {
    const size = vaultSize(vault);
    for (const address of await pruneRaftPeers(client, vault.metadata!.name!, namespace, size, ctx.log)) {
      await ctx.event('Normal', VaultEventReason.RaftPeerRemoved, `removed Raft peer ${address}: size is ${size}`);
    }
  }
  return unreachable.length ? { requeueAfterMs: recheck(down) ?? p.deps.settings.sealedRecheckMs } : {};
}

/**
 * KMS refused the stored keys under every context this Vault may use
 * (trust.ts unsealKeyContexts): copied from another Vault or namespace, or
 * corrupt. Say which contexts and why (Ready=False, Event Refused) instead
 * of KMS's bare "invalid ciphertext"; other failures (KMS down) pass.
 */
async function notBound(p: VaultPhaseContext, cipher: VaultKeyCipher | undefined, err: unknown): Promise<never> {
  if (!cipher || !(err instanceof KmsError && err.failure === KmsFailure.InvalidCiphertext)) throw err;
  throw await refusedStop(p, { ok: false, reason: TrustReason.UnsealKeysNotBound, message: `Secret ${unsealKeysSecretName(p.vault)}: ${cipher.undecryptable}` });
}

async function nodeState(p: VaultPhaseContext, node: VaultNode, caCert: string | undefined): Promise<{ node: VaultNode; status: VaultNodeStatus; autoUnseal?: string }> {
  try {
    const seal = await p.clients.node(node.address, caCert).sealStatus();
    const autoUnseal = seal.recovery_seal || (seal.type && seal.type !== 'shamir') ? (seal.type ?? 'auto') : undefined;
    return { node, status: { name: node.name, address: node.address, reachable: true, initialized: seal.initialized, sealed: seal.sealed }, ...(autoUnseal ? { autoUnseal } : {}) };
  } catch (err) {
    if (err instanceof VaultError && err.unreachable) return { node, status: { name: node.name, address: node.address, reachable: false } };
    throw err;
  }
}

async function leader(p: VaultPhaseContext, states: Array<{ node: VaultNode }>, caCert: string | undefined): Promise<string | undefined> {
  for (const state of states) {
    try {
      const res = await p.clients.node(state.node.address, caCert).request<{ ha_enabled?: boolean; is_self?: boolean }>('GET', 'sys/leader', undefined, { token: null });
      if (!res.data.ha_enabled || res.data.is_self) return state.node.name;
    } catch {
      // a node that cannot say is not the leader
    }
  }
  return undefined;
}
