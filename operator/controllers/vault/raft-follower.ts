// raftLeaderAddress other than `self` (Bank-Vaults' multi-cluster Raft): this
// Vault's pods join the Raft cluster of a leader elsewhere instead of forming
// their own. Its config gets retry_join with that leader first (then its own
// pods, so a later pod may join through an earlier one); the operator never
// initialises it (the leader's cluster is initialised), and unseals the
// joined pods with the keys of the leader's cluster (unsealConfig must name
// the same keys: the keys Secret copied here, or the same key store).
// The address is a tenant's choice, and the operator's own logins to the
// joined pods are forwarded to that leader: it gets the same trust decision
// as spec.external.address before any pod is configured to join it.
import type { VaultResource } from '../../api/vault.js';
import { externalAddressDecision, TrustReason, type Decision, type ExternalVaultTrust } from './trust.js';

export const RAFT_LEADER_FIELD = 'spec.raftLeaderAddress';

/** The leader's API address (Bank-Vaults: `https://<raftLeaderAddress>:8200`, scheme from raftLeaderApiSchemeOverride), or undefined for `self`/unset. */
export function raftLeaderApiAddr(vault: VaultResource): string | undefined {
  const host = vault.spec.raftLeaderAddress?.trim();
  if (!host || host === 'self' || vault.spec.external) return undefined;
  const scheme = vault.spec.raftLeaderApiSchemeOverride ?? 'https';
  // Bank-Vaults appends its fixed port 8200; an address that names a port keeps it
  return `${scheme}://${host}${/:\d{1,5}$/.test(host) ? '' : ':8200'}`;
}

/** May the pods (and through them the operator's logins) be sent to that leader? Pure. */
export function raftLeaderDecision(vault: VaultResource, trust: ExternalVaultTrust): Decision {
  const leader = raftLeaderApiAddr(vault);
  if (!leader) return { ok: true };
  return externalAddressDecision(leader, trust, `${RAFT_LEADER_FIELD} (as ${leader})`);
}

/** Why this Vault is not initialised by the operator. */
export function followerWaitingMessage(vault: VaultResource, addresses: string[]): string {
  return `this Vault joins the Raft cluster of ${raftLeaderApiAddr(vault)} (raftLeaderAddress): the operator does not initialise it. Waiting for ${addresses.join(', ')} to join (retry_join); it is then unsealed with the keys of unsealConfig, which must be the leader cluster's`;
}

/**
 * Once initialised, the cluster is fixed (issue 11: a changed address of an
 * initialised Vault is refused, not followed): a follower's leader is pinned
 * in status.raftLeaderAddress, and a Vault initialised as its own cluster
 * (no pin) does not start joining a leader afterwards. Refused before the
 * StatefulSet is touched, so no pod is reconfigured to join elsewhere and
 * the operator's logins are never forwarded there. Pure.
 */
export function raftLeaderChangeDecision(vault: VaultResource): Decision {
  const wanted = raftLeaderApiAddr(vault);
  const pinned = vault.status?.raftLeaderAddress;
  if (vault.spec.external || !vault.status?.initialized || wanted === pinned) return { ok: true };
  const was = pinned ? `the Raft cluster of ${pinned}` : 'its own Raft cluster';
  const now = wanted ? `join ${wanted}` : `form its own cluster ("self")`;
  return {
    ok: false,
    reason: TrustReason.AddressChanged,
    message:
      `${RAFT_LEADER_FIELD} changed after this Vault was initialised in ${was}: refused, the pods are not reconfigured to ${now} and nothing is sent there. ` +
      (pinned
        ? `Set it back to the leader it joined; a cluster admin who moves the Vault clears the pin: kubectl patch vault ${vault.metadata?.name} -n ${vault.metadata?.namespace} --subresource=status --type=merge -p '{"status":{"raftLeaderAddress":null}}'`
        : 'Set it back to "self" (or remove it); to join another cluster, create a new Vault resource with raftLeaderAddress'),
  };
}
