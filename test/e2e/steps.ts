// The README's walkthrough on a real cluster, one step per method: the e2e
// suite (test/e2e/*.test.ts) asserts on what each step returns, `make demo`
// (test/harness/demo-cluster.ts) prints it. One module, two callers.
//
// What the user does is done with the user's tools: every action is a shell
// command from README.md, run with bash in a scratch directory that looks
// like a clone (samples/ and olm-bundle/ link to this repository), kubectl on
// PATH and KUBECONFIG set, and `vault-autopilot` on PATH for `seal`.
// Observations (polling pods and status) use the API directly — cheaper than
// a kubectl process per poll on a busy machine. Vault is looked at the way the
// README says: `kubectl exec` into a Vault pod with the operator's token on
// stdin. Secrets the steps handle are collected so the suite can check that
// none reached the operator's logs, Events or status.
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { CreateAliasCommand, CreateKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { KubeConfig, type V1Pod } from '@kubernetes/client-node';
import { API_GROUP, API_VERSION } from '../../operator/api/naming.js';
import { errorCode, makeKubeClients, resourcePath, type KubeClients } from '../../operator/framework/index.js';
import { eventually } from '../harness/eventually.js';
import { REPO_ROOT } from '../harness/versions.js';

/** What the steps need of a cluster (test/harness/cluster.ts provides it). */
export interface FlowCluster {
  kubeconfig: string;
  /** Absolute path of kubectl. */
  kubectl: string;
  /** local-kms, reachable from the host and from pods. */
  kmsEndpoint: string;
  kms?: { region: string };
}

export const NS = { operator: 'vault-autopilot', vault: 'vault-system', app: 'shop', other: 'other-team' } as const;
const OPERATOR_LABEL = 'app.kubernetes.io/name=vault-autopilot';
const LOCAL_KMS_CREDENTIALS = { AWS_ACCESS_KEY_ID: 'local', AWS_SECRET_ACCESS_KEY: 'local' };

/** Reads Vault as the operator: its token from the Secret, on stdin, never on a command line. */
export function vaultAsOperator(args: string, pod = 'vault-0'): string {
  return (
    `kubectl -n ${NS.vault} get secret vault-operator-token -o jsonpath='{.data.token}' | base64 -d |\n` +
    `  kubectl -n ${NS.vault} exec -i ${pod} -c vault -- sh -c 'read -r VAULT_TOKEN; export VAULT_TOKEN; vault ${args}'`
  );
}

/** An app logs in with its own ServiceAccount token and reads a KV v2 field (run inside the app container). */
export function appLoginAndRead(role: string, field: string, path: string): string {
  return (
    `kubectl -n ${NS.app} exec deploy/billing -c billing -- sh -c \\\n` +
    `  'export VAULT_TOKEN=$(vault write -field=token auth/kubernetes/login role=${role} jwt=@/var/run/secrets/kubernetes.io/serviceaccount/token) && vault kv get -field=${field} ${path}'`
  );
}

/**
 * Every command the steps run as the user, verbatim as README.md shows them
 * (test/unit/e2e/readme-commands.test.ts checks that README.md has each one).
 */
export const COMMANDS = {
  install: 'kubectl apply --server-side -f olm-bundle/install.yaml',
  operatorRollout: 'kubectl -n vault-autopilot rollout status deployment/vault-autopilot',
  vaultApply: 'kubectl apply -f samples/vault-managed.yaml',
  vaultWait: 'kubectl wait vault/vault -n vault-system --for=condition=Ready --timeout=5m',
  vaultGet: 'kubectl get vault -n vault-system',
  vaultPodDelete: 'kubectl -n vault-system delete pod vault-1',
  operatorPodDelete: 'kubectl -n vault-autopilot delete pod -l app.kubernetes.io/name=vault-autopilot',
  scaleTo5: `kubectl -n vault-system patch vault vault --type merge -p '{"spec":{"size":5}}'`,
  scaleTo3: `kubectl -n vault-system patch vault vault --type merge -p '{"spec":{"size":3}}'`,
  raftPeers: vaultAsOperator('operator raft list-peers -format=json'),
  serviceAccountApply: 'kubectl apply -f samples/serviceaccount.yaml',
  roleRead: vaultAsOperator('read -format=json auth/kubernetes/role/sa.shop.orders'),
  kmsSecret: 'kubectl -n vault-autopilot create secret generic aws-kms --from-env-file=kms.env',
  kmsSetEnv: 'kubectl -n vault-autopilot set env deployment/vault-autopilot --from=secret/aws-kms',
  sealDb: 'vault-autopilot seal --key-id alias/shop --path secret/shop/orders/db --namespace shop --from-env-file db.env > db.kmsvs.yaml',
  applySealed: 'kubectl apply -f db.kmsvs.yaml',
  waitSealed: 'kubectl -n shop wait kmsvs/db --for=condition=Ready --timeout=2m',
  agentApply: 'kubectl apply -f samples/deployment-agent-injection.yaml',
  agentRollout: 'kubectl -n shop rollout status deployment/orders --timeout=5m',
  agentReadDb: 'kubectl -n shop exec deploy/orders -c orders -- cat /vault/secrets/db',
  agentReadDbEnv: 'kubectl -n shop exec deploy/orders -c orders -- cat /vault/secrets/db.env',
  agentDigest: 'kubectl -n shop exec deploy/orders -c orders -- sha256sum /vault/secrets/db',
  otherNamespace: 'kubectl create namespace other-team',
  sealBilling: 'vault-autopilot seal --key-id alias/shop --path secret/shop/billing/config --namespace shop --from-env-file billing.env > billing.kmsvs.yaml',
  sealOther: 'vault-autopilot seal --key-id alias/other-team --path secret/other-team/billing/config --namespace other-team --from-env-file other.env > other.kmsvs.yaml',
  applyBilling: 'kubectl apply -f billing.kmsvs.yaml -f other.kmsvs.yaml',
  waitBilling: 'kubectl wait kmsvs/config -n shop --for=condition=Ready --timeout=2m && kubectl wait kmsvs/config -n other-team --for=condition=Ready --timeout=2m',
  envApply: 'kubectl apply -f samples/deployment-env-injection.yaml',
  envRollout: 'kubectl -n shop rollout status deployment/billing --timeout=5m',
  envShow: `kubectl -n shop exec deploy/billing -c billing -- sh -c 'echo "$VAULT_ADDR $VAULT_CACERT"'`,
  envRead: appLoginAndRead('sa.shop.billing', 'PASSWORD', 'secret/shop/billing/config'),
  envReadOther: appLoginAndRead('sa.shop.billing', 'PASSWORD', 'secret/other-team/billing/config'),
  uninstall: [
    'kubectl delete kmsvaultsecrets,partialkmsvaultsecrets --all -A --wait',
    'kubectl delete vaults --all -A --wait',
    'kubectl delete mutatingwebhookconfiguration vault-autopilot-webhook',
    'kubectl delete -f olm-bundle/install.yaml --ignore-not-found',
  ],
} as const;

export interface Ran {
  command: string;
  code: number;
  stdout: string;
  stderr: string;
  ms: number;
}

export interface Condition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
}

