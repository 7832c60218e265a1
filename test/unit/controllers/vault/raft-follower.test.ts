// raftLeaderAddress other than `self`: the leader's address as Bank-Vaults
// built it, the retry_join it puts first, and the trust decision on it.
import test from 'ava';
import type { VaultResource } from '../../../../operator/api/vault.js';
import { raftLeaderApiAddr, raftLeaderChangeDecision, raftLeaderDecision } from '../../../../operator/controllers/vault/raft-follower.js';
import { serverConfig } from '../../../../operator/controllers/vault/desired-objects.js';
import { ignoredFields } from '../../../../operator/controllers/vault/bankvaults-report.js';

const vault = (spec: Record<string, unknown>): VaultResource => ({ apiVersion: 'vault.autopilot.dev/v1alpha1', kind: 'Vault', metadata: { name: 'v', namespace: 'ns' }, spec: { size: 2, ...spec } }) as VaultResource;
const trust = { allowed: ['https://*.leader.example:8200'], allowHttp: false };

test('self or unset: no leader, the pods join each other', (t) => {
  for (const spec of [{}, { raftLeaderAddress: 'self' }, { raftLeaderAddress: '' }]) t.is(raftLeaderApiAddr(vault(spec)), undefined);
  const joins = (serverConfig(vault({ raftLeaderAddress: 'self' })).storage as { raft: { retry_join: Array<{ leader_api_addr: string }> } }).raft.retry_join;
  t.deepEqual(joins.map((j) => j.leader_api_addr), ['https://v-0.v-internal.ns.svc:8200', 'https://v-1.v-internal.ns.svc:8200']);
});

test('another leader: https://<address>:8200 (scheme override, a port kept), first in retry_join', (t) => {
  t.is(raftLeaderApiAddr(vault({ raftLeaderAddress: 'vault.a.leader.example' })), 'https://vault.a.leader.example:8200');
  t.is(raftLeaderApiAddr(vault({ raftLeaderAddress: 'vault.a.leader.example', raftLeaderApiSchemeOverride: 'http' })), 'http://vault.a.leader.example:8200');
  t.is(raftLeaderApiAddr(vault({ raftLeaderAddress: '10.0.0.5:8300' })), 'https://10.0.0.5:8300');
  t.is(raftLeaderApiAddr(vault({ raftLeaderAddress: 'x.leader.example', external: { address: 'https://e:8200' } })), undefined, 'no pods to join anything');
  const joins = (serverConfig(vault({ raftLeaderAddress: 'vault.a.leader.example' })).storage as { raft: { retry_join: Array<{ leader_api_addr: string }> } }).raft.retry_join;
  t.deepEqual(joins.map((j) => j.leader_api_addr), ['https://vault.a.leader.example:8200', 'https://v-0.v-internal.ns.svc:8200', 'https://v-1.v-internal.ns.svc:8200']);
});

test('the leader gets the external-Vault trust decision', (t) => {
  t.true(raftLeaderDecision(vault({ raftLeaderAddress: 'vault.a.leader.example' }), trust).ok);
  t.true(raftLeaderDecision(vault({}), trust).ok);
  const refused = raftLeaderDecision(vault({ raftLeaderAddress: 'vault.evil.example' }), trust);
  t.false(refused.ok);
  if (!refused.ok) t.regex(refused.message, /spec\.raftLeaderAddress \(as https:\/\/vault\.evil\.example:8200\) .* is not an external Vault/);
  const http = raftLeaderDecision(vault({ raftLeaderAddress: 'vault.a.leader.example', raftLeaderApiSchemeOverride: 'http' }), trust);
  t.false(http.ok);
});

test('reported only where it cannot apply', (t) => {
  t.deepEqual(ignoredFields(vault({ raftLeaderAddress: 'vault.a.leader.example', raftLeaderApiSchemeOverride: 'https' }).spec), []);
  t.deepEqual(ignoredFields(vault({ raftLeaderAddress: 'l', external: { address: 'https://e:8200' } }).spec).map((f) => f.field), ['spec.raftLeaderAddress']);
  t.deepEqual(ignoredFields(vault({ raftLeaderApiSchemeOverride: 'http' }).spec).map((f) => f.field), ['spec.raftLeaderApiSchemeOverride']);
});

test('a leader written as an attacker would (user-info, path, other scheme) is refused before anything is rendered', (t) => {
  for (const raftLeaderAddress of ['evil@x.leader.example', 'x.leader.example:8200/../', 'x.leader.example:8200?', 'x.leader.example#']) {
    const d = raftLeaderDecision(vault({ raftLeaderAddress }), trust);
    t.false(d.ok, raftLeaderAddress);
    if (!d.ok) t.is(d.reason, 'ExternalAddressNotAllowed', raftLeaderAddress);
  }
  const http = raftLeaderDecision(vault({ raftLeaderAddress: 'x.leader.example', raftLeaderApiSchemeOverride: 'http' }), trust);
  t.false(http.ok);
  if (!http.ok) t.is(http.reason, 'InsecureAddress');
});

test('pinned once initialised: another leader, "self", or a leader added to a Vault initialised as its own cluster is refused', (t) => {
  const initialised = (spec: Record<string, unknown>, raftLeaderAddress?: string): VaultResource => ({
    ...vault(spec),
    status: { initialized: true, ...(raftLeaderAddress ? { raftLeaderAddress } : {}) },
  });
  t.true(raftLeaderChangeDecision(vault({ raftLeaderAddress: 'a.leader.example' })).ok, 'not initialised: free to change');
  t.true(raftLeaderChangeDecision(initialised({ raftLeaderAddress: 'a.leader.example' }, 'https://a.leader.example:8200')).ok, 'the joined leader');
  t.true(raftLeaderChangeDecision(initialised({ raftLeaderAddress: 'self' })).ok, 'its own cluster, still');
  const moved = raftLeaderChangeDecision(initialised({ raftLeaderAddress: 'b.leader.example' }, 'https://a.leader.example:8200'));
  t.false(moved.ok);
  if (!moved.ok) {
    t.is(moved.reason, 'AddressChanged');
    t.regex(moved.message, /^spec\.raftLeaderAddress changed after this Vault was initialised in the Raft cluster of https:\/\/a\.leader\.example:8200: refused, the pods are not reconfigured to join https:\/\/b\.leader\.example:8200/);
    t.regex(moved.message, /"status":\{"raftLeaderAddress":null\}/);
  }
  const toSelf = raftLeaderChangeDecision(initialised({ raftLeaderAddress: 'self' }, 'https://a.leader.example:8200'));
  t.false(toSelf.ok);
  if (!toSelf.ok) t.regex(toSelf.message, /not reconfigured to form its own cluster/);
  const added = raftLeaderChangeDecision(initialised({ raftLeaderAddress: 'a.leader.example' }));
  t.false(added.ok);
  if (!added.ok) t.regex(added.message, /initialised in its own Raft cluster: refused, the pods are not reconfigured to join https:\/\/a\.leader\.example:8200.*create a new Vault resource/);
  t.true(raftLeaderChangeDecision(initialised({ raftLeaderAddress: 'b.leader.example', external: { address: 'https://e:8200' } }, 'https://a.leader.example:8200')).ok, 'external: no pods to join anything');
});
