// A single-node Kubernetes cluster that runs real pods, started by the
// project (`make cluster`, `make test-e2e`): etcd, kube-apiserver,
// kube-controller-manager, kube-scheduler, kubelet, kube-proxy and containerd
// as processes of this harness, CoreDNS as a pod, pods on the bridge vabr0
// (10.88.0.0/16, node IP 10.88.0.1), Services on 10.96.0.0/16, local-kms on
// the bridge address, a default StorageClass whose volumes the harness
// provisions. Images are imported from local archives (test/cluster/build.sh),
// never pulled. Needs root. See README.md "Local cluster".
import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, readlinkSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { TestFn } from 'ava';
import {
  apiserverArgs,
  cniConflist,
  containerdConfig,
  controllerManagerArgs,
  corednsManifest,
  IDENTITIES,
  kubeletArgs,
  kubeletConfig,
  kubeProxyConfig,
  NET,
  NODE_NAME,
  schedulerArgs,
  storageClassManifest,
  tokenAuthFile,
  tokenKubeconfig,
  type ClusterPorts,
} from './cluster-config.js';
import { acquireHost, addDropRules, createBridge, KUBELET_SYSCTLS, killContainerProcesses, releaseHost, rssKb, writeSysctl } from './cluster-host.js';
import { ensureAarch64Binfmt, releaseAarch64Binfmt } from './binfmt.js';
import { makePki } from './cluster-pki.js';
import { HostPathProvisioner } from './cluster-provisioner.js';
import { httpRequest } from './http.js';
import { LocalKmsServer } from './local-kms.js';
import { freePort } from './ports.js';
import { ManagedProcess } from './proc.js';
import { note, waitUntilServing } from './server.js';
import { REPO_ROOT } from './versions.js';

const run = promisify(execFile);

/** Names the JSON file with the running cluster's details (set by run-e2e.ts). */
export const E2E_ENV_VARIABLE = 'VAULT_AUTOPILOT_E2E_ENV';
export const BUILD_SCRIPT = join(REPO_ROOT, 'test', 'cluster', 'build.sh');
/**
 * Names the samples and the operator's defaults use, given to the local
 * images so that `samples/` apply unchanged: the Vault server/agent image (the
 * operator's and the webhook's default) and the samples' app containers.
 */
export const VAULT_IMAGE_ALIASES = ['docker.io/hashicorp/vault:1.21.4'];
export const APP_IMAGE_ALIASES = ['docker.io/library/busybox:1.36'];

/** What build.sh made (its manifest file). */
export interface BuildManifest {
  bin: string;
  binaries: Record<'etcd' | 'kube-apiserver' | 'kube-controller-manager' | 'kube-scheduler' | 'kubelet' | 'kube-proxy' | 'kubectl' | 'vault' | 'local-kms', string>;
  images: Record<'pause' | 'app' | 'coredns' | 'vault' | 'operator' | 'operatorArm64Rootfs', { ref: string; archive: string }>;
}

/** The running cluster's details; what the e2e JSON file holds (see readE2eEnv). */
export interface ClusterInfo {
  /** Admin kubeconfig (https://127.0.0.1:<port>, system:masters). */
  kubeconfig: string;
  /** Absolute path of a kubectl of the cluster's version. */
  kubectl: string;
  stateDir: string;
  /** The node's address on the bridge; pods reach the host here. */
  nodeIP: string;
  apiserverUrl: string;
  apiserverCaFile: string;
  /** local-kms, http://10.88.0.1:<port>: reachable from pods and from the host. */
  kmsEndpoint: string;
  kms: { region: string; keyId: string; keyAlias: string; otherKeyId: string; otherKeyAlias: string };
  /**
   * Local image names, already imported into the node's containerd, never
   * pulled (manifests use imagePullPolicy IfNotPresent or Never). `vault` is
   * also tagged as every name in `vaultAliases` (the operator's defaults),
   * `app` as every name in `appAliases` (the samples' app containers).
   */
  images: { operator: string; vault: string; app: string; vaultAliases: string[]; appAliases: string[]; operatorNative: string };
  /** Which variant `images.operator` is: this machine's, or arm64 through qemu (ClusterOptions.operatorArch). */
  operatorArch: 'native' | 'arm64';
  /** The arm64 operator re-labelled amd64 (not imported at start; see test/e2e/arm64.test.ts). */
  operatorArm64Rootfs: { ref: string; archive: string };
  /** The operator's two-architecture OCI archive (for `ctr import --all-platforms`). */
  operatorArchive: string;
  containerd: { socket: string; namespace: string };
  storageClass: string;
  /** Milliseconds from start to each milestone. */
  startup: Record<string, number>;
}

