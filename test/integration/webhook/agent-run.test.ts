// The agent configuration the webhook injects really works: the config is
// taken out of the mutated pod's init container and run with the real
// `vault agent` binary, which logs in with Kubernetes auth (a real
// ServiceAccount token from the real apiserver, reviewed by Vault against it)
// and renders the secrets. The container's own command line (sh, base64,
// vault agent) is what runs; only container paths are remapped to a temp dir.
import test, { type ExecutionContext } from 'ava';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { CoreV1Api, RbacAuthorizationV1Api, type V1Container } from '@kubernetes/client-node';
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

interface AgentRun {
  /** The exit code, or undefined when `until` matched first (the agent is then killed). */
  code: number | null | undefined;
  output: string;
}

/**
 * Runs an injected container's own command line (sh + base64 + vault agent) in
 * `work` (its home directory remapped there) until it exits or its output
 * satisfies `until`; no time limit of its own (ava's applies). A process still
 * running when the test ends is killed.
 */
function runContainerCommand(t: ExecutionContext, work: string, command: string[], config: AgentConfig, until?: (output: string) => boolean): Promise<AgentRun> {
  const binDir = join(dir, 'bin');
  mkdirSync(binDir, { recursive: true });
  mkdirSync(join(work, 'home'), { recursive: true });
  if (!existsSync(join(binDir, 'vault'))) symlinkSync(binaryPath('vault'), join(binDir, 'vault'));
  const [shell, ...args] = command.map((a) => a.replaceAll(INJECTED_NAMES.homeDir, join(work, 'home')));
  const vaultConfig = Buffer.from(JSON.stringify(config)).toString('base64');
  return new Promise((resolve) => {
    const child = spawn(shell!, args, { env: { PATH: `${binDir}:/usr/bin:/bin`, VAULT_CONFIG: vaultConfig } });
    t.teardown(() => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    });
    let output = '';
    const collect = (c: Buffer): void => {
      output += c.toString();
      if (until?.(output)) {
        resolve({ code: undefined, output });
        child.kill('SIGKILL');
      }
    };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    child.on('exit', (code) => resolve({ code, output }));
  });
}

/** The container paths of an injected agent config, moved under `work` (token at `work/token`, secrets at `work/secrets-<file>`). */
function remapPaths(config: AgentConfig, work: string): AgentConfig {
  const remap = (p: string): string =>
    p
      .replace(`${INJECTED_NAMES.tokenDir}/`, `${work}/`)
      .replace(`${INJECTED_NAMES.secretsDir}/`, `${work}/secrets-`)
      .replace(`${INJECTED_NAMES.homeDir}/`, `${work}/home/`);
  const out = structuredClone(config);
  out.auto_auth.method[0]!.config.token_path = remap(out.auto_auth.method[0]!.config.token_path);
  out.auto_auth.sink[0]!.config.path = remap(out.auto_auth.sink[0]!.config.path);
  out.pid_file = remap(out.pid_file);
  for (const tpl of out.template) tpl.destination = remap(tpl.destination);
  return out;
}

function configOf(container: V1Container): AgentConfig {
  return JSON.parse(Buffer.from(container.env!.find((e) => e.name === 'VAULT_CONFIG')!.value!, 'base64').toString()) as AgentConfig;
}

interface Tenant {
  core: CoreV1Api;
  ns: string;
  sa: string;
  authPath: string;
  role: string;
  /** KV v2 and KV v1 mounts; the role reads `<mount>/data/<ns>/*` and `<v1>/<ns>/*` only. */
  mount: string;
  v1: string;
}

/** A namespace, its ServiceAccount, a Kubernetes auth mount reviewing against the real apiserver, and the role. */
async function setUpTenant(t: ExecutionContext, prefix: string): Promise<Tenant> {
  const kc = env().kubeConfig();
  const core = kc.makeApiClient(CoreV1Api);
  const ns = await env().namespace(prefix);
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
  return { core, ns, sa, authPath, role, mount, v1 };
}

/** What kubelet would put in the projected token volume: a token of the pod's ServiceAccount. */
async function writeServiceAccountToken(tenant: Tenant, file: string): Promise<void> {
  const body = { spec: { audiences: [], expirationSeconds: 600 } };
  const { token } = (await tenant.core.createNamespacedServiceAccountToken({ name: tenant.sa, namespace: tenant.ns, body })).status!;
  writeFileSync(file, token, { mode: 0o600 });
}

