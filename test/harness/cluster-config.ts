// Pure: the configuration files and manifests of the local cluster
// (cluster.ts). Every address is loopback or the cluster's own bridge; the
// workarounds this kind of machine needs are explained where they are set.

/** Fixed addresses of the one cluster a machine runs at a time. */
export const NET = {
  bridge: 'vabr0',
  nodeIP: '10.88.0.1',
  podCIDR: '10.88.0.0/16',
  serviceCIDR: '10.96.0.0/16',
  apiServiceIP: '10.96.0.1',
  dnsIP: '10.96.0.10',
  domain: 'cluster.local',
} as const;

export const NODE_NAME = 'vnode';
export const STORAGE_CLASS = 'local-hostpath';
export const PROVISIONER = 'vault-autopilot.io/local-hostpath';
/** Every iptables rule the harness adds carries this comment (so a stale one can be found and removed). */
export const RULE_COMMENT = 'vault-autopilot-cluster';

/** Ports of one run; all but the apiserver's and local-kms's are bound to loopback or the bridge only. */
export interface ClusterPorts {
  etcdClient: number;
  etcdPeer: number;
  apiserver: number;
  kubelet: number;
  kubeletHealthz: number;
  controllerManager: number;
  scheduler: number;
  proxyHealthz: number;
  proxyMetrics: number;
  kms: number;
}

export interface ClusterPaths {
  stateDir: string;
  pki: string;
  containerdSocket: string;
}

export function containerdConfig(dir: string, sandboxImage: string): string {
  return `version = 2
root = "${dir}/containerd/root"
state = "${dir}/containerd/state"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper"]

[grpc]
  address = "${dir}/containerd/containerd.sock"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "${sandboxImage}"
  # no CAP_SYS_RESOURCE in this VM's bounding set: a negative oom_score_adj
  # (the CRI asks -998) makes runc fail; clamp to containerd's own instead
  restrict_oom_score_adj = true
  # pod network namespaces are mounted inside the state dir, so tear-down finds them
  netns_mounts_under_state_dir = true
  stream_server_address = "127.0.0.1"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "${dir}/cni/net.d"
    max_conf_num = 1

[plugins."io.containerd.internal.v1.opt"]
  path = "${dir}/containerd/opt"
`;
}

/** Pods on the bridge; no masquerading (nothing may leave the machine anyway). */
export function cniConflist(dir: string): string {
  return `${JSON.stringify(
    {
      cniVersion: '1.0.0',
      name: 'vabr',
      plugins: [
        {
          type: 'bridge',
          bridge: NET.bridge,
          isGateway: true,
          ipMasq: false,
          hairpinMode: true,
          ipam: {
            type: 'host-local',
            ranges: [[{ subnet: NET.podCIDR, gateway: NET.nodeIP }]],
            routes: [{ dst: '0.0.0.0/0' }],
            dataDir: `${dir}/cni/ipam`,
          },
        },
        { type: 'portmap', capabilities: { portMappings: true } },
      ],
    },
    null,
    2,
  )}\n`;
}

export function kubeletConfig(dir: string, ports: ClusterPorts, containerdSocket: string): string {
  return `apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
# the host is cgroup v1: kubelet 1.35+ refuses it unless told not to
failCgroupV1: false
cgroupDriver: cgroupfs
failSwapOn: false
containerRuntimeEndpoint: unix://${containerdSocket}
# no CAP_SYS_RESOURCE: a negative oom_score_adj cannot be set
oomScoreAdj: 0
address: ${NET.nodeIP}
port: ${ports.kubelet}
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: ${ports.kubeletHealthz}
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: ${dir}/pki/ca.crt}
authorization:
  mode: Webhook
clusterDomain: ${NET.domain}
clusterDNS: [${NET.dnsIP}]
resolvConf: ${dir}/kubelet-resolv.conf
evictionHard:
  memory.available: 100Mi
  nodefs.available: 2%
  imagefs.available: 2%
# images cannot be pulled again: never garbage-collect them
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
serializeImagePulls: false
podLogsDir: ${dir}/pod-logs
`;
}

