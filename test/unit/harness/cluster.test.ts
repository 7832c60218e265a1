// The local cluster's pure parts: configs, DROP rules, iptables undo, mounts, provisioning decisions.
import test from 'ava';
import yaml from 'js-yaml';
import {
  cniConflist,
  containerdConfig,
  corednsManifest,
  IDENTITIES,
  kubeletConfig,
  NET,
  PROVISIONER,
  STORAGE_CLASS,
  storageClassManifest,
  tokenAuthFile,
  type ClusterPorts,
} from '../../harness/cluster-config.js';
import { dropRules, iptablesUndo, mountsUnder, restoreScript, shimStateDir, splitRule } from '../../harness/cluster-host.js';
import { apiserverSans } from '../../harness/cluster-pki.js';
import { claimsToProvision, PROVISIONED_BY, volumeFor, volumesToDelete, type Claim, type Volume } from '../../harness/cluster-provisioner.js';

const PORTS: ClusterPorts = {
  etcdClient: 21001, etcdPeer: 21002, apiserver: 21003, kubelet: 21004, kubeletHealthz: 21005,
  controllerManager: 21006, scheduler: 21007, proxyHealthz: 21008, proxyMetrics: 21009, kms: 21010,
};

test('the kubelet config carries the fixes this machine needs and binds only to the bridge and loopback', (t) => {
  const cfg = yaml.load(kubeletConfig('/s', PORTS, '/s/c.sock')) as Record<string, unknown>;
  t.is(cfg.failCgroupV1, false);
  t.is(cfg.cgroupDriver, 'cgroupfs');
  t.is(cfg.oomScoreAdj, 0);
  t.is(cfg.address, NET.nodeIP);
  t.is(cfg.healthzBindAddress, '127.0.0.1');
  t.is(cfg.readOnlyPort, 0);
  t.deepEqual(cfg.clusterDNS, [NET.dnsIP]);
});

test('containerd clamps oom_score_adj and keeps netns mounts in the state dir', (t) => {
  const toml = containerdConfig('/s', 'localhost/pause:1.0');
  t.regex(toml, /restrict_oom_score_adj = true/);
  t.regex(toml, /netns_mounts_under_state_dir = true/);
  t.regex(toml, /sandbox_image = "localhost\/pause:1.0"/);
  t.regex(toml, /SystemdCgroup = false/);
  const cni = JSON.parse(cniConflist('/s')) as { plugins: Array<{ bridge?: string; ipMasq?: boolean }> };
  t.is(cni.plugins[0]!.bridge, NET.bridge);
  t.false(cni.plugins[0]!.ipMasq);
});

test('CoreDNS has no upstream and the default StorageClass names our provisioner', (t) => {
  const docs = yaml.loadAll(corednsManifest('localhost/coredns:v1')) as Array<{ kind: string; data?: Record<string, string>; spec?: { clusterIP?: string } }>;
  t.false(docs.find((d) => d.kind === 'ConfigMap')!.data!.Corefile!.includes('forward'));
  t.is(docs.find((d) => d.kind === 'Service')!.spec!.clusterIP, NET.dnsIP);
  const sc = yaml.load(storageClassManifest()) as { metadata: { name: string; annotations: Record<string, string> }; provisioner: string };
  t.is(sc.metadata.name, STORAGE_CLASS);
  t.is(sc.metadata.annotations['storageclass.kubernetes.io/is-default-class'], 'true');
  t.is(sc.provisioner, PROVISIONER);
});

test('static tokens give the kubelet the identity the Node authorizer expects', (t) => {
  const line = tokenAuthFile([{ token: 't1', identity: IDENTITIES.kubelet }]).trim();
  t.is(line, 't1,system:node:vnode,system:node:vnode,"system:nodes"');
});

test('the apiserver certificate is valid for the host, the bridge and the kubernetes Service', (t) => {
  const sans = apiserverSans();
  for (const want of ['IP:127.0.0.1', `IP:${NET.nodeIP}`, `IP:${NET.apiServiceIP}`, 'DNS:kubernetes.default.svc']) t.true(sans.includes(want), want);
});

test('DROP rules: pod traffic stays on the bridge; public listeners are closed to other machines', (t) => {
  const rules = dropRules([16443, 4599]);
  t.true(rules.every((r) => r.args.includes('DROP') && r.args.includes('--comment')));
  const forward = rules.filter((r) => r.chain === 'FORWARD').map((r) => r.args.join(' '));
  t.true(forward.some((r) => r.startsWith(`-s ${NET.podCIDR} ! -o ${NET.bridge}`)));
  const input = rules.filter((r) => r.chain === 'INPUT').map((r) => r.args.join(' '));
  t.true(input.some((r) => r.includes('--dports 16443,4599') && r.includes(`! -i ${NET.bridge}`) && r.includes('! --src-type LOCAL')));
});