export interface Cluster extends ClusterInfo {
  /** Control plane + node RSS and the pods' memory (kubepods cgroup), in MiB. */
  memory(): { processes: Record<string, number>; processesTotal: number; pods: number };
  /** kubectl with this cluster's kubeconfig; resolves with stdout, rejects with stderr. */
  kubectlRun(args: string[], input?: string): Promise<string>;
  stop(): Promise<void>;
}

export interface ClusterOptions {
  /** Run test/cluster/build.sh first (default true; a warm run takes seconds). */
  build?: boolean;
  /** How long to wait for another process's cluster to stop (default 15 min). */
  waitForOtherMs?: number;
  /** Keep the state directory after stop (also VAULT_AUTOPILOT_KEEP_TMP=1). */
  keepState?: boolean;
  /**
   * 'arm64': the operator image name (install.yaml's) is the arm64 variant,
   * run through qemu — the Raspberry Pi stand-in for a whole e2e run
   * (default: VAULT_AUTOPILOT_CLUSTER_OPERATOR_ARCH, else this machine's).
   */
  operatorArch?: 'native' | 'arm64';
}

export function readBuildManifest(file: string): BuildManifest {
  return JSON.parse(readFileSync(file, 'utf8')) as BuildManifest;
}

/** Runs build.sh (progress on stderr) and returns its manifest. */
export function buildClusterArtifacts(): BuildManifest {
  const out = execFileSync('bash', [BUILD_SCRIPT], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 64 * 1024 * 1024 });
  const lines = out.trim().split('\n');
  return readBuildManifest(lines[lines.length - 1]!);
}

function preflight(): void {
  if (process.getuid?.() !== 0) throw new Error('the local cluster needs root (bridge, iptables, containerd)');
  for (const command of ['containerd', 'ctr', 'runc', 'iptables', 'iptables-save', 'ip', 'openssl']) {
    if (spawnSync('sh', ['-c', `command -v ${command}`]).status !== 0) throw new Error(`${command} not found: run test/cluster/build.sh (installs it)`);
  }
  if (!existsSync('/usr/lib/cni/bridge')) throw new Error('CNI plugins missing (/usr/lib/cni): run test/cluster/build.sh');
}

async function allocatePorts(): Promise<ClusterPorts> {
  return {
    etcdClient: await freePort(),
    etcdPeer: await freePort(),
    apiserver: await freePort(),
    kubelet: await freePort(),
    kubeletHealthz: await freePort(),
    controllerManager: await freePort(),
    scheduler: await freePort(),
    proxyHealthz: await freePort(),
    proxyMetrics: await freePort(),
    kms: 0,
  };
}

