// kube-apiserver on loopback over HTTPS, backed by an EtcdServer. No kubelet,
// no controller-manager: objects are stored, admission webhooks are called,
// TokenRequest/TokenReview work; nothing runs pods or garbage-collects.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { httpRequest } from './http.js';
import { freePort } from './ports.js';
import { ManagedProcess } from './proc.js';
import { note, startAndWait, type Server } from './server.js';
import { binaryPath } from './versions.js';

export const ADMIN_USER = 'vault-autopilot-admin';

/** Pure: a one-cluster, one-user kubeconfig with a bearer token (and, with `as`, impersonating that user). */
export function kubeconfigYaml(o: { server: string; caData: string; user: string; token: string; as?: string; context: string; namespace: string }): string {
  return [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    '- name: harness',
    '  cluster:',
    `    server: ${o.server}`,
    `    certificate-authority-data: ${o.caData}`,
    'users:',
    `- name: ${o.user}`,
    '  user:',
    `    token: ${o.token}`,
    ...(o.as ? [`    as: ${o.as}`] : []),
    'contexts:',
    `- name: ${o.context}`,
    '  context:',
    '    cluster: harness',
    `    user: ${o.user}`,
    `    namespace: ${o.namespace}`,
    `current-context: ${o.context}`,
    '',
  ].join('\n');
}

/** Pure: the admin kubeconfig (bearer token of a system:masters user). */
export function adminKubeconfigYaml(server: string, caPem: string, token: string): string {
  return kubeconfigYaml({ server, caData: Buffer.from(caPem).toString('base64'), user: ADMIN_USER, token, context: 'harness', namespace: 'default' });
}

export interface KubeApiServerOptions {
  /** Write an audit log of every request that changes something (see apiserver-audit.ts). */
  auditLog?: boolean;
  /** More flags, e.g. --admission-control-config-file (files they name must exist before start). */
  extraArgs?: string[];
}

/** Audit policy: requests that change something, at Metadata level (who, verb, object; no bodies). */
const AUDIT_WRITES_POLICY = [
  'apiVersion: audit.k8s.io/v1',
  'kind: Policy',
  'omitStages: [RequestReceived]',
  'rules:',
  '  - level: None',
  '    verbs: [get, list, watch]',
  '  - level: Metadata',
  '',
].join('\n');

export class KubeApiServer implements Server {
  readonly name = 'kube-apiserver';
  version = 'unknown';
  readonly process: ManagedProcess;
  readonly url: string;
  readonly kubeconfigPath: string;
  /** CA bundle of the self-signed serving certificate (the apiserver makes it on first start). */
  readonly caFile: string;
  private readonly adminToken: string;
  /** JSON lines of the apiserver's audit log (writes only), when started with `auditLog`. */
  readonly auditLogFile: string | undefined;

  private constructor(binary: string, dir: string, etcdUrl: string, port: number, opts: KubeApiServerOptions) {
    this.url = `https://127.0.0.1:${port}`;
    const pki = join(dir, 'pki');
    mkdirSync(pki, { recursive: true, mode: 0o700 });
    this.caFile = join(pki, 'apiserver.crt');
    this.kubeconfigPath = join(dir, 'kubeconfig');
    this.adminToken = randomBytes(24).toString('hex');
    const tokenFile = join(pki, 'tokens.csv');
    writeFileSync(tokenFile, `${this.adminToken},${ADMIN_USER},${ADMIN_USER},"system:masters"\n`, { mode: 0o600 });
    // Service-account tokens are signed with a key made for this run.
    const saKey = join(pki, 'sa.key');
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    writeFileSync(saKey, privateKey.export({ type: 'pkcs1', format: 'pem' }), { mode: 0o600 });
    const audit: string[] = [];
    if (opts.auditLog) {
      this.auditLogFile = join(dir, 'kube-apiserver-audit.log');
      const policy = join(pki, 'audit-policy.yaml');
      writeFileSync(policy, AUDIT_WRITES_POLICY);
      audit.push(`--audit-policy-file=${policy}`, `--audit-log-path=${this.auditLogFile}`, '--audit-log-format=json', '--audit-log-maxsize=0', '--audit-log-mode=blocking');
    }
    this.process = new ManagedProcess(
      'kube-apiserver',
      binary,
      [
        `--etcd-servers=${etcdUrl}`,
        '--bind-address=127.0.0.1',
        // required on a machine with no default route
        '--advertise-address=127.0.0.1',
        `--secure-port=${port}`,
        `--cert-dir=${pki}`,
        `--token-auth-file=${tokenFile}`,
        `--service-account-issuer=${this.url}`,
        `--service-account-key-file=${saKey}`,
        `--service-account-signing-key-file=${saKey}`,
        '--authorization-mode=RBAC',
        '--service-cluster-ip-range=10.0.0.0/24',
        '--allow-privileged=true',
        // no controller-manager makes ServiceAccount token Secrets here
        '--disable-admission-plugins=ServiceAccount',
        '--profiling=false',
        ...audit,
        ...(opts.extraArgs ?? []),
      ],
      { logFile: join(dir, 'kube-apiserver.log') },
    );
  }

  static async create(dir: string, etcdUrl: string, opts: KubeApiServerOptions = {}): Promise<KubeApiServer> {
    return new KubeApiServer(binaryPath('kube-apiserver'), dir, etcdUrl, await freePort(), opts);
  }

  caPem(): string {
    return readFileSync(this.caFile, 'utf8');
  }

  async start(): Promise<void> {
    const ms = await startAndWait(this, () => this.ready(), 120_000);
    const version = await httpRequest(`${this.url}/version`, { ca: this.caPem(), bearer: this.adminToken });
    this.version = (JSON.parse(version.body) as { gitVersion?: string }).gitVersion ?? 'unknown';
    writeFileSync(this.kubeconfigPath, adminKubeconfigYaml(this.url, this.caPem(), this.adminToken), { mode: 0o600 });
    note(`kube-apiserver ${this.version} serving ${this.url} (ready in ${ms} ms)`);
  }

  async stop(): Promise<void> {
    await this.process.stop();
  }

  private async ready(): Promise<boolean> {
    if (!existsSync(this.caFile)) return false;
    const res = await httpRequest(`${this.url}/readyz`, { ca: this.caPem(), bearer: this.adminToken, timeoutMs: 5000 });
    return res.status === 200;
  }
}
