// The processes the benchmarks measure, each as the real binary in its own
// process: the operator (dist/, plain node, as in the image) and HashiCorp's
// vault-k8s injector (Go, built by test/harness/build-servers.sh vault-k8s).
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { HarnessEnv } from '../harness/env.js';
import { freePort } from '../harness/ports.js';
import { REPO_ROOT } from '../harness/versions.js';
import { waitHttp } from './support.js';

export interface Measured {
  child: ChildProcess;
  pid: number;
  /** Base URL of its webhook endpoint (https://127.0.0.1:<port>). */
  webhookUrl: string;
  /** Path the AdmissionReviews go to. */
  webhookPath: string;
  stop(): Promise<void>;
}

export const PROBE = join(REPO_ROOT, 'test/bench/memory/probe.mjs');

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await new Promise((r) => child.once('exit', r));
  clearTimeout(killer);
}

function tail(child: ChildProcess): () => string {
  let text = '';
  child.stderr?.on('data', (c: Buffer) => (text = (text + c.toString()).slice(-4000)));
  child.stdout?.on('data', (c: Buffer) => (text = (text + c.toString()).slice(-4000)));
  return () => text;
}

/** The operator binary (`entry` from buildOperator(); default the image's bundle), webhook lifecycle or any other set; ready when /readyz says so. */
export async function startOperatorBinary(
  env: HarnessEnv,
  opts: { lifecycles: string; nodeFlags: string[]; entry?: string; probeOut?: string; snapshot?: boolean; extraEnv?: Record<string, string> },
): Promise<Measured> {
  const healthPort = await freePort();
  const webhookPort = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'bench-operator-'));
  const tokenFile = join(dir, 'vault-token');
  writeFileSync(tokenFile, env.vault.rootToken, { mode: 0o600 });
  const probe = opts.probeOut ? ['--expose-gc', `--import=${PROBE}`] : [];
  const child = spawn(process.execPath, [...probe, ...opts.nodeFlags, opts.entry ?? 'dist/bundle/main.js'], {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'ignore', 'pipe'],
    env: {
      ...process.env,
      ...(opts.probeOut ? { BENCH_PROBE_OUT: opts.probeOut, BENCH_PROBE_SNAPSHOT: opts.snapshot ? '1' : '0' } : {}),
      KUBECONFIG: env.kubeconfigPath,
      VAULT_AUTOPILOT_LIFECYCLES: opts.lifecycles,
      VAULT_AUTOPILOT_NAMESPACE: 'vault-autopilot',
      VAULT_AUTOPILOT_LOG_LEVEL: 'warn',
      VAULT_AUTOPILOT_HEALTH_PORT: String(healthPort),
      VAULT_AUTOPILOT_KMS_ENDPOINT: env.kms.endpoint,
      VAULT_AUTOPILOT_KMS_REGION: env.kms.region,
      VAULT_AUTOPILOT_VAULT_ADDR: env.vault.address,
      VAULT_AUTOPILOT_VAULT_AUTH: 'token',
      VAULT_AUTOPILOT_VAULT_TOKEN_FILE: tokenFile,
      VAULT_AUTOPILOT_WEBHOOK_PORT: String(webhookPort),
      VAULT_AUTOPILOT_WEBHOOK_HOST: '127.0.0.1',
      VAULT_AUTOPILOT_WEBHOOK_URL: `https://127.0.0.1:${webhookPort}/mutate-pods`,
      VAULT_AUTOPILOT_WEBHOOK_SELF_MANAGED_CERTS: 'true',
      VAULT_AUTOPILOT_WEBHOOK_CONFIGURATION_NAME: `bench-${webhookPort}`,
      AWS_ACCESS_KEY_ID: 'test',
      AWS_SECRET_ACCESS_KEY: 'test',
      ...opts.extraEnv,
    },
  });
  const output = tail(child);
  try {
    await waitHttp(`http://127.0.0.1:${healthPort}/readyz`, 90_000, () => (child.exitCode !== null ? `operator exited: ${output()}` : undefined));
  } catch (err) {
    await stopChild(child);
    throw err;
  }
  return {
    child,
    pid: child.pid!,
    webhookUrl: `https://127.0.0.1:${webhookPort}`,
    webhookPath: '/mutate-pods',
    stop: async () => {
      await stopChild(child);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * vault-k8s `agent-inject`. It insists on in-cluster Kubernetes config (the
 * service-account files under /var/run/secrets), so it runs in a private
 * mount namespace (unshare -m, root) where a tmpfs over /run holds the
 * harness apiserver's admin token and CA; nothing changes on the machine.
 */
export async function startVaultK8s(env: HarnessEnv, binary: string): Promise<Measured> {
  const port = await freePort();
  const kc = env.kubeConfig();
  const cluster = kc.getCurrentCluster()!;
  const token = kc.getCurrentUser()?.token;
  if (!token) throw new Error('the harness kubeconfig has no bearer token for vault-k8s');
  const ca = cluster.caData ? Buffer.from(cluster.caData, 'base64').toString() : readFileSync(cluster.caFile!, 'utf8');
  const server = new URL(cluster.server);
  const dir = mkdtempSync(join(tmpdir(), 'bench-vault-k8s-'));
  writeFileSync(join(dir, 'token'), token, { mode: 0o600 });
  writeFileSync(join(dir, 'ca.crt'), ca);
  writeFileSync(join(dir, 'namespace'), 'vault-autopilot');
  // its own certificate generation waits on a webhook configuration it patches; give it
  // files instead: ECDSA P-256, like the operator's self-managed certificate
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-days', '1', '-keyout', join(dir, 'tls.key'), '-out', join(dir, 'tls.crt')], { stdio: 'ignore' });
  const sa = '/run/secrets/kubernetes.io/serviceaccount';
  const script = `mount -t tmpfs tmpfs /run && mkdir -p ${sa} && cp "$1"/token "$1"/ca.crt "$1"/namespace ${sa}/ && shift && exec "$@"`;
  const child = spawn(
    'unshare',
    ['--mount', '--propagation', 'private', 'sh', '-c', script, 'sh', dir, binary, 'agent-inject', `-listen=127.0.0.1:${port}`, `-tls-cert-file=${join(dir, 'tls.crt')}`, `-tls-key-file=${join(dir, 'tls.key')}`, `-vault-address=${env.vault.address}`, '-log-level=' + (process.env.BENCH_PEER_LOG ?? 'warn')],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, KUBERNETES_SERVICE_HOST: server.hostname, KUBERNETES_SERVICE_PORT: server.port || '443' } },
  );
  const output = tail(child);
  try {
    await waitHttp(`https://127.0.0.1:${port}/health/ready`, 60_000, () => (child.exitCode !== null ? `vault-k8s exited: ${output()}` : undefined), true).catch((err: Error) => {
      throw new Error(`${err.message}; vault-k8s said: ${output()}`);
    });
  } catch (err) {
    await stopChild(child);
    throw err;
  }
  return {
    child,
    // unshare execs sh, which execs vault-k8s: the pid stays the same
    pid: child.pid!,
    webhookUrl: `https://127.0.0.1:${port}`,
    webhookPath: '/mutate',
    stop: async () => {
      await stopChild(child);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