test('iptables undo removes exactly the rules and chains added since the snapshot', (t) => {
  const before = ['*filter', ':INPUT ACCEPT [0:0]', ':FORWARD ACCEPT [0:0]', '-A INPUT -s 1.2.3.4/32 -j ACCEPT', 'COMMIT', ''].join('\n');
  const now = [
    '*filter',
    ':INPUT ACCEPT [0:0]',
    ':FORWARD ACCEPT [0:0]',
    ':KUBE-FORWARD - [0:0]',
    '-A INPUT -s 1.2.3.4/32 -j ACCEPT',
    '-A INPUT -m comment --comment "kubernetes forwarding rules" -j KUBE-FORWARD',
    '-A KUBE-FORWARD -j ACCEPT',
    'COMMIT',
    '*nat',
    ':PREROUTING ACCEPT [0:0]',
    ':KUBE-SERVICES - [0:0]',
    '-A PREROUTING -j KUBE-SERVICES',
    'COMMIT',
    '',
  ].join('\n');
  const steps = iptablesUndo(before, now).map((s) => `${s.table} ${s.args.join('|')}`);
  t.deepEqual(steps, [
    'filter -D|INPUT|-m|comment|--comment|kubernetes forwarding rules|-j|KUBE-FORWARD',
    'nat -D|PREROUTING|-j|KUBE-SERVICES',
    'filter -F|KUBE-FORWARD',
    'nat -F|KUBE-SERVICES',
    'filter -X|KUBE-FORWARD',
    'nat -X|KUBE-SERVICES',
  ]);
  t.is(
    restoreScript(iptablesUndo(before, now)),
    '*filter\n-D INPUT -m comment --comment "kubernetes forwarding rules" -j KUBE-FORWARD\n-F KUBE-FORWARD\n-X KUBE-FORWARD\nCOMMIT\n' +
      '*nat\n-D PREROUTING -j KUBE-SERVICES\n-F KUBE-SERVICES\n-X KUBE-SERVICES\nCOMMIT\n',
  );
  t.deepEqual(splitRule('A -m comment --comment "a \\"b\\" c" -j X'), ['A', '-m', 'comment', '--comment', 'a "b" c', '-j', 'X']);
});

test('mounts under the state dir are found deepest first, and only those', (t) => {
  const info = [
    '1 0 8:1 / / rw - ext4 /dev/vda rw',
    '2 1 0:5 / /tmp/c/k/pods/x/volumes/tok rw - tmpfs tmpfs rw',
    '3 1 0:6 / /tmp/c/containerd/state/rootfs rw - overlay overlay rw',
    '4 1 0:7 / /tmp/c2/other rw - tmpfs tmpfs rw',
    '5 1 0:8 / /tmp/c rw - tmpfs tmpfs rw',
  ].join('\n');
  t.deepEqual(mountsUnder('/tmp/c', info), ['/tmp/c/containerd/state/rootfs', '/tmp/c/k/pods/x/volumes/tok', '/tmp/c']);
});

const claim = (over: Partial<Claim['spec']> = {}, phase = 'Pending'): Claim => ({
  metadata: { name: 'data-vault-0', namespace: 'vault-system', uid: 'u1' },
  spec: { storageClassName: STORAGE_CLASS, accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '10Gi' } }, ...over },
  status: { phase },
});

test('provisioner: a pending claim of the default class gets one pre-bound hostPath volume', (t) => {
  t.is(claimsToProvision([claim()], []).length, 1);
  t.is(claimsToProvision([claim({ storageClassName: 'other' })], []).length, 0);
  t.is(claimsToProvision([claim({}, 'Bound')], []).length, 0);
  const pv = volumeFor(claim(), '/s/volumes');
  t.is(pv.metadata.name, 'pvc-u1');
  t.is(claimsToProvision([claim()], [pv]).length, 0, 'no second volume for the same claim');
  const spec = pv.spec as Record<string, unknown> & { claimRef: { uid: string }; hostPath: { path: string }; capacity: { storage: string } };
  t.is(spec.claimRef.uid, 'u1');
  t.is(spec.hostPath.path, '/s/volumes/pvc-u1');
  t.is(spec.capacity.storage, '10Gi');
  t.is(spec.persistentVolumeReclaimPolicy, 'Delete');
});

test('provisioner: only our released volumes are deleted', (t) => {
  const ours = (phase: string): Volume => ({
    metadata: { name: `pv-${phase}`, annotations: { [PROVISIONED_BY]: PROVISIONER } },
    spec: { persistentVolumeReclaimPolicy: 'Delete' },
    status: { phase },
  });
  const foreign: Volume = { metadata: { name: 'static' }, spec: { persistentVolumeReclaimPolicy: 'Delete' }, status: { phase: 'Released' } };
  t.deepEqual(volumesToDelete([ours('Bound'), ours('Released'), foreign]).map((v) => v.metadata.name), ['pv-Released']);
});

test('a containerd shim is ours only when its socket is in a cluster state dir', (t) => {
  const shim = (address: string) => ['/usr/bin/containerd-shim-runc-v2', '-namespace', 'k8s.io', '-id', 'abc', '-address', address, ''];
  t.is(shimStateDir(shim('/tmp/vault-autopilot-cluster-Ab12/containerd/containerd.sock')), '/tmp/vault-autopilot-cluster-Ab12');
  t.is(shimStateDir(shim('/run/containerd/containerd.sock')), undefined);
  t.is(shimStateDir(['/usr/bin/sleep', '-address', '/tmp/vault-autopilot-cluster-x/containerd/containerd.sock']), undefined);
});
