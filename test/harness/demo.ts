// `make demo`: local servers + the CRDs + the operator (operator/main.ts) as a
// child process, with everything printed that one needs to try it by hand.
// Runs until Ctrl-C. (This grows into the full self-service demo.)
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CoreV1Api } from '@kubernetes/client-node';
import { onPath, stopOnSignals } from './cli-support.js';
import { connectionHelp } from './connection-help.js';
import { writeConnectionInfo, type HarnessEnv } from './env.js';
import { freePort } from './ports.js';
import { ManagedProcess } from './proc.js';
import { note } from './server.js';
import { startServers } from './servers.js';
import { binaryPath, ensureBinaries, REPO_ROOT } from './versions.js';

const OPERATOR_ENTRY = 'operator/main.ts';
const OPERATOR_NAMESPACE = 'vault-autopilot';

ensureBinaries();
const servers = await startServers({ vault: 'dev', kms: true, apiserver: true });
let operator: ManagedProcess | undefined;
let stopping = false;
stopOnSignals(async () => {
  stopping = true;
  await operator?.stop('SIGTERM', 15_000);
  await servers.stopAll();
});

const env = servers.env as HarnessEnv;
const crdFiles = readdirSync(join(REPO_ROOT, 'crds'))
  .filter((f) => f.endsWith('.yaml') || f.endsWith('.yml'))
  .map((f) => join('crds', f));
if (crdFiles.length > 0) {
  await env.applyCrds(...crdFiles);
  note(`applied ${crdFiles.join(', ')}`);
}
await env
  .kubeConfig()
  .makeApiClient(CoreV1Api)
  .createNamespace({ body: { metadata: { name: OPERATOR_NAMESPACE } } });

const infoFile = join(servers.dir, 'test-env.json');
writeConnectionInfo(infoFile, env.info());
const healthPort = await freePort();
const webhookPort = await freePort();
// The operator reads its Vault token from a file; this one lives in the
// servers' temp dir (mode 0600) and goes when the demo stops.
const tokenFile = join(servers.dir, 'demo-vault-token');
writeFileSync(tokenFile, env.vault.rootToken, { mode: 0o600 });
const operatorEnv: Record<string, string> = {
  KUBECONFIG: env.kubeconfigPath,
  VAULT_AUTOPILOT_NAMESPACE: OPERATOR_NAMESPACE,
  VAULT_AUTOPILOT_KMS_ENDPOINT: env.kms.endpoint,
  VAULT_AUTOPILOT_KMS_REGION: env.kms.region,
  VAULT_AUTOPILOT_HEALTH_PORT: String(healthPort),
  VAULT_AUTOPILOT_VAULT_ADDR: env.vault.address,
  VAULT_AUTOPILOT_VAULT_AUTH: 'token',
  VAULT_AUTOPILOT_VAULT_TOKEN_FILE: tokenFile,
  // The apiserver calls the pod webhook on loopback; the operator makes its own certificates.
  VAULT_AUTOPILOT_WEBHOOK_PORT: String(webhookPort),
  VAULT_AUTOPILOT_WEBHOOK_HOST: '127.0.0.1',
  VAULT_AUTOPILOT_WEBHOOK_URL: `https://127.0.0.1:${webhookPort}/mutate-pods`,
  VAULT_AUTOPILOT_WEBHOOK_SELF_MANAGED_CERTS: 'true',
  // local-kms accepts any credentials
  AWS_ACCESS_KEY_ID: 'test',
  AWS_SECRET_ACCESS_KEY: 'test',
};

const samples = existsSync(join(REPO_ROOT, 'samples')) ? readdirSync(join(REPO_ROOT, 'samples')).filter((f) => /\.ya?ml$/.test(f)) : [];
const help = [
  '',
  connectionHelp({ info: env.info(), vaultBinary: binaryPath('vault'), hasKubectl: onPath('kubectl'), hasAws: onPath('aws'), infoFile }),
  '',
  `The operator runs with: ${Object.entries(operatorEnv).map(([k, v]) => `${k}=${v}`).join(' ')}`,
  `Health: curl http://127.0.0.1:${healthPort}/readyz`,
  ...(samples.length > 0 ? ['Samples to apply (export KUBECONFIG first):', ...samples.map((s) => `  kubectl apply -f samples/${s}`)] : []),
  '',
  'Press Ctrl-C to stop the operator and the servers.',
  '',
].join('\n');

if (!existsSync(join(REPO_ROOT, OPERATOR_ENTRY))) {
  process.stdout.write(`${help}\n(${OPERATOR_ENTRY} does not exist yet: only the servers are running.)\n`);
} else {
  operator = new ManagedProcess('operator', process.execPath, ['--import=tsx', OPERATOR_ENTRY], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...operatorEnv },
    echo: process.stdout,
  });
  operator.start();
  process.stdout.write(help);
  void operator.exited().then((code) => {
    if (!stopping) note(`the operator exited with code ${code}; the servers stay up until Ctrl-C`);
  });
}
setInterval(() => undefined, 60_000);