export interface VaultStatus {
  conditions?: Condition[];
  nodes?: Array<{ name: string; address?: string; reachable?: boolean; initialized?: boolean; sealed?: boolean }>;
  sealed?: boolean;
  leader?: string;
  observedGeneration?: number;
}

export interface RaftPeer {
  node_id: string;
  address: string;
  leader: boolean;
  voter: boolean;
}

export interface FlowOptions {
  /** Called with each user command before it runs (the demo prints it). */
  onCommand?: (command: string) => void;
}

/** sha256 prefix: shows two values are equal without showing them. */
export function digest(value: string): string {
  return createHash('sha256').update(value).digest('hex').slice(0, 16);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function ready(conditions: Condition[] | undefined): boolean {
  return conditions?.find((c) => c.type === 'Ready')?.status === 'True';
}

function podReady(pod: V1Pod | undefined): boolean {
  return pod?.status?.conditions?.find((c) => c.type === 'Ready')?.status === 'True';
}

/** Peers from `vault operator raft list-peers -format=json`. Pure. */
export function parseRaftPeers(json: string): RaftPeer[] {
  const parsed = JSON.parse(json) as { data?: { config?: { servers?: RaftPeer[] } } };
  return parsed.data?.config?.servers ?? [];
}

/** `vault-2.vault-internal.vault-system.svc:8201` -> `vault-2`. Pure. */
export function peerPod(address: string): string {
  return address.split('.')[0] ?? address;
}

export class ClusterFlow {
  readonly kube: KubeClients;
  readonly workDir: string;
  /** Every value that must never appear in the operator's logs, Events or status. */
  readonly secrets = new Set<string>();
  /** Operator logs, collected before each operator pod goes away and at the end. */
  operatorLogs = '';
  /** Plaintexts the service owners sealed (by file). */
  readonly plaintext = {
    dbPassword: `db-${randomBytes(12).toString('hex')}`,
    dbUser: `orders-${randomBytes(4).toString('hex')}`,
    billing: `billing-${randomBytes(12).toString('hex')}`,
    other: `other-team-${randomBytes(12).toString('hex')}`,
  };
  private readonly env: NodeJS.ProcessEnv;

  constructor(
    readonly cluster: FlowCluster,
    private readonly options: FlowOptions = {},
  ) {
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromFile(cluster.kubeconfig);
    this.kube = makeKubeClients(kubeConfig);
    this.workDir = mkdtempSync(join(tmpdir(), 'vault-autopilot-walkthrough-'));
    // looks like a clone for the README's relative paths
    symlinkSync(join(REPO_ROOT, 'samples'), join(this.workDir, 'samples'));
    symlinkSync(join(REPO_ROOT, 'olm-bundle'), join(this.workDir, 'olm-bundle'));
    const bin = join(this.workDir, 'bin');
    mkdirSync(bin);
    const tsx = join(REPO_ROOT, 'node_modules', 'tsx', 'dist', 'loader.mjs');
    writeFileSync(join(bin, 'vault-autopilot'), `#!/bin/sh\nexec node --import "file://${tsx}" "${join(REPO_ROOT, 'operator', 'main.ts')}" "$@"\n`);
    chmodSync(join(bin, 'vault-autopilot'), 0o755);
    for (const value of Object.values(this.plaintext)) this.secrets.add(value);
    this.env = {
      ...process.env,
      KUBECONFIG: cluster.kubeconfig,
      PATH: `${bin}:${dirname(cluster.kubectl)}:${process.env.PATH ?? '/usr/bin:/bin'}`,
      // the user's shell for `vault-autopilot seal` (make cluster prints these)
      ...LOCAL_KMS_CREDENTIALS,
      AWS_REGION: this.kmsRegion,
      VAULT_AUTOPILOT_KMS_ENDPOINT: cluster.kmsEndpoint,
    };
  }

  get kmsRegion(): string {
    return this.cluster.kms?.region ?? 'us-east-1';
  }

  // ------------------------------------------------------------------ steps

  /** The install: install.yaml, then the operator rolls out and publishes its webhook CA. */
  async install(): Promise<{ ms: number; caBundle: boolean }> {
    const started = Date.now();
    await this.must(COMMANDS.install);
    await this.must(COMMANDS.operatorRollout, { timeoutMs: 300_000 });
    const caBundle = await eventually(
      async () => {
        const config = await this.kube.admission.readMutatingWebhookConfiguration({ name: 'vault-autopilot-webhook' });
        if (!config.webhooks?.every((w) => w.clientConfig.caBundle)) throw new Error('no caBundle yet');
        return true;
      },
      { timeoutMs: 60_000, message: 'the operator publishes its webhook CA' },
    );
    return { ms: Date.now() - started, caBundle };
  }

  /** The sample Vault (3 Raft peers) until Ready. */
  async vault(): Promise<{ ms: number; table: string; status: VaultStatus; pods: string[] }> {
    const started = Date.now();
    await this.must(COMMANDS.vaultApply);
    await this.must(COMMANDS.vaultWait, { timeoutMs: 660_000 });
    const ms = Date.now() - started;
    const table = (await this.must(COMMANDS.vaultGet)).stdout;
    await this.collectVaultSecrets();
    return { ms, table, status: await this.vaultStatus(), pods: await this.vaultPods() };
  }

  /**
   * Delete a Vault pod; the StatefulSet makes a new one, sealed, and the
   * operator unseals it. `ms` runs from the delete to: the new pod Ready (its
   * probe asks Vault for unsealed) and the resource Ready with that node unsealed.
   */
  async vaultPodRestart(): Promise<{ ms: number; sawNotReady: boolean; sawSealed: boolean; status: VaultStatus }> {
    const pod = 'vault-1';
    const oldUid = (await this.kube.core.readNamespacedPod({ namespace: NS.vault, name: pod })).metadata?.uid;
    const started = Date.now();
    await this.must(COMMANDS.vaultPodDelete);
    let sawNotReady = false;
    let sawSealed = false;
    const status = await eventually(
      async () => {
        const [current, status] = await Promise.all([this.pod(NS.vault, pod), this.vaultStatus()]);
        const node = status.nodes?.find((n) => n.name === pod);
        if (!ready(status.conditions)) sawNotReady = true;
        if (node && (node.sealed !== false || node.reachable === false)) sawSealed = true;
        if (!current || current.metadata?.uid === oldUid) throw new Error(`${pod} not re-created yet`);
        if (!podReady(current)) throw new Error(`${pod} not Ready (sealed)`);
        if (node?.sealed !== false || !ready(status.conditions)) throw new Error(`status: ${pod} sealed=${String(node?.sealed)}, Ready=${String(ready(status.conditions))}`);
        return status;
      },
      { timeoutMs: 180_000, intervalMs: 500, message: `${pod} unsealed again` },
    );
    return { ms: Date.now() - started, sawNotReady, sawSealed, status };
  }

  /**
   * Delete the operator pod, and while it is gone change the Vault resource
   * (a policy added). The Deployment's new pod resumes: the change reaches
   * Vault, and nothing the old one kept is lost (unseal keys, the operator's
   * token, the webhook CA, the record of what it manages: removing the policy
   * again removes it from Vault).
   */
  async operatorRestart(): Promise<{
    podReadyMs: number;
    resumedMs: number;
    removedMs: number;
    unchanged: Record<'unsealKeys' | 'operatorToken' | 'webhookCa', boolean>;
    vaultReady: boolean;
  }> {
    const before = await this.keptState();
    const oldPods = (await this.operatorPods()).map((p) => p.metadata!.uid);
    await this.collectOperatorLogs();
    const started = Date.now();
    await this.must(COMMANDS.operatorPodDelete);
    const policy = `restart-check-${randomBytes(3).toString('hex')}`;
    const entry = { name: policy, rules: 'path "secret/data/restart-check" { capabilities = ["read"] }' };
    const hasPolicies = Array.isArray((await this.vaultResource()).spec?.externalConfig?.policies);
    await this.patchVault([
      hasPolicies ? { op: 'add', path: '/spec/externalConfig/policies/-', value: entry } : { op: 'add', path: '/spec/externalConfig/policies', value: [entry] },
    ]);
    const podReadyMs = await eventually(
      async () => {
        const pods = await this.operatorPods();
        if (!pods.some((p) => !oldPods.includes(p.metadata!.uid) && podReady(p))) throw new Error('no new operator pod Ready yet');
        return Date.now() - started;
      },
      { timeoutMs: 180_000, intervalMs: 500, message: 'a new operator pod is Ready' },
    );
    await eventually(async () => this.mustVaultPolicy(policy, true), { timeoutMs: 180_000, intervalMs: 1000, message: `policy ${policy} in Vault` });
    const resumedMs = Date.now() - started;
    const removeStarted = Date.now();
    const vault = await this.vaultResource();
    const index = (vault.spec?.externalConfig?.policies ?? []).findIndex((p: { name: string }) => p.name === policy);
    await this.patchVault([
      { op: 'test', path: `/spec/externalConfig/policies/${index}/name`, value: policy },
      { op: 'remove', path: `/spec/externalConfig/policies/${index}` },
    ]);
    await eventually(async () => this.mustVaultPolicy(policy, false), { timeoutMs: 120_000, intervalMs: 1000, message: `policy ${policy} removed from Vault` });
    const after = await this.keptState();
    return {
      podReadyMs,
      resumedMs,
      removedMs: Date.now() - removeStarted,
      unchanged: {
        unsealKeys: before.unsealKeys === after.unsealKeys,
        operatorToken: before.operatorToken === after.operatorToken,
        webhookCa: before.webhookCa === after.webhookCa,
      },
      vaultReady: ready((await this.vaultStatus()).conditions),
    };
  }

  /** Change `size`; wait until that many pods are Ready, unsealed in status, and Raft has exactly those peers, all voters. */
  async scale(size: 3 | 5): Promise<{ ms: number; peers: RaftPeer[]; pods: string[]; status: VaultStatus }> {
    const started = Date.now();
    await this.must(size === 5 ? COMMANDS.scaleTo5 : COMMANDS.scaleTo3);
    const want = Array.from({ length: size }, (_, i) => `vault-${i}`);
    const result = await eventually(
      async () => {
        const pods = await this.vaultPods();
        const readyPods = (await Promise.all(want.map((name) => this.pod(NS.vault, name)))).filter(podReady).length;
        if (pods.length !== size || readyPods !== size) throw new Error(`${readyPods}/${size} pods Ready (${pods.join(', ')})`);
        const status = await this.vaultStatus();
        const unsealed = (status.nodes ?? []).filter((n) => n.sealed === false).map((n) => n.name);
        if (!ready(status.conditions) || unsealed.length !== size) throw new Error(`status: unsealed ${unsealed.join(', ')}`);
        const peers = await this.raftPeers();
        const names = peers.map((p) => peerPod(p.address)).sort();
        if (names.join() !== want.join()) throw new Error(`raft peers: ${names.join(', ')}`);
        if (!peers.every((p) => p.voter)) throw new Error(`non-voters: ${peers.filter((p) => !p.voter).map((p) => peerPod(p.address)).join(', ')}`);
        return { peers, pods, status };
      },
      { timeoutMs: 300_000, intervalMs: 2000, message: `size ${size}: pods, status and Raft peers` },
    );
    return { ms: Date.now() - started, ...result };
  }

  async raftPeers(): Promise<RaftPeer[]> {
    return parseRaftPeers((await this.must(COMMANDS.raftPeers, { quiet: true })).stdout);
  }

  /** The service owner's ServiceAccount sample; its role appears in Vault. */
  async serviceAccount(): Promise<{ ms: number; role: Record<string, unknown> }> {
    const started = Date.now();
    await this.must(COMMANDS.serviceAccountApply);
    const role = await eventually(
      async () => {
        const ran = await this.sh(COMMANDS.roleRead, { quiet: true });
        if (ran.code !== 0) throw new Error(`role not in Vault yet: ${ran.stderr.trim()}`);
        return (JSON.parse(ran.stdout) as { data: Record<string, unknown> }).data;
      },
      { timeoutMs: 120_000, intervalMs: 1000, message: 'role sa.shop.orders in Vault' },
    );
    return { ms: Date.now() - started, role };
  }

  /**
   * The platform team gives the operator KMS credentials (local-kms here);
   * the service owner seals two values with `vault-autopilot seal` and applies
   * the printed KMSVaultSecret, which becomes Ready.
   */
  async sealedSecrets(): Promise<{ ms: number; manifest: string }> {
    await this.createKmsKey('alias/shop');
    await this.collectOperatorLogs();
    this.file('kms.env', [
      `AWS_ACCESS_KEY_ID=${LOCAL_KMS_CREDENTIALS.AWS_ACCESS_KEY_ID}`,
      `AWS_SECRET_ACCESS_KEY=${LOCAL_KMS_CREDENTIALS.AWS_SECRET_ACCESS_KEY}`,
      `AWS_REGION=${this.kmsRegion}`,
      `VAULT_AUTOPILOT_KMS_ENDPOINT=${this.cluster.kmsEndpoint}`,
    ]);
    await this.must(COMMANDS.kmsSecret);
    await this.must(COMMANDS.kmsSetEnv);
    await this.must(COMMANDS.operatorRollout, { timeoutMs: 300_000 });
    const started = Date.now();
    this.file('db.env', [`DB_PASSWORD=${this.plaintext.dbPassword}`, `DB_USER=${this.plaintext.dbUser}`]);
    await this.must(COMMANDS.sealDb);
    await this.must(COMMANDS.applySealed);
    await this.must(COMMANDS.waitSealed, { timeoutMs: 150_000 });
    return { ms: Date.now() - started, manifest: this.read('db.kmsvs.yaml') };
  }

  /** The agent-injection sample: its app container reads the rendered files. */
  async agentInjection(): Promise<{ ms: number; dbFile: string; dbEnvFile: string; containers: string[] }> {
    const started = Date.now();
    await this.must(COMMANDS.agentApply);
    await this.must(COMMANDS.agentRollout, { timeoutMs: 330_000 });
    const ms = Date.now() - started;
    const dbFile = (await this.must(COMMANDS.agentReadDb, { quiet: true })).stdout;
    const dbEnvFile = (await this.must(COMMANDS.agentReadDbEnv, { quiet: true })).stdout;
    const pods = await this.kube.core.listNamespacedPod({ namespace: NS.app, labelSelector: 'app=orders' });
    const pod = pods.items.find((p) => !p.metadata?.deletionTimestamp);
    const containers = [...(pod?.spec?.initContainers ?? []), ...(pod?.spec?.containers ?? [])].map((c) => c.name);
    return { ms, dbFile, dbEnvFile, containers };
  }

  /** The injected pod shows the digest of its rendered secret (sha256, hex); `expected` is what it must be. */
  async agentDigest(): Promise<{ shown: string; expected: string }> {
    const shown = (await this.must(COMMANDS.agentDigest)).stdout.trim().split(/\s+/)[0] ?? '';
    const rendered = `DB_PASSWORD: ${this.plaintext.dbPassword}\nDB_USER: ${this.plaintext.dbUser}\n`;
    return { shown, expected: createHash('sha256').update(rendered).digest('hex') };
  }

  /**
   * The env-injection sample: its app logs in with the injected VAULT_ADDR /
   * VAULT_CACERT and its own token, reads its secret, and is denied another
   * team's (sealed into namespace other-team by that team).
   */
  async envInjection(): Promise<{ ms: number; env: string; read: Ran; other: Ran }> {
    await this.must(COMMANDS.otherNamespace);
    await this.createKmsKey('alias/other-team');
    this.file('billing.env', [`PASSWORD=${this.plaintext.billing}`]);
    this.file('other.env', [`PASSWORD=${this.plaintext.other}`]);
    await this.must(COMMANDS.sealBilling);
    await this.must(COMMANDS.sealOther);
    await this.must(COMMANDS.applyBilling);
    await this.must(COMMANDS.waitBilling, { timeoutMs: 300_000 });
    const started = Date.now();
    await this.must(COMMANDS.envApply);
    await this.must(COMMANDS.envRollout, { timeoutMs: 330_000 });
    const ms = Date.now() - started;
    const env = (await this.must(COMMANDS.envShow)).stdout.trim();
    const read = await this.sh(COMMANDS.envRead, { quiet: true });
    const other = await this.sh(COMMANDS.envReadOther, { quiet: true });
    return { ms, env, read, other };
  }

  /**
   * Uninstall as the README says. Then the user's namespaces are deleted too
   * (nothing may hold them) — except vault-system, where the README says
   * what is kept.
   */
  async uninstall(): Promise<{ ran: Ran[]; ms: number; namespacesGone: Record<string, boolean>; kept: { unsealKeys: boolean; dataClaims: string[] }; crdsLeft: string[] }> {
    await this.collectOperatorLogs();
    const started = Date.now();
    const ran: Ran[] = [];
    for (const command of COMMANDS.uninstall) ran.push(await this.sh(command, { timeoutMs: 300_000 }));
    const userNamespaces = [NS.app, NS.other];
    const deleted = await this.sh(`kubectl delete namespace ${userNamespaces.join(' ')} --timeout=3m`, { timeoutMs: 200_000 });
    ran.push(deleted);
    const namespacesGone: Record<string, boolean> = {};
    for (const namespace of [NS.operator, ...userNamespaces]) {
      namespacesGone[namespace] = await this.gone(() => this.kube.core.readNamespace({ name: namespace }), 120_000);
    }
    const ms = Date.now() - started;
    const unsealKeys = !(await this.gone(() => this.kube.core.readNamespacedSecret({ namespace: NS.vault, name: 'vault-unseal-keys' }), 0));
    const claims = await this.kube.core.listNamespacedPersistentVolumeClaim({ namespace: NS.vault });
    const crds = await this.kube.apiextensions.listCustomResourceDefinition();
    return {
      ran,
      ms,
      namespacesGone,
      kept: { unsealKeys, dataClaims: claims.items.map((c) => c.metadata!.name!).sort() },
      crdsLeft: crds.items.map((c) => c.metadata!.name!).filter((n) => n.endsWith(`.${API_GROUP}`)),
    };
  }

  /** Secrets found in the operator's logs, Events (all namespaces) and the status of every resource it writes. */
  async leaks(): Promise<{ checked: Record<string, number>; found: string[] }> {
    await this.collectOperatorLogs();
    const events = JSON.stringify((await this.kube.core.listEventForAllNamespaces()).items.map((e) => [e.reason, e.message]));
    const statuses: unknown[] = [];
    for (const plural of ['vaults', 'kmsvaultsecrets', 'partialkmsvaultsecrets']) {
      const list = await this.kube.raw.request<{ items: Array<{ status?: unknown; metadata?: { annotations?: unknown } }> }>({
        method: 'GET',
        path: resourcePath(API_GROUP, API_VERSION, plural),
      });
      statuses.push(...list.items.map((i) => [i.status, i.metadata?.annotations]));
    }
    const accounts = await this.kube.core.listServiceAccountForAllNamespaces();
    const annotations = JSON.stringify(accounts.items.map((a) => a.metadata?.annotations));
    const places = { 'operator logs': this.operatorLogs, Events: events, status: JSON.stringify(statuses), 'ServiceAccount annotations': annotations };
    const found: string[] = [];
    for (const [place, text] of Object.entries(places)) {
      for (const secret of this.secrets) if (text.includes(secret)) found.push(`${place} hold a secret (sha256 ${digest(secret)})`);
    }
    return { checked: Object.fromEntries(Object.entries(places).map(([k, v]) => [k, v.length])), found };
  }

  dispose(): void {
    rmSync(this.workDir, { recursive: true, force: true });
  }

  // ---------------------------------------------------------------- helpers

  /** Runs a command with bash in the work directory; never throws for a non-zero exit. */
  sh(command: string, opts: { timeoutMs?: number; quiet?: boolean } = {}): Promise<Ran> {
    if (!opts.quiet) this.options.onCommand?.(command);
    const started = Date.now();
    return new Promise((resolve, reject) => {
      const child = spawn('bash', ['-o', 'pipefail', '-c', command], { cwd: this.workDir, env: this.env, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 120_000);
      child.on('error', reject);
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        resolve({ command, code: code ?? (signal ? 128 : 1), stdout, stderr: signal ? `${stderr}\n(killed: ${signal}, timeout)` : stderr, ms: Date.now() - started });
      });
    });
  }

  /** sh() that throws with the command's stderr on a non-zero exit. */
  async must(command: string, opts: { timeoutMs?: number; quiet?: boolean } = {}): Promise<Ran> {
    const ran = await this.sh(command, opts);
    if (ran.code !== 0) throw new Error(`\`${command}\` exited ${ran.code}: ${ran.stderr.trim() || ran.stdout.trim()}`);
    return ran;
  }

  async vaultStatus(): Promise<VaultStatus> {
    return (await this.vaultResource()).status ?? {};
  }

  async vaultResource(): Promise<{ spec?: any; status?: VaultStatus }> {
    return this.kube.raw.request({ method: 'GET', path: resourcePath(API_GROUP, API_VERSION, 'vaults', NS.vault, 'vault') });
  }

  async vaultPods(): Promise<string[]> {
    const pods = await this.kube.core.listNamespacedPod({ namespace: NS.vault, labelSelector: 'app.kubernetes.io/instance=vault' });
    return pods.items.filter((p) => !p.metadata?.deletionTimestamp).map((p) => p.metadata!.name!).sort();
  }

  async operatorPods(): Promise<V1Pod[]> {
    const pods = await this.kube.core.listNamespacedPod({ namespace: NS.operator, labelSelector: OPERATOR_LABEL });
    return pods.items.filter((p) => !p.metadata?.deletionTimestamp);
  }

  /** Appends the running operator pods' logs (a deleted pod's logs are gone with it). */
  async collectOperatorLogs(): Promise<void> {
    for (const pod of await this.operatorPods().catch(() => [])) {
      const log = await this.kube.core.readNamespacedPodLog({ namespace: NS.operator, name: pod.metadata!.name! }).catch(() => '');
      this.operatorLogs += `${log}\n`;
    }
  }

  private async pod(namespace: string, name: string): Promise<V1Pod | undefined> {
    try {
      return await this.kube.core.readNamespacedPod({ namespace, name });
    } catch (err) {
      if (errorCode(err) === 404) return undefined;
      throw err;
    }
  }

  private async patchVault(patch: unknown[]): Promise<void> {
    await this.kube.raw.request({
      method: 'PATCH',
      path: resourcePath(API_GROUP, API_VERSION, 'vaults', NS.vault, 'vault'),
      body: patch,
      contentType: 'application/json-patch+json',
    });
  }

  private async mustVaultPolicy(name: string, present: boolean): Promise<void> {
    const ran = await this.sh(vaultAsOperator(`policy read ${name}`), { quiet: true });
    if ((ran.code === 0) !== present) throw new Error(`policy ${name}: ${present ? 'not in Vault yet' : 'still in Vault'} (${ran.stderr.trim()})`);
  }

  /** Fingerprints of what an operator restart must not change. */
  private async keptState(): Promise<Record<'unsealKeys' | 'operatorToken' | 'webhookCa', string>> {
    const secretData = async (name: string) => digest(JSON.stringify((await this.kube.core.readNamespacedSecret({ namespace: NS.vault, name })).data ?? {}));
    const webhook = await this.kube.admission.readMutatingWebhookConfiguration({ name: 'vault-autopilot-webhook' });
    return {
      unsealKeys: await secretData('vault-unseal-keys'),
      operatorToken: await secretData('vault-operator-token'),
      webhookCa: digest(webhook.webhooks?.map((w) => w.clientConfig.caBundle ?? '').join() ?? ''),
    };
  }

  /** Unseal keys and the operator's token join the secrets that must not leak. */
  private async collectVaultSecrets(): Promise<void> {
    for (const name of ['vault-unseal-keys', 'vault-operator-token']) {
      const secret = await this.kube.core.readNamespacedSecret({ namespace: NS.vault, name }).catch(() => undefined);
      for (const value of Object.values(secret?.data ?? {})) {
        const plain = Buffer.from(value, 'base64').toString('utf8');
        if (plain.length >= 8) this.secrets.add(plain);
      }
    }
  }

  /** A team's KMS key (on AWS the platform team makes it; here in local-kms). */
  private async createKmsKey(alias: string): Promise<void> {
    const kms = new KMSClient({
      region: this.kmsRegion,
      endpoint: this.cluster.kmsEndpoint,
      credentials: { accessKeyId: LOCAL_KMS_CREDENTIALS.AWS_ACCESS_KEY_ID, secretAccessKey: LOCAL_KMS_CREDENTIALS.AWS_SECRET_ACCESS_KEY },
    });
    try {
      const key = await kms.send(new CreateKeyCommand({ Description: `vault-autopilot walkthrough: ${alias}` }));
      await kms.send(new CreateAliasCommand({ AliasName: alias, TargetKeyId: key.KeyMetadata!.KeyId! })).catch((err: unknown) => {
        // a cluster kept up (demo --hold) and walked through again
        if ((err as { name?: string }).name !== 'AlreadyExistsException') throw err;
      });
    } finally {
      kms.destroy();
    }
  }

  private async gone(read: () => Promise<unknown>, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        await read();
      } catch (err) {
        if (errorCode(err) === 404) return true;
        throw err;
      }
      if (Date.now() >= deadline) return false;
      await sleep(1000);
    }
  }

  private file(name: string, lines: string[]): void {
    writeFileSync(join(this.workDir, name), `${lines.join('\n')}\n`, { mode: 0o600 });
  }

  private read(name: string): string {
    return readFileSync(join(this.workDir, name), 'utf8');
  }
}
