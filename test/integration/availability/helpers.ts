// Shared pieces of the availability tests: real operator processes with
// leader election, each talking to the apiserver through its own recording
// proxy (so a test can list what a follower wrote), webhook certificates on
// disk, AdmissionReview requests, and the RSS of a process.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import * as https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCertificateAuthority, createServingCertificate } from '../../../operator/framework/webhook-certs.js';
import { startOperatorProcess, type OperatorProcess, type TestEnv } from '../../harness/index.js';
import { freePort } from '../../harness/ports.js';
import { startRecordingProxy, type RecordingProxy } from '../deploy/recording-proxy.js';
import { startFaultProxy, type FaultProxy } from '../../harness/fault-proxy.js';

export const KMS_CREDENTIALS = { accessKeyId: 'test', secretAccessKey: 'test' };

/** A CA and a serving certificate for 127.0.0.1 in a directory (tls.crt, tls.key): the OLM/cert-manager mount. */
export function writeWebhookCerts(): { dir: string; caPem: string } {
  const dir = mkdtempSync(join(tmpdir(), 'va-avail-certs-'));
  const now = Date.now();
  const ca = createCertificateAuthority({ commonName: 'availability-test-ca', notBefore: new Date(now - 60_000), notAfter: new Date(now + 86_400_000) });
  const serving = createServingCertificate({ ca, commonName: '127.0.0.1', dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'], notBefore: new Date(now - 60_000), notAfter: new Date(now + 86_400_000) });
  writeFileSync(join(dir, 'tls.crt'), serving.cert);
  writeFileSync(join(dir, 'tls.key'), serving.key, { mode: 0o600 });
  return { dir, caPem: ca.cert };
}

/** A kubeconfig with the admin token that talks to `server` (a plain-HTTP proxy). */
export function proxyKubeconfig(env: TestEnv, server: string): string {
  const token = env.kubeConfig().getCurrentUser()?.token ?? '';
  const file = join(mkdtempSync(join(tmpdir(), 'va-avail-kc-')), 'kubeconfig');
  writeFileSync(
    file,
    ['apiVersion: v1', 'kind: Config', `clusters: [{name: p, cluster: {server: "${server}", insecure-skip-tls-verify: true}}]`, `users: [{name: u, user: {token: "${token}"}}]`, 'contexts: [{name: c, context: {cluster: p, user: u}}]', 'current-context: c', ''].join('\n'),
    { mode: 0o600 },
  );
  return file;
}

export interface Replica {
  name: string;
  proc: OperatorProcess;
  proxy: RecordingProxy;
  webhookPort: number;
  healthPort: number;
  /** Requests that change something, other than the Lease (leader election itself). */
  writes(): Array<{ method: string; url: string; status: number }>;
  /** In front of the recording proxy: its hooks cut the replica off the apiserver (a network partition). */
  fault: FaultProxy;
}

const WRITE = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

export async function startReplica(env: TestEnv, name: string, extraEnv: Record<string, string>): Promise<Replica> {
  const proxy = await startRecordingProxy(env.apiserverUrl, readFileSync(env.apiserverCaFile, 'utf8'));
  const fault = await startFaultProxy(proxy.url);
  const webhookPort = await freePort();
  const healthPort = await freePort({ alsoFree: [webhookPort] });
  const proc = await startOperatorProcess({
    entry: 'operator/main.ts',
    env: {
      KUBECONFIG: proxyKubeconfig(env, fault.url),
      POD_NAME: name,
      VAULT_AUTOPILOT_HEALTH_PORT: String(healthPort),
      VAULT_AUTOPILOT_WEBHOOK_PORT: String(webhookPort),
      VAULT_AUTOPILOT_WEBHOOK_HOST: '127.0.0.1',
      VAULT_AUTOPILOT_LEADER_ELECTION: 'true',
      ...extraEnv,
    },
  });
  return {
    name,
    proc,
    proxy,
    fault,
    webhookPort,
    healthPort,
    writes: () => proxy.requests.filter((r) => WRITE.has(r.method) && !r.url.includes('/leases')).map(({ method, url, status }) => ({ method, url, status })),
  };
}

export function admissionReview(namespace: string, pod: string, annotations: Record<string, string> = {}): string {
  return JSON.stringify({
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: `uid-${pod}`,
      kind: { group: '', version: 'v1', kind: 'Pod' },
      resource: { group: '', version: 'v1', resource: 'pods' },
      namespace,
      operation: 'CREATE',
      userInfo: { username: 'test' },
      object: { apiVersion: 'v1', kind: 'Pod', metadata: { name: pod, namespace, annotations }, spec: { containers: [{ name: 'app', image: 'busybox:1.36' }] } },
    },
  });
}

/** POSTs a body to the webhook; resolves with status and body, or the transport error's code. */
export function postWebhook(port: number, caPem: string, body: string | Buffer, opts: { timeoutMs?: number; path?: string } = {}): Promise<{ status: number; body: string; ms: number }> {
  const started = performance.now();
  return new Promise((resolve) => {
    const req = https.request(
      { host: '127.0.0.1', port, path: opts.path ?? '/mutate-pods', method: 'POST', ca: caPem, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), ms: performance.now() - started }));
        res.on('error', () => resolve({ status: -1, body: 'response error', ms: performance.now() - started }));
      },
    );
    // 10 s: the apiserver's webhook timeout (timeoutSeconds default); a later answer is a failed admission
    req.setTimeout(opts.timeoutMs ?? 10_000, () => req.destroy(new Error('timeout')));
    req.on('error', (err: NodeJS.ErrnoException) => resolve({ status: -1, body: err.code ?? err.message, ms: performance.now() - started }));
    req.end(body);
  });
}

/** Resident set size of a process in MiB (Linux /proc). */
export function rssMiB(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('VmRSS:'));
  return Math.round((Number(/(\d+)/.exec(line ?? '')?.[1] ?? 0) / 1024) * 10) / 10;
}
