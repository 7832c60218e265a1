// Raft membership follows `size` (managed mode). Scaling up needs nothing
// here: a new pod joins through retry_join and is unsealed like any other.
// Scaling down removes the pods but not their Raft peers: Vault keeps them as
// voters that never answer, and two dead voters of five already leave no
// room for one more failure. So the operator removes the peers of pods whose
// ordinal is at or above `size`, and only those: a peer it does not recognise
// as one of its own pods is never touched.
import type { Logger } from '../../framework/index.js';
import type { VaultClient } from '../../vault/client.js';
import { VaultError } from '../../vault/client.js';
import { peerServiceName, podName } from './desired-objects.js';

export interface RaftServer {
  node_id: string;
  address: string;
  leader: boolean;
  voter: boolean;
}

/**
 * Peers to remove: those whose address is `<name>-<i>.<name>-internal.<ns>.svc:<port>`
 * with i >= size. The leader is left for a later pass (it steps down when its
 * pod stops). Pure.
 */
export function peersToRemove(servers: readonly RaftServer[], name: string, namespace: string, size: number): RaftServer[] {
  const suffix = `.${peerServiceName(name)}.${namespace}.svc`;
  return servers.filter((server) => {
    const host = server.address.replace(/:\d+$/, '');
    if (!host.endsWith(suffix)) return false;
    const pod = host.slice(0, -suffix.length);
    const match = /^(.*)-(\d+)$/.exec(pod);
    if (!match || match[1] !== name) return false;
    const ordinal = Number(match[2]);
    return pod === podName(name, ordinal) && ordinal >= size && !server.leader;
  });
}

/** Reads the Raft configuration through the active node and removes the peers of scaled-away pods. Returns the removed addresses. */
export async function pruneRaftPeers(client: VaultClient, name: string, namespace: string, size: number, log: Logger): Promise<string[]> {
  let servers: RaftServer[];
  try {
    const res = await client.request<{ data?: { config?: { servers?: RaftServer[] } } }>('GET', 'sys/storage/raft/configuration');
    servers = res.data.data?.config?.servers ?? [];
  } catch (err) {
    // not Raft storage (spec.config replaced it), or a policy from before this
    // rule: membership is then the user's, as before
    if (err instanceof VaultError && (err.status === 400 || err.status === 403 || err.status === 404)) {
      log.debug('raft configuration not readable; peers left as they are', { status: err.status });
      return [];
    }
    throw err;
  }
  const removed: string[] = [];
  for (const server of peersToRemove(servers, name, namespace, size)) {
    await client.request('POST', 'sys/storage/raft/remove-peer', { server_id: server.node_id });
    removed.push(server.address);
  }
  return removed;
}
