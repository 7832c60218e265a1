// The agent configuration the webhook injects really works: the config is
// taken out of the mutated pod's init container and run with the real
// `vault agent` binary, which logs in with Kubernetes auth (a real
// ServiceAccount token from the real apiserver, reviewed by Vault against it)
// and renders the secrets. The container's own command line (sh, base64,
// vault agent) is what runs; only container paths are remapped to a temp dir.
import test from 'ava';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { CoreV1Api, RbacAuthorizationV1Api } from '@kubernetes/client-node';
import { useTestEnv } from '../../harness/index.js';
import { binaryPath } from '../../harness/versions.js';
import type { AgentConfig } from '../../../operator/webhook/agent-config.js';
import { INJECTED_NAMES, mutatePod } from '../../../operator/webhook/mutate.js';
import { aPod, ann, someSettings } from '../../unit/webhook/helpers/builders.js';

const env = useTestEnv(test, { vault: 'dev', kms: false });
const dir = mkdtempSync(join(tmpdir(), 'agent-run-'));

test.after.always(() => {
  rmSync(dir, { recursive: true, force: true });
});

async function vault(method: string, path: string, body?: unknown): Promise<{ status: number; text: string }> {
  const res = await fetch(`${env().vault.address}/v1/${path}`, {
    method,
    headers: { 'X-Vault-Token': env().vault.rootToken, 'Content-Type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, text: await res.text() };
}

async function ok(method: string, path: string, body?: unknown): Promise<void> {
  const res = await vault(method, path, body);
  if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${res.text}`);
}

/** Runs the init container's own command line (sh + base64 + vault agent), with the home directory remapped. */
function runContainerCommand(command: string[], vaultConfig: string): Promise<{ code: number | null; output: string }> {
  const binDir = join(dir, 'bin');
  mkdirSync(binDir, { recursive: true });
  mkdirSync(join(dir, 'home'), { recursive: true });
  if (!existsSync(join(binDir, 'vault'))) symlinkSync(binaryPath('vault'), join(binDir, 'vault'));
  const [shell, ...args] = command.map((a) => a.replaceAll(INJECTED_NAMES.homeDir, join(dir, 'home')));
  return new Promise((resolve) => {
    const child = spawn(shell!, args, { env: { PATH: `${binDir}:/usr/bin:/bin`, VAULT_CONFIG: vaultConfig } });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

test('the injected init-container config logs in with Kubernetes auth and renders both templates (pod with automountServiceAccountToken: false)', async (t) => {
  const kc = env().kubeConfig();
  const core = kc.makeApiClient(CoreV1Api);
  const ns = await env().namespace('agent-run');
  const sa = 'app';
  await core.createNamespacedServiceAccount({ namespace: ns, body: { metadata: { name: sa } } });
  // Vault reviews the login JWT with the JWT itself: its ServiceAccount may create TokenReviews.
  const bindingName = `agent-run-${randomBytes(4).toString('hex')}`;
  const rbac = kc.makeApiClient(RbacAuthorizationV1Api);
  // Cluster-scoped, so not removed with the namespace: delete it while the apiserver is still up.
  t.teardown(() => rbac.deleteClusterRoleBinding({ name: bindingName }).then(() => undefined, () => undefined));
  await rbac.createClusterRoleBinding({
    body: {
      metadata: { name: bindingName },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'system:auth-delegator' },
      subjects: [{ kind: 'ServiceAccount', name: sa, namespace: ns }],
    },
  });

  const mount = await env().vaultMount('kv-v2');
  const v1 = await env().vaultMount('kv-v1');
  const authPath = `k8s-${randomBytes(3).toString('hex')}`;
  const role = `sa.${ns}.${sa}`;
  await ok('POST', `sys/auth/${authPath}`, { type: 'kubernetes' });
  await ok('POST', `auth/${authPath}/config`, {
    kubernetes_host: env().apiserverUrl,
    kubernetes_ca_cert: readFileSync(env().apiserverCaFile, 'utf8'),
    disable_local_ca_jwt: true,
  });
  await ok('PUT', `sys/policies/acl/${role}`, { policy: `path "${mount}/data/${ns}/*" { capabilities = ["read"] }\npath "${v1}/${ns}/*" { capabilities = ["read"] }` });
  await ok('POST', `auth/${authPath}/role/${role}`, {
    bound_service_account_names: [sa],
    bound_service_account_namespaces: [ns],
    token_policies: [role],
    token_ttl: '5m',
  });
  const plaintext = `pw-${randomBytes(8).toString('hex')}`;
  await ok('POST', `${mount}/data/${ns}/db`, { data: { password: plaintext, user: 'orders' } });
  await ok('POST', `${v1}/${ns}/legacy`, { token: plaintext, region: 'eu' });

  const pod = aPod({
    serviceAccountName: sa,
    annotations: ann({
      'agent-inject': 'true',
      'auth-path': authPath,
      'agent-inject-secret-db.env': `${mount}/data/${ns}/db`,
      'agent-inject-template-db.env': `{{ with secret "${mount}/data/${ns}/db" }}PASSWORD={{ .Data.data.password }}{{ end }}`,
      'agent-inject-secret-raw': `${mount}/data/${ns}/db`,
      'agent-inject-secret-legacy': `${v1}/${ns}/legacy`,
    }),
  });
  // the app's pod opts out of the default token mount: the agent logs in with its own projected token
  pod.spec!.automountServiceAccountToken = false;
  const outcome = mutatePod(pod, ns, someSettings({ vault: { address: env().vault.address } }));
  if (outcome.action !== 'patch') return t.fail(JSON.stringify(outcome));
  t.false(outcome.pod.spec!.automountServiceAccountToken, 'the pod keeps its setting');
  const init = outcome.pod.spec!.initContainers!.find((c) => c.name === INJECTED_NAMES.initContainer)!;
  const tokenVolume = outcome.pod.spec!.volumes!.find((v) => v.name === INJECTED_NAMES.tokenVolume);
  t.truthy(tokenVolume?.projected?.sources?.[0]?.serviceAccountToken, 'a projected ServiceAccount token volume of its own');
  t.true(init.volumeMounts!.some((m) => m.name === INJECTED_NAMES.tokenVolume && m.mountPath === INJECTED_NAMES.tokenDir));
  const config = JSON.parse(Buffer.from(init.env!.find((e) => e.name === 'VAULT_CONFIG')!.value!, 'base64').toString()) as AgentConfig;
  t.is(config.auto_auth.method[0]!.config.role, role);
  t.is(config.auto_auth.method[0]!.config.token_path, `${INJECTED_NAMES.tokenDir}/token`, 'the projected token, not the default mount');
  t.true(config.template_config.exit_on_retry_failure, 'a render that keeps failing stops the container');

  // What kubelet would provide for that projected volume (a token of the pod's ServiceAccount), and the other volumes.
  const { token } = (await core.createNamespacedServiceAccountToken({ name: sa, namespace: ns, body: { spec: { audiences: [], expirationSeconds: 600 } } })).status!;
  writeFileSync(join(dir, 'token'), token, { mode: 0o600 });
  const remap = (p: string): string =>
    p
      .replace(`${INJECTED_NAMES.tokenDir}/`, `${dir}/`)
      .replace(`${INJECTED_NAMES.secretsDir}/`, `${dir}/secrets-`)
      .replace(`${INJECTED_NAMES.homeDir}/`, `${dir}/home/`);
  config.auto_auth.method[0]!.config.token_path = remap(config.auto_auth.method[0]!.config.token_path);
  config.auto_auth.sink[0]!.config.path = remap(config.auto_auth.sink[0]!.config.path);
  config.pid_file = remap(config.pid_file);
  for (const tpl of config.template) tpl.destination = remap(tpl.destination);
  const run = await runContainerCommand(init.command!, Buffer.from(JSON.stringify(config)).toString('base64'));
  t.is(run.code, 0, 'the init container exits 0 after rendering (exit_after_auth)');
  t.false(run.output.includes(plaintext), 'the secret is not in the agent output');
  t.is(readFileSync(join(dir, 'secrets-db.env'), 'utf8'), `PASSWORD=${plaintext}`);
  // the default template: one `key: value` line per field, for KV v2 (fields under .Data.data) and v1 alike
  t.is(readFileSync(join(dir, 'secrets-raw'), 'utf8'), `password: ${plaintext}\nuser: orders\n`);
  t.is(readFileSync(join(dir, 'secrets-legacy'), 'utf8'), `region: eu\ntoken: ${plaintext}\n`);
});
