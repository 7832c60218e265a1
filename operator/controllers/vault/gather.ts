// Gather: what the Vault lifecycle reads before it decides anything — the
// nodes to talk to, the CA to trust, the stored keys, and (managed mode) the
// pods and claims that say why a node does not answer. Managed objects are
// ensured on the way, since the CA comes from them.
import { ExpectedState } from '../../framework/index.js';
import type { V1PersistentVolumeClaim, V1Pod } from '@kubernetes/client-node';
import { VaultConditionType, VaultReason } from '../../api/vault.js';
import { keepCaCopies } from './ca-namespaces.js';
import { podAddress, podName, selectorLabels, unsealKeysSecretName, vaultSize } from './desired-objects.js';
import { ensureManagedObjects } from './managed-objects.js';
import { readSecret, type Gathered, type VaultPhaseContext } from './phase-context.js';
import { keyStoreOf } from './key-store.js';
import { raftLeaderChangeDecision, raftLeaderDecision } from './raft-follower.js';
import { refusedStop } from './refusal.js';
import { keysSecretDecision, NO_EXTERNAL_VAULTS, vaultTrustDecision } from './trust.js';

export async function gather(p: VaultPhaseContext): Promise<Gathered> {
  const { vault, ctx } = p;
  const name = vault.metadata!.name!;
  const namespace = vault.metadata!.namespace!;
  if (vault.spec.external) {
    // before anything is sent to it: the platform must have allowed the address, and it must be the pinned one
    const trusted = vaultTrustDecision(vault, p.deps.settings.externalVaults ?? NO_EXTERNAL_VAULTS);
    if (!trusted.ok) throw await refusedStop(p, trusted);
  }
  // unsealConfig.vault: an unlisted, changed or credential-less key store stops here, before any pod or request
  await keyStoreOf(p);
  const keysSecret = await readSecret(ctx, namespace, unsealKeysSecretName(vault));
  // a Secret that is not this Vault's keys is neither read for keys nor ever written
  const keysOwned = keysSecretDecision(keysSecret, name);
  if (!keysOwned.ok) throw await refusedStop(p, keysOwned);
  if (vault.spec.external) {
    let caCert = vault.spec.external.caCert;
    if (!caCert && vault.spec.external.caSecret) {
      const ca = await readSecret(ctx, namespace, vault.spec.external.caSecret);
      if (!ca?.data?.['ca.crt']) {
        throw new ExpectedState(
          [{ type: VaultConditionType.Ready, status: 'False', reason: VaultReason.InvalidSpec, message: `Secret ${vault.spec.external.caSecret} has no ca.crt` }],
          'missing CA',
          true,
        );
      }
      caCert = Buffer.from(ca.data['ca.crt'], 'base64').toString('utf8');
    }
    await keepCaCopies(p, caCert);
    return { nodes: [{ name: 'external', address: vault.spec.external.address }], ...(caCert ? { caCert } : {}), ...(keysSecret ? { keysSecret } : {}) };
  }
  // raftLeaderAddress: no pod is configured to join a leader the platform did not allow, nor another one once initialised
  for (const leader of [raftLeaderChangeDecision(vault), raftLeaderDecision(vault, p.deps.settings.externalVaults ?? NO_EXTERNAL_VAULTS)]) {
    if (!leader.ok) throw await refusedStop(p, leader);
  }
  const caCert = await ensureManagedObjects(p);
  await keepCaCopies(p, caCert);
  const address = p.deps.podAddress ?? podAddress;
  const nodes = Array.from({ length: vaultSize(vault) }, (_, i) => ({ name: podName(name, i), address: address(name, namespace, i) }));
  const pods = await podsAndClaims(p);
  return { nodes, ...(caCert ? { caCert } : {}), ...(keysSecret ? { keysSecret } : {}), pods };
}

/** The managed Vault's pods and data claims (by the labels the operator and the StatefulSet put on them). */
async function podsAndClaims(p: VaultPhaseContext): Promise<{ pods: V1Pod[]; claims: V1PersistentVolumeClaim[] }> {
  const { vault, ctx } = p;
  const namespace = vault.metadata!.namespace!;
  const labelSelector = Object.entries(selectorLabels(vault.metadata!.name!)).map(([k, v]) => `${k}=${v}`).join(',');
  const [pods, claims] = await Promise.all([
    ctx.kube.core.listNamespacedPod({ namespace, labelSelector }),
    ctx.kube.core.listNamespacedPersistentVolumeClaim({ namespace, labelSelector }),
  ]);
  return { pods: pods.items, claims: claims.items };
}