export function kubeProxyConfig(dir: string, ports: ClusterPorts): string {
  return `apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
mode: iptables
clientConnection:
  kubeconfig: ${dir}/kubeconfig/kube-proxy.kubeconfig
hostnameOverride: ${NODE_NAME}
bindAddress: 127.0.0.1
healthzBindAddress: 127.0.0.1:${ports.proxyHealthz}
metricsBindAddress: 127.0.0.1:${ports.proxyMetrics}
clusterCIDR: ${NET.podCIDR}
# NodePorts only on the bridge address, never on the machine's own interfaces
nodePortAddresses: ["${NET.nodeIP}/32"]
oomScoreAdj: 0
conntrack:
  # leave the host's conntrack sysctls alone
  maxPerCore: 0
  tcpEstablishedTimeout: 0s
  tcpCloseWaitTimeout: 0s
`;
}

/** A kubeconfig with the cluster CA and a static bearer token. */
export function tokenKubeconfig(server: string, caPem: string, user: string, token: string): string {
  return [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    '- name: local',
    '  cluster:',
    `    server: ${server}`,
    `    certificate-authority-data: ${Buffer.from(caPem).toString('base64')}`,
    'users:',
    `- name: ${user}`,
    '  user:',
    `    token: ${token}`,
    'contexts:',
    '- name: local',
    '  context:',
    '    cluster: local',
    `    user: ${user}`,
    '    namespace: default',
    'current-context: local',
    '',
  ].join('\n');
}

export interface Identity {
  user: string;
  groups: string[];
}

/** The static identities of the control plane and node (the apiserver's --token-auth-file). */
export const IDENTITIES: Record<'admin' | 'controllerManager' | 'scheduler' | 'kubelet' | 'kubeProxy', Identity> = {
  admin: { user: 'vault-autopilot-admin', groups: ['system:masters'] },
  controllerManager: { user: 'system:kube-controller-manager', groups: [] },
  scheduler: { user: 'system:kube-scheduler', groups: [] },
  // user and group the Node authorizer and NodeRestriction expect
  kubelet: { user: `system:node:${NODE_NAME}`, groups: ['system:nodes'] },
  kubeProxy: { user: 'system:kube-proxy', groups: [] },
};

export function tokenAuthFile(tokens: ReadonlyArray<{ token: string; identity: Identity }>): string {
  return tokens.map(({ token, identity }) => `${token},${identity.user},${identity.user},"${identity.groups.join(',')}"`).join('\n') + '\n';
}

export function apiserverArgs(dir: string, ports: ClusterPorts): string[] {
  const pki = `${dir}/pki`;
  const issuer = `https://kubernetes.default.svc.${NET.domain}`;
  return [
    `--etcd-servers=http://127.0.0.1:${ports.etcdClient}`,
    // pods reach it through the kubernetes Service at the bridge address; the
    // machine's other interfaces are firewalled off for this port
    '--bind-address=0.0.0.0',
    `--advertise-address=${NET.nodeIP}`,
    `--secure-port=${ports.apiserver}`,
    `--tls-cert-file=${pki}/apiserver.crt`,
    `--tls-private-key-file=${pki}/apiserver.key`,
    `--client-ca-file=${pki}/ca.crt`,
    `--token-auth-file=${pki}/tokens.csv`,
    `--kubelet-client-certificate=${pki}/apiserver-kubelet-client.crt`,
    `--kubelet-client-key=${pki}/apiserver-kubelet-client.key`,
    '--kubelet-preferred-address-types=InternalIP',
    `--service-account-issuer=${issuer}`,
    `--service-account-key-file=${pki}/sa.pub`,
    `--service-account-signing-key-file=${pki}/sa.key`,
    `--api-audiences=${issuer}`,
    '--authorization-mode=Node,RBAC',
    `--service-cluster-ip-range=${NET.serviceCIDR}`,
    '--allow-privileged=true',
    // MutatingAdmissionWebhook, ValidatingAdmissionWebhook, ServiceAccount and
    // DefaultStorageClass are on by default
    '--enable-admission-plugins=NodeRestriction',
    '--profiling=false',
  ];
}

export function controllerManagerArgs(dir: string, ports: ClusterPorts): string[] {
  const kubeconfig = `${dir}/kubeconfig/kube-controller-manager.kubeconfig`;
  return [
    `--kubeconfig=${kubeconfig}`,
    `--authentication-kubeconfig=${kubeconfig}`,
    `--authorization-kubeconfig=${kubeconfig}`,
    '--bind-address=127.0.0.1',
    `--secure-port=${ports.controllerManager}`,
    `--service-account-private-key-file=${dir}/pki/sa.key`,
    `--root-ca-file=${dir}/pki/ca.crt`,
    '--use-service-account-credentials=true',
    `--cluster-signing-cert-file=${dir}/pki/ca.crt`,
    `--cluster-signing-key-file=${dir}/pki/ca.key`,
    `--service-cluster-ip-range=${NET.serviceCIDR}`,
    `--cluster-cidr=${NET.podCIDR}`,
    '--allocate-node-cidrs=false',
    '--leader-elect=false',
    '--profiling=false',
  ];
}