test('the injected init-container config logs in with Kubernetes auth and renders both templates (pod with automountServiceAccountToken: false)', async (t) => {
  const tenant = await setUpTenant(t, 'agent-run');
  const { ns, sa, authPath, role, mount, v1 } = tenant;
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
  const config = configOf(init);
  t.is(config.auto_auth.method[0]!.config.role, role);
  t.is(config.auto_auth.method[0]!.config.token_path, `${INJECTED_NAMES.tokenDir}/token`, 'the projected token, not the default mount');

  const work = join(dir, 'renders');
  mkdirSync(work);
  await writeServiceAccountToken(tenant, join(work, 'token'));
  const run = await runContainerCommand(t, work, init.command!, remapPaths(config, work));
  t.is(run.code, 0, 'the init container exits 0 after rendering (exit_after_auth)');
  t.false(run.output.includes(plaintext), 'the secret is not in the agent output');
  t.is(readFileSync(join(work, 'secrets-db.env'), 'utf8'), `PASSWORD=${plaintext}`);
  // the default template: one `key: value` line per field, for KV v2 (fields under .Data.data) and v1 alike
  t.is(readFileSync(join(work, 'secrets-raw'), 'utf8'), `password: ${plaintext}\nuser: orders\n`);
  t.is(readFileSync(join(work, 'secrets-legacy'), 'utf8'), `region: eu\ntoken: ${plaintext}\n`);
});

// exit_on_retry_failure, run for real: a template Vault keeps refusing makes
// the injected agent exit non-zero (init container: the pod does not start
// without its secrets; sidecar: kubelet restarts it, visible as restarts)
// instead of retrying forever. The only change to the injected config besides
// the paths: Vault Agent's retries of a read (default 12, with backoff: a
// failing init container exits after about 5 minutes) cut to 1. The control
// run, the same config with the flag off, shows what the agent does without
// it: it logs a template-server restart and keeps running.
test('exit_on_retry_failure: an injected agent whose template Vault refuses exits non-zero (init container and sidecar); with the flag off it keeps running', async (t) => {
  const tenant = await setUpTenant(t, 'agent-deny');
  const { ns, sa, authPath, mount } = tenant;
  const other = `${mount}/data/other-team/db`; // outside the role's policy (<mount>/data/<ns>/*)
  await ok('POST', other, { data: { password: `pw-${randomBytes(8).toString('hex')}` } });
  const pod = aPod({ serviceAccountName: sa, annotations: ann({ 'agent-inject': 'true', 'auth-path': authPath, 'agent-inject-secret-db': other }) });
  const outcome = mutatePod(pod, ns, someSettings({ vault: { address: env().vault.address } }));
  if (outcome.action !== 'patch') return t.fail(JSON.stringify(outcome));
  const init = outcome.pod.spec!.initContainers!.find((c) => c.name === INJECTED_NAMES.initContainer)!;
  const sidecar = [...outcome.pod.spec!.initContainers!, ...outcome.pod.spec!.containers].find((c) => c.name === INJECTED_NAMES.sidecar)!;
  t.true(configOf(init).exit_after_auth, 'init container: render once');
  t.false(configOf(sidecar).exit_after_auth, 'sidecar: keeps running');

  const keptRetrying = (output: string): boolean => output.includes('template server restart');
  for (const [name, container] of [['init container', init], ['sidecar', sidecar]] as const) {
    for (const flag of [true, false]) {
      const work = join(dir, `deny-${container.name}-${flag}`);
      mkdirSync(work);
      await writeServiceAccountToken(tenant, join(work, 'token'));
      const config = remapPaths(configOf(container), work);
      t.true(config.template_config.exit_on_retry_failure, `${name}: injected with exit_on_retry_failure`);
      config.template_config.exit_on_retry_failure = flag;
      const withRetry = { ...config, vault: { ...config.vault, retry: { num_retries: 1 } } } as AgentConfig;
      const run = await runContainerCommand(t, work, container.command!, withRetry, keptRetrying);
      t.true(run.output.includes('authentication successful'), `${name}: logged in (Kubernetes auth), so the refusal is the read`);
      t.true(run.output.includes('permission denied'), `${name}: Vault refused the read`);
      t.false(existsSync(join(work, 'secrets-db')), `${name}: nothing rendered`);
      if (flag) {
        t.is(run.code, 1, `${name}: exits 1 once the retries are spent`);
        t.false(keptRetrying(run.output), `${name}: no template-server restart`);
      } else {
        t.is(run.code, undefined, `${name}, flag off: still running after the retries were spent (template server restarted)`);
      }
    }
  }
});
