import test from 'ava';
import {
  DEFAULT_VAULT_IMAGE,
  containsDesired,
  deepMerge,
  desiredAuthDelegatorBinding,
  desiredObjects,
  desiredPeerService,
  desiredStatefulSet,
  serverConfig,
  unsealKeysSecretName,
} from '../../../../operator/controllers/vault/desired-objects.js';
import { aVault } from './builders.js';

test('server config: raft with a retry_join per peer, TLS listener, user config merged on top', (t) => {
  const config = serverConfig(aVault({ size: 3, config: { ui: false, storage: { raft: { performance_multiplier: 1 } } } }));
  const raft = (config.storage as { raft: { retry_join: Array<{ leader_api_addr: string }>; path: string; performance_multiplier: number } }).raft;
  t.deepEqual(
    raft.retry_join.map((r) => r.leader_api_addr),
    [0, 1, 2].map((i) => `https://vault-${i}.vault-internal.vault-ns.svc:8200`),
  );
  t.is(raft.performance_multiplier, 1);
  t.is(raft.path, '/vault/data');
  t.is(config.ui, false);
  t.truthy((config.listener as { tcp: { tls_cert_file: string } }).tcp.tls_cert_file);
});

test('statefulset: size, peers service, owner, default anti-affinity, TLS and config volumes', (t) => {
  const sts = desiredStatefulSet(aVault({ size: 5 }));
  t.is(sts.spec!.replicas, 5);
  t.is(sts.spec!.serviceName, 'vault-internal');
  t.deepEqual(sts.metadata!.ownerReferences![0]!.uid, '1111-2222');
  t.truthy(sts.spec!.template.spec!.affinity!.podAntiAffinity);
  t.deepEqual(sts.spec!.template.spec!.volumes!.map((v) => v.secret?.secretName), ['vault-config', 'vault-tls']);
  t.deepEqual(sts.spec!.volumeClaimTemplates!.map((c) => c.metadata!.name), ['data']);
  t.is(sts.spec!.template.spec!.containers[0]!.image, 'hashicorp/vault:1.21.4');
});

test('statefulset honours image, affinity, existing TLS secret and the user claim', (t) => {
  const sts = desiredStatefulSet(
    aVault({
      image: 'openbao/openbao:2.4.0',
      affinity: { nodeAffinity: {} },
      existingTlsSecretName: 'mine',
      volumeClaimTemplates: [{ metadata: { name: 'data' }, spec: { resources: { requests: { storage: '1Gi' } } } }],
    }),
  );
  t.is(sts.spec!.template.spec!.containers[0]!.image, 'openbao/openbao:2.4.0');
  t.deepEqual(sts.spec!.template.spec!.affinity, { nodeAffinity: {} });
  t.is(sts.spec!.template.spec!.volumes![1]!.secret!.secretName, 'mine');
  t.is(sts.spec!.volumeClaimTemplates![0]!.spec!.resources!.requests!.storage, '1Gi');
});

test('scaling changes replicas and retry_join but not the pod template checksum', (t) => {
  const three = desiredStatefulSet(aVault({ size: 3 }));
  const five = desiredStatefulSet(aVault({ size: 5 }));
  const sum = (s: typeof three) => s.spec!.template.metadata!.annotations!['vault.autopilot.dev/config-checksum'];
  t.is(sum(three), sum(five));
  t.not(sum(three), sum(desiredStatefulSet(aVault({ size: 3, config: { ui: false } }))));
});

test('peer service is headless and publishes unready pods; auth-delegator binding targets the SA', (t) => {
  const peers = desiredPeerService(aVault());
  t.is(peers.spec!.clusterIP, 'None');
  t.true(peers.spec!.publishNotReadyAddresses);
  const binding = desiredAuthDelegatorBinding(aVault({ serviceAccount: 'vault-sa' }));
  t.is(binding.roleRef.name, 'system:auth-delegator');
  t.deepEqual(binding.subjects, [{ kind: 'ServiceAccount', name: 'vault-sa', namespace: 'vault-ns' }]);
  t.is(binding.metadata!.ownerReferences, undefined);
});

test('all objects in creation order', (t) => {
  t.deepEqual(desiredObjects(aVault()).map((o) => o.kind), ['ServiceAccount', 'ClusterRoleBinding', 'Secret', 'Service', 'Service', 'PodDisruptionBudget', 'StatefulSet']);
});

test('containsDesired ignores fields the apiserver added but notices changed ones', (t) => {
  const desired = { spec: { replicas: 3, ports: [{ port: 1 }] } };
  t.true(containsDesired(desired, { spec: { replicas: 3, ports: [{ port: 1, protocol: 'TCP' }], extra: true } }));
  t.false(containsDesired(desired, { spec: { replicas: 2, ports: [{ port: 1 }] } }));
  t.false(containsDesired(desired, { spec: { replicas: 3, ports: [{ port: 1 }, { port: 2 }] } }));
});

test('deepMerge merges objects and replaces lists', (t) => {
  t.deepEqual(deepMerge({ a: { b: 1, c: [1] } }, { a: { c: [2] } }), { a: { b: 1, c: [2] } });
});

test('keys secret name defaults to <name>-unseal-keys', (t) => {
  t.is(unsealKeysSecretName(aVault()), 'vault-unseal-keys');
  t.is(unsealKeysSecretName(aVault({ unsealConfig: { kubernetes: { secretName: 'k' } } })), 'k');
});

test('a new serving certificate rolls the pods; the same one does not', (t) => {
  const sum = (cert?: string) => desiredStatefulSet(aVault(), DEFAULT_VAULT_IMAGE, cert).spec!.template.metadata!.annotations!['vault.autopilot.dev/tls-checksum'];
  t.is(sum('A'), sum('A'));
  t.not(sum('A'), sum('B'));
  t.false('vault.autopilot.dev/tls-checksum' in desiredStatefulSet(aVault()).spec!.template.metadata!.annotations!);
});