export function schedulerArgs(dir: string, ports: ClusterPorts): string[] {
  const kubeconfig = `${dir}/kubeconfig/kube-scheduler.kubeconfig`;
  return [
    `--kubeconfig=${kubeconfig}`,
    `--authentication-kubeconfig=${kubeconfig}`,
    `--authorization-kubeconfig=${kubeconfig}`,
    '--bind-address=127.0.0.1',
    `--secure-port=${ports.scheduler}`,
    '--leader-elect=false',
    '--profiling=false',
  ];
}

export function kubeletArgs(dir: string): string[] {
  return [
    `--config=${dir}/kubelet-config.yaml`,
    `--kubeconfig=${dir}/kubeconfig/kubelet.kubeconfig`,
    `--root-dir=${dir}/kubelet`,
    `--hostname-override=${NODE_NAME}`,
    `--node-ip=${NET.nodeIP}`,
  ];
}

/** CoreDNS as a pod behind kube-dns 10.96.0.10; no `forward`: nothing upstream is reachable. */
export function corednsManifest(image: string): string {
  return `apiVersion: v1
kind: ServiceAccount
metadata: {name: coredns, namespace: kube-system}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: "system:coredns"}
rules:
- apiGroups: [""]
  resources: [endpoints, services, pods, namespaces]
  verbs: [list, watch]
- apiGroups: [discovery.k8s.io]
  resources: [endpointslices]
  verbs: [list, watch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: "system:coredns"}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: "system:coredns"}
subjects: [{kind: ServiceAccount, name: coredns, namespace: kube-system}]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: coredns, namespace: kube-system}
data:
  Corefile: |
    .:53 {
        errors
        health
        ready
        kubernetes ${NET.domain} in-addr.arpa ip6.arpa {
            pods insecure
            fallthrough in-addr.arpa ip6.arpa
            ttl 5
        }
        cache 5
        loadbalance
    }
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: coredns, namespace: kube-system, labels: {k8s-app: kube-dns}}
spec:
  replicas: 1
  selector: {matchLabels: {k8s-app: kube-dns}}
  template:
    metadata: {labels: {k8s-app: kube-dns}}
    spec:
      serviceAccountName: coredns
      dnsPolicy: Default
      priorityClassName: system-cluster-critical
      terminationGracePeriodSeconds: 1
      containers:
      - name: coredns
        image: ${image}
        imagePullPolicy: Never
        args: ["-conf", "/etc/coredns/Corefile"]
        ports:
        - {name: dns, containerPort: 53, protocol: UDP}
        - {name: dns-tcp, containerPort: 53, protocol: TCP}
        readinessProbe:
          httpGet: {path: /ready, port: 8181}
          periodSeconds: 1
        livenessProbe:
          httpGet: {path: /health, port: 8080}
          periodSeconds: 10
        securityContext:
          allowPrivilegeEscalation: false
          capabilities: {drop: [ALL], add: [NET_BIND_SERVICE]}
        volumeMounts: [{name: config, mountPath: /etc/coredns, readOnly: true}]
      volumes:
      - name: config
        configMap: {name: coredns}
---
apiVersion: v1
kind: Service
metadata: {name: kube-dns, namespace: kube-system, labels: {k8s-app: kube-dns}}
spec:
  clusterIP: ${NET.dnsIP}
  selector: {k8s-app: kube-dns}
  ports:
  - {name: dns, port: 53, protocol: UDP}
  - {name: dns-tcp, port: 53, protocol: TCP}
`;
}

/** The default StorageClass; its volumes are made by the harness's provisioner (cluster-provisioner.ts). */
export function storageClassManifest(): string {
  return `apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: ${STORAGE_CLASS}
  annotations:
    storageclass.kubernetes.io/is-default-class: "true"
provisioner: ${PROVISIONER}
reclaimPolicy: Delete
volumeBindingMode: Immediate
`;
}
