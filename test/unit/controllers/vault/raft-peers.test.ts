import test from 'ava';
import { peersToRemove, type RaftServer } from '../../../../operator/controllers/vault/raft-peers.js';

const peer = (pod: string, extra: Partial<RaftServer> = {}): RaftServer => ({
  node_id: `id-${pod}`,
  address: `${pod}.vault-internal.vault-system.svc:8201`,
  leader: false,
  voter: true,
  ...extra,
});

test('size 3: the peers of vault-3 and vault-4 go, vault-0..2 stay', (t) => {
  const servers = ['vault-0', 'vault-1', 'vault-2', 'vault-3', 'vault-4'].map((p) => peer(p));
  t.deepEqual(peersToRemove(servers, 'vault', 'vault-system', 3).map((s) => s.node_id), ['id-vault-3', 'id-vault-4']);
});

test('nothing to remove when the peers match size', (t) => {
  t.deepEqual(peersToRemove([peer('vault-0'), peer('vault-1'), peer('vault-2')], 'vault', 'vault-system', 3), []);
});

test('the leader is left for a later pass', (t) => {
  t.deepEqual(peersToRemove([peer('vault-0'), peer('vault-3', { leader: true })], 'vault', 'vault-system', 1), []);
});

test('peers that are not this resource\'s pods are never touched', (t) => {
  const servers = [
    peer('vault-0'),
    { ...peer('x'), address: 'vault-5.vault-internal.other-ns.svc:8201' }, // another namespace
    { ...peer('x'), address: 'vault-b-5.vault-b-internal.vault-system.svc:8201' }, // another Vault
    { ...peer('x'), address: 'vault-05.vault-internal.vault-system.svc:8201' }, // not a StatefulSet ordinal
    { ...peer('x'), address: '10.88.0.7:8201' }, // joined by IP
  ];
  t.deepEqual(peersToRemove(servers, 'vault', 'vault-system', 1), []);
});

test('a Vault named like another one\'s prefix is told apart', (t) => {
  const servers = [peer('vault-0'), { ...peer('x'), node_id: 'b', address: 'vault-b-3.vault-b-internal.vault-system.svc:8201' }];
  t.deepEqual(peersToRemove(servers, 'vault-b', 'vault-system', 1).map((s) => s.node_id), ['b']);
});