export async function startCluster(opts: ClusterOptions = {}): Promise<Cluster> {
  preflight();
  const t0 = Date.now();
  const startup: Record<string, number> = {};
  const mark = (what: string) => {
    startup[what] = Date.now() - t0;
    note(`cluster: ${what} (${(startup[what] / 1000).toFixed(1)} s)`);
  };
  const manifest = opts.build === false ? readBuildManifest(latestManifest()) : buildClusterArtifacts();
  mark('build checked');

  const operatorArch = opts.operatorArch ?? (process.env.VAULT_AUTOPILOT_CLUSTER_OPERATOR_ARCH === 'arm64' ? 'arm64' : 'native');
  const binfmt = operatorArch === 'arm64' ? ensureAarch64Binfmt() : undefined;
  if (binfmt && !binfmt.ok) throw new Error(`the arm64 operator needs qemu-aarch64 in binfmt_misc: ${binfmt.reason}`);
  const operatorNative = `${manifest.images.operator.ref}-${goArch()}`;

  // the state dir is made once the machine's cluster lock is ours (a waiting run leaves nothing behind)
  const dir = join(tmpdir(), `vault-autopilot-cluster-${randomBytes(4).toString('hex')}`);
  const host = await acquireHost(dir, opts.waitForOtherMs ?? 15 * 60_000);
  mkdirSync(dir, { mode: 0o755 });
  const logs = join(dir, 'logs');
  const procs: ManagedProcess[] = [];
  let provisioner: HostPathProvisioner | undefined;
  let kms: LocalKmsServer | undefined;
  let stopped = false;

  const stop = async () => {
    if (stopped) return;
    stopped = true;
    const s0 = Date.now();
    await provisioner?.stop();
    await kms?.stop();
    // node first (nothing restarts containers), apiserver before etcd (else it hangs), containerd last
    const order = ['kubelet', 'kube-proxy', 'kube-scheduler', 'kube-controller-manager', 'kube-apiserver', 'etcd', 'containerd'];
    for (const name of order) {
      const proc = procs.find((p) => p.name === name);
      if (!proc) continue;
      // the pods' containers go before the apiserver (their shims are not our children)
      if (name === 'kube-apiserver') killContainerProcesses(dir);
      // the node's and controllers' state is thrown away: no need to wait for a graceful exit
      const p0 = Date.now();
      await proc.stop('SIGTERM', ['kube-apiserver', 'etcd', 'containerd'].includes(name) ? 10_000 : 2_000);
      if (Date.now() - p0 > 2000) note(`cluster: ${name} took ${((Date.now() - p0) / 1000).toFixed(1)} s to stop`);
      await proc.closeLog();
    }
    for (const proc of procs) await proc.stop('SIGKILL', 1000);
    releaseHost(host);
    if (binfmt) releaseAarch64Binfmt(binfmt);
    removeContainerLogLinks(dir);
    if (opts.keepState || process.env.VAULT_AUTOPILOT_KEEP_TMP === '1') note(`cluster: kept ${dir}`);
    else rmSync(dir, { recursive: true, force: true });
    note(`cluster: stopped in ${((Date.now() - s0) / 1000).toFixed(1)} s`);
  };

  // Ctrl-C during start-up: tear down what is up, then exit (the caller's own
  // handlers take over once startCluster has returned)
  const onSignal = (signal: NodeJS.Signals) => {
    note(`cluster: ${signal} during start-up; tearing down`);
    void stop().finally(() => process.exit(130));
  };
  const signals = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
  for (const signal of signals) process.on(signal, onSignal);
  const dropSignalHandlers = () => {
    for (const signal of signals) process.off(signal, onSignal);
  };

  try {
    const ports = await allocatePorts();
    mkdirSync(logs, { recursive: true });
    for (const sub of ['kubeconfig', 'cni/net.d', 'containerd', 'kubelet', 'etcd', 'volumes']) mkdirSync(join(dir, sub), { recursive: true });
    const pki = join(dir, 'pki');
    makePki(pki);
    const caPem = readFileSync(join(pki, 'ca.crt'), 'utf8');
    const apiserverUrl = `https://127.0.0.1:${ports.apiserver}`;
    const tokens = Object.fromEntries(Object.keys(IDENTITIES).map((k) => [k, randomBytes(24).toString('hex')])) as Record<keyof typeof IDENTITIES, string>;
    writeFileSync(
      join(pki, 'tokens.csv'),
      tokenAuthFile((Object.keys(IDENTITIES) as Array<keyof typeof IDENTITIES>).map((k) => ({ token: tokens[k], identity: IDENTITIES[k] }))),
      { mode: 0o600 },
    );
    const kubeconfigs = {
      admin: join(dir, 'kubeconfig', 'admin.kubeconfig'),
      controllerManager: join(dir, 'kubeconfig', 'kube-controller-manager.kubeconfig'),
      scheduler: join(dir, 'kubeconfig', 'kube-scheduler.kubeconfig'),
      kubelet: join(dir, 'kubeconfig', 'kubelet.kubeconfig'),
      kubeProxy: join(dir, 'kubeconfig', 'kube-proxy.kubeconfig'),
    };
    for (const [who, file] of Object.entries(kubeconfigs) as Array<[keyof typeof IDENTITIES, string]>) {
      writeFileSync(file, tokenKubeconfig(apiserverUrl, caPem, IDENTITIES[who].user, tokens[who]), { mode: 0o600 });
    }
    const socket = join(dir, 'containerd', 'containerd.sock');
    writeFileSync(join(dir, 'containerd', 'config.toml'), containerdConfig(dir, manifest.images.pause.ref));
    writeFileSync(join(dir, 'cni', 'net.d', '10-vabr.conflist'), cniConflist(dir));
    writeFileSync(join(dir, 'kubelet-config.yaml'), kubeletConfig(dir, ports, socket));
    writeFileSync(join(dir, 'kubelet-resolv.conf'), `nameserver ${NET.dnsIP}\noptions ndots:5\n`);
    writeFileSync(join(dir, 'kube-proxy.yaml'), kubeProxyConfig(dir, ports));

    // local-kms listens on every address: its port gets a DROP rule like the apiserver's
    kms = await LocalKmsServer.create(dir);
    ports.kms = Number(new URL(kms.endpoint).port);

    createBridge();
    addDropRules([ports.apiserver, ports.kms]);
    mark('PKI, bridge and DROP rules');

    const proc = (name: string, binary: string, args: string[]) => {
      const p = new ManagedProcess(name, binary, args, { logFile: join(logs, `${name}.log`) });
      procs.push(p);
      p.start();
      return p;
    };
    const kubeCall = (method: string, path: string, body?: unknown) =>
      httpRequest(`${apiserverUrl}${path}`, {
        method,
        ca: caPem,
        bearer: tokens.admin,
        headers: body === undefined ? {} : { 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
        timeoutMs: 10_000,
      });
    const ctr = (...args: string[]) => run('ctr', ['--address', socket, '--namespace', 'k8s.io', ...args], { maxBuffer: 16 * 1024 * 1024 });

    const containerd = proc('containerd', 'containerd', ['--config', join(dir, 'containerd', 'config.toml')]);
    const { pause, app, coredns, vault, operator } = manifest.images;
    // the images the node's first pods need, then the big ones while the node comes up
    const nodeImports = (async () => {
      await waitUntilServing(containerd, async () => existsSync(socket) && (await ctr('version')).stdout.includes('Server'), 30_000);
      mark('containerd up');
      await Promise.all([pause, coredns, app].map((image) => ctr('images', 'import', image.archive)));
    })();
    const imports = (async () => {
      await nodeImports;
      await ctr('images', 'import', vault.archive);
      // this machine's variant of the two-architecture operator image, also under a name that always means it
      await ctr('images', 'import', '--platform', `linux/${goArch()}`, operator.archive);
      await ctr('images', 'tag', '--force', operator.ref, operatorNative);
      if (operatorArch === 'arm64') {
        await ctr('images', 'import', manifest.images.operatorArm64Rootfs.archive);
        await ctr('images', 'tag', '--force', manifest.images.operatorArm64Rootfs.ref, operator.ref);
      }
      for (const alias of VAULT_IMAGE_ALIASES) await ctr('images', 'tag', '--force', vault.ref, alias);
      for (const alias of APP_IMAGE_ALIASES) await ctr('images', 'tag', '--force', app.ref, alias);
      const listed = (await ctr('images', 'ls', '-q')).stdout;
      for (const ref of [pause.ref, app.ref, coredns.ref, vault.ref, operator.ref, operatorNative, ...VAULT_IMAGE_ALIASES, ...APP_IMAGE_ALIASES]) {
        if (!listed.split('\n').some((line) => line === ref || line === `docker.io/${ref}`)) throw new Error(`image ${ref} missing after import:\n${listed}`);
      }
      mark('images imported');
    })();
    // a failure is reported where it is awaited; until then it must not count as unhandled
    imports.catch(() => undefined);

    const etcd = proc('etcd', manifest.binaries.etcd, [
      '--name=local',
      `--data-dir=${join(dir, 'etcd')}`,
      `--listen-client-urls=http://127.0.0.1:${ports.etcdClient}`,
      `--advertise-client-urls=http://127.0.0.1:${ports.etcdClient}`,
      `--listen-peer-urls=http://127.0.0.1:${ports.etcdPeer}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${ports.etcdPeer}`,
      `--initial-cluster=local=http://127.0.0.1:${ports.etcdPeer}`,
      '--listen-metrics-urls=',
      '--unsafe-no-fsync=true',
      '--log-level=warn',
    ]);
    await waitUntilServing(etcd, async () => (await httpRequest(`http://127.0.0.1:${ports.etcdClient}/health`, { timeoutMs: 2000 })).status === 200, 30_000);
    mark('etcd healthy');
    const apiserver = proc('kube-apiserver', manifest.binaries['kube-apiserver'], apiserverArgs(dir, ports));
    const kmsStart = kms.start();
    await waitUntilServing(apiserver, async () => (await kubeCall('GET', '/readyz')).status === 200, 120_000);
    mark('apiserver ready');

    proc('kube-controller-manager', manifest.binaries['kube-controller-manager'], controllerManagerArgs(dir, ports));
    proc('kube-scheduler', manifest.binaries['kube-scheduler'], schedulerArgs(dir, ports));
    proc('kube-proxy', manifest.binaries['kube-proxy'], [`--config=${join(dir, 'kube-proxy.yaml')}`]);
    await nodeImports;
    const kubelet = proc('kubelet', manifest.binaries.kubelet, kubeletArgs(dir));
    await waitUntilServing(kubelet, async () => nodeReady(await kubeCall('GET', `/api/v1/nodes/${NODE_NAME}`)), 120_000);
    // the kubelet sets these once at start; the machine's values come back
    for (const name of KUBELET_SYSCTLS) writeSysctl(name, host.sysctls[name]!);
    mark('node Ready');

    const kubectlPath = manifest.binaries.kubectl;
    const kubectlRun = (args: string[], input?: string) => kubectl({ kubectl: kubectlPath, kubeconfig: kubeconfigs.admin }, args, input);
    await kubectlRun(['apply', '-f', '-'], storageClassManifest() + '---\n' + corednsManifest(manifest.images.coredns.ref));
    provisioner = new HostPathProvisioner(kubeCall, join(dir, 'volumes'));
    provisioner.start();
    await kmsStart;
    await imports;
    await waitUntilServing(
      containerd,
      async () => {
        const res = await kubeCall('GET', '/apis/apps/v1/namespaces/kube-system/deployments/coredns');
        const ok = res.status === 200 && (JSON.parse(res.body) as { status?: { availableReplicas?: number } }).status?.availableReplicas === 1;
        const sa = await kubeCall('GET', '/api/v1/namespaces/default/serviceaccounts/default');
        return ok && sa.status === 200;
      },
      120_000,
    );
    mark('CoreDNS ready');

    const kmsEndpoint = kms.endpoint.replace('127.0.0.1', NET.nodeIP);
    const info: ClusterInfo = {
      kubeconfig: kubeconfigs.admin,
      kubectl: kubectlPath,
      stateDir: dir,
      nodeIP: NET.nodeIP,
      apiserverUrl,
      apiserverCaFile: join(pki, 'ca.crt'),
      kmsEndpoint,
      kms: { region: kms.region, keyId: kms.key.keyId, keyAlias: kms.key.alias, otherKeyId: kms.otherKey.keyId, otherKeyAlias: kms.otherKey.alias },
      images: { operator: manifest.images.operator.ref, vault: manifest.images.vault.ref, app: manifest.images.app.ref, vaultAliases: [...VAULT_IMAGE_ALIASES], appAliases: [...APP_IMAGE_ALIASES], operatorNative },
      operatorArch,
      operatorArm64Rootfs: manifest.images.operatorArm64Rootfs,
      operatorArchive: manifest.images.operator.archive,
      containerd: { socket, namespace: 'k8s.io' },
      storageClass: 'local-hostpath',
      startup,
    };
    const memory = () => {
      const processes: Record<string, number> = {};
      for (const p of procs) if (p.pid) processes[p.name] = Math.round(rssKb(p.pid) / 1024);
      if (kms?.process.pid) processes['local-kms'] = Math.round(rssKb(kms.process.pid) / 1024);
      const processesTotal = Object.values(processes).reduce((a, b) => a + b, 0);
      return { processes, processesTotal, pods: podsMemoryMiB() };
    };
    if (operatorArch === 'arm64') note(`cluster: ${manifest.images.operator.ref} is the ARM64 variant here (runs through qemu-aarch64)`);
    note(`cluster: up in ${((Date.now() - t0) / 1000).toFixed(1)} s; KUBECONFIG=${kubeconfigs.admin}`);
    dropSignalHandlers();
    return { ...info, memory, kubectlRun, stop };
  } catch (error) {
    note(`cluster: start failed, tearing down (logs in ${logs}${opts.keepState ? '' : '; set VAULT_AUTOPILOT_KEEP_TMP=1 to keep them'})`);
    for (const p of procs) if (!p.running && p.output()) note(`${p.name} exited:\n${p.tail(15)}`);
    await stop();
    dropSignalHandlers();
    throw error;
  }
}

/** Runs this cluster's kubectl; resolves with stdout, rejects with stderr and the exit code. */
export async function kubectl(info: Pick<ClusterInfo, 'kubectl' | 'kubeconfig'>, args: string[], input?: string): Promise<string> {
  const child = execFile(info.kubectl, [`--kubeconfig=${info.kubeconfig}`, ...args], { maxBuffer: 64 * 1024 * 1024 });
  child.stdin!.end(input ?? '');
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: string) => (out += d));
  child.stderr!.on('data', (d: string) => (err += d));
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
  if (code !== 0) throw new Error(`kubectl ${args.join(' ')} failed (${code}): ${err.trim()}`);
  return out;
}

function nodeReady(res: { status: number; body: string }): boolean {
  if (res.status !== 200) return false;
  const node = JSON.parse(res.body) as { status?: { conditions?: Array<{ type: string; status: string }> } };
  return node.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
}

function goArch(): string {
  return process.arch === 'x64' ? 'amd64' : process.arch;
}

/** The kubelet links each container's log into /var/log/containers; remove the links into this run. */
function removeContainerLogLinks(dir: string): void {
  const links = '/var/log/containers';
  let entries: string[] = [];
  try {
    entries = readdirSync(links);
  } catch {
    return;
  }
  for (const entry of entries) {
    try {
      if (readlinkSync(join(links, entry)).startsWith(dir)) unlinkSync(join(links, entry));
    } catch {
      // not a link
    }
  }
}

function podsMemoryMiB(): number {
  try {
    return Math.round(Number(readFileSync('/sys/fs/cgroup/memory/kubepods/memory.usage_in_bytes', 'utf8')) / 1024 / 1024);
  } catch {
    return 0;
  }
}

function latestManifest(): string {
  const dir = join(process.env.VAULT_AUTOPILOT_CACHE ?? join(process.env.HOME ?? '/root', '.cache', 'vault-autopilot'), 'cluster');
  const lines = execFileSync('bash', ['-c', `echo -n "${REPO_ROOT}" | sha256sum | cut -c1-12`], { encoding: 'utf8' }).trim();
  const file = join(dir, `manifest-${lines}.json`);
  if (!existsSync(file)) throw new Error(`no build manifest ${file}: run test/cluster/build.sh`);
  return file;
}

/** Inside e2e tests: the running cluster's details (the file run-e2e.ts wrote). */
export function readE2eEnv(): ClusterInfo {
  const file = process.env[E2E_ENV_VARIABLE];
  if (!file) throw new Error(`${E2E_ENV_VARIABLE} is not set: run e2e tests with \`npm run test:e2e\` (make test-e2e), which starts the cluster`);
  return JSON.parse(readFileSync(file, 'utf8')) as ClusterInfo;
}

/**
 * Registers ava hooks that give a test file the cluster: the shared one of
 * `npm run test:e2e`, or — when the file runs on its own — one started for it.
 */
export function useCluster<Context>(test: TestFn<Context>): () => ClusterInfo {
  let info: ClusterInfo | undefined;
  let own: Cluster | undefined;
  test.before(async () => {
    if (process.env[E2E_ENV_VARIABLE]) info = readE2eEnv();
    else info = own = await startCluster();
  });
  test.after.always(async () => {
    await own?.stop();
  });
  return () => {
    if (!info) throw new Error('the cluster is not up (useCluster registers a before hook; call it inside tests)');
    return info;
  };
}
