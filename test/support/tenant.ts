// The tenant kit: a namespace A, a real user who holds the built-in `edit`
// ClusterRole in A only (through the apiserver's own RBAC, by impersonation
// from the admin identity), and a before/after snapshot of everything that
// lies outside A — Kubernetes objects of every other namespace, cluster-scoped
// objects (RBAC included), and Vault's auth methods, roles, policies, mounts
// and secrets — so a test can assert that an attack left no trace.
//
// The harness runs no kube-controller-manager, so nobody fills the aggregated
// ClusterRoles (`edit` is empty on a fresh apiserver). aggregateClusterRoles()
// does that controller's job once, and grantCrdRightsLikeOlm() adds the
// aggregate-to-edit/view roles OLM generates for an operator's owned CRDs: a
// tenant with `edit` may then create Vaults and KMSVaultSecrets in A, as on a
// real cluster with the operator installed through OLM.
import { createHash, randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TestFn } from 'ava';
import { KubeConfig, type V1ClusterRole, type V1PolicyRule } from '@kubernetes/client-node';
import { errorCode, KubeApiError, makeKubeClients, type KubeClients } from '../../operator/framework/kube.js';
import { startServers, type Servers, type TestEnv } from '../harness/index.js';
import { stopOperatorProcesses } from '../harness/operator-process.js';
import { kubeconfigYaml } from '../harness/kube-apiserver.js';

const AGGREGATE_TO_EDIT = 'rbac.authorization.k8s.io/aggregate-to-edit';
const AGGREGATE_TO_VIEW = 'rbac.authorization.k8s.io/aggregate-to-view';

/**
 * Private servers for a tenant test file. A shared apiserver and Vault change
 * under other test files running side by side, which would make "nothing
 * outside A changed" flaky or blind; here the only actors are this file's.
 */
export function useTenantEnv<Context>(test: TestFn<Context>): { env: () => TestEnv; servers: () => Servers } {
  let servers: Servers | undefined;
  test.before(async () => {
    servers = await startServers({ vault: 'dev', kms: true, apiserver: true });
  });
  test.after.always(async () => {
    await stopOperatorProcesses();
    await servers?.stopAll();
  });
  const get = (): Servers => {
    if (!servers) throw new Error('tenant servers are not up (useTenantEnv registers a before hook; call env() inside tests)');
    return servers;
  };
  return { env: () => get().env, servers: get };
}

export interface Tenant {
  /** Namespace A: the only place the tenant holds rights. */
  namespace: string;
  /** The impersonated user name (RBAC subject of kind User). */
  user: string;
  /** Acts as the tenant: the admin's connection plus `Impersonate-User`. */
  kubeConfig: KubeConfig;
  kube: KubeClients;
  /** A kubeconfig file acting as the tenant, for `kubectl --kubeconfig`. */
  kubeconfigPath: string;
  /** Asks the apiserver (SelfSubjectAccessReview as the tenant) whether the tenant may do this. */
  can(verb: string, resource: string, opts?: { group?: string; namespace?: string; name?: string; subresource?: string }): Promise<boolean>;
}

export interface TenantOptions {
  /** Prefix of namespace A's name (a random suffix is added). */
  prefix?: string;
  /** Extra labels on namespace A (e.g. the label a Vault's self-service selector matches). */
  labels?: Record<string, string>;
  /** Also aggregate the vault.autopilot.dev CRDs into edit/view as OLM does for owned CRDs (default true). */
  crdRights?: boolean;
  /** Where to write the tenant's kubeconfig file (default: next to the admin kubeconfig). */
  dir?: string;
}

/** The vault.autopilot.dev resources a namespace editor gets through OLM's generated roles. */
export const AUTOPILOT_RESOURCES = ['vaults', 'kmsvaultsecrets', 'partialkmsvaultsecrets'];
const AUTOPILOT_GROUP = 'vault.autopilot.dev';

/** Pure: rules of an aggregated role, the union of the rules of every role its selectors match (recursively). */
export function aggregatedRules(name: string, roles: readonly V1ClusterRole[], seen = new Set<string>()): V1PolicyRule[] {
  const role = roles.find((r) => r.metadata?.name === name);
  if (!role || seen.has(name)) return [];
  seen.add(name);
  const selectors = role.aggregationRule?.clusterRoleSelectors;
  if (!selectors?.length) return role.rules ?? [];
  const rules: V1PolicyRule[] = [];
  const keys = new Set<string>();
  for (const other of roles) {
    const labels = other.metadata?.labels ?? {};
    const matches = selectors.some((s) => Object.entries(s.matchLabels ?? {}).every(([k, v]) => labels[k] === v));
    if (!matches || other.metadata?.name === name) continue;
    for (const rule of aggregatedRules(other.metadata!.name!, roles, seen)) {
      const key = JSON.stringify(rule);
      if (!keys.has(key)) rules.push(rule), keys.add(key);
    }
  }
  return rules;
}

/** Does kube-controller-manager's clusterrole-aggregation job once for these roles (default: admin, edit, view). */
export async function aggregateClusterRoles(admin: KubeClients, names = ['view', 'edit', 'admin']): Promise<void> {
  const roles = (await admin.rbac.listClusterRole()).items;
  for (const name of names) {
    const role = roles.find((r) => r.metadata?.name === name);
    if (!role) throw new Error(`ClusterRole ${name} is missing (is the apiserver running with RBAC authorization?)`);
    const rules = aggregatedRules(name, roles);
    await admin.rbac.replaceClusterRole({ name, body: { ...role, rules } });
  }
}

/** ClusterRoles like those OLM generates for owned CRDs, labelled to aggregate into edit and view. */
export async function grantCrdRightsLikeOlm(admin: KubeClients, resources = AUTOPILOT_RESOURCES, group = AUTOPILOT_GROUP): Promise<void> {
  const roles: V1ClusterRole[] = [
    {
      metadata: { name: `${group}-tenant-edit`, labels: { [AGGREGATE_TO_EDIT]: 'true' } },
      rules: [{ apiGroups: [group], resources, verbs: ['create', 'update', 'patch', 'delete', 'deletecollection'] }],
    },
    {
      metadata: { name: `${group}-tenant-view`, labels: { [AGGREGATE_TO_VIEW]: 'true', [AGGREGATE_TO_EDIT]: 'true' } },
      rules: [{ apiGroups: [group], resources, verbs: ['get', 'list', 'watch'] }],
    },
  ];
  for (const body of roles) {
    try {
      await admin.rbac.createClusterRole({ body });
    } catch (err) {
      if (errorCode(err) !== 409) throw err;
      await admin.rbac.replaceClusterRole({ name: body.metadata!.name!, body });
    }
  }
}

/** A KubeConfig that acts as `user` through impersonation (the admin must be allowed to impersonate). */
export function impersonating(admin: KubeConfig, user: string): KubeConfig {
  const kc = new KubeConfig();
  const cluster = admin.getCurrentCluster();
  const adminUser = admin.getCurrentUser();
  if (!cluster || !adminUser) throw new Error('admin kubeconfig has no current cluster/user');
  kc.loadFromOptions({
    clusters: [cluster],
    users: [{ ...adminUser, name: user, impersonateUser: user }],
    contexts: [{ name: user, cluster: cluster.name, user, namespace: 'default' }],
    currentContext: user,
  });
  return kc;
}

/** Pure: a kubeconfig file that impersonates `user` with the admin's bearer token. */
export function tenantKubeconfigYaml(server: string, caData: string, token: string, user: string, namespace: string): string {
  return kubeconfigYaml({ server, caData, user, token, as: user, context: 'tenant', namespace });
}

/**
 * Namespace A and a user bound to `edit` in A only. The RoleBinding is the
 * tenant's only grant; every request the tenant makes is authorised by the
 * apiserver's RBAC like any real user's.
 */
export async function createTenant(env: TestEnv, opts: TenantOptions = {}): Promise<Tenant> {
  const adminConfig = env.kubeConfig();
  const admin = makeKubeClients(adminConfig);
  if (opts.crdRights ?? true) await grantCrdRightsLikeOlm(admin);
  await aggregateClusterRoles(admin);
  const suffix = randomBytes(3).toString('hex');
  const namespace = `${opts.prefix ?? 'tenant-a'}-${suffix}`;
  const user = `tenant-${suffix}@example.test`;
  await admin.core.createNamespace({
    body: { metadata: { name: namespace, labels: { 'app.kubernetes.io/created-by': 'vault-autopilot-test-harness', ...opts.labels } } },
  });
  await admin.rbac.createNamespacedRoleBinding({
    namespace,
    body: {
      metadata: { name: 'tenant-edit' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'edit' },
      subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: user }],
    },
  });
  const kubeConfig = impersonating(adminConfig, user);
  const kube = makeKubeClients(kubeConfig);
  const cluster = adminConfig.getCurrentCluster()!;
  const kubeconfigPath = join(opts.dir ?? join(env.kubeconfigPath, '..'), `tenant-${suffix}.kubeconfig`);
  writeFileSync(kubeconfigPath, tenantKubeconfigYaml(cluster.server, cluster.caData ?? '', adminConfig.getCurrentUser()?.token ?? '', user, namespace), {
    mode: 0o600,
  });
  const can: Tenant['can'] = async (verb, resource, o = {}) => {
    const review = await kube.raw.request<{ status?: { allowed?: boolean } }>({
      method: 'POST',
      path: '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews',
      body: {
        apiVersion: 'authorization.k8s.io/v1',
        kind: 'SelfSubjectAccessReview',
        spec: { resourceAttributes: { verb, resource, group: o.group ?? '', namespace: o.namespace, name: o.name, subresource: o.subresource } },
      },
    });
    return review.status?.allowed === true;
  };
  return { namespace, user, kubeConfig, kube, kubeconfigPath, can };
}

/** The message of a refused apiserver request (for asserting on denials), or undefined when it succeeded. */
export async function refusal(request: Promise<unknown>): Promise<{ code: number; message: string } | undefined> {
  try {
    await request;
    return undefined;
  } catch (err) {
    const code = errorCode(err) ?? 0;
    const body = err instanceof KubeApiError ? err.body : (err as { body?: unknown }).body;
    const parsed = typeof body === 'string' ? safeJson(body) : body;
    const message = (parsed as { message?: string } | undefined)?.message ?? String(err);
    return { code, message };
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return { message: text };
  }
}

// ---- outside-A snapshots --------------------------------------------------

/** Key -> canonical JSON (secret values hashed, never kept in clear). */
export type Snapshot = Map<string, string>;

export interface SnapshotChange {
  key: string;
  change: 'added' | 'removed' | 'changed';
}

/**
 * Kinds left out of the Kubernetes snapshot, and why: records and heartbeats
 * that change by themselves, not state a tenant could corrupt.
 */
export const UNSNAPSHOTTED = new Set([
  'events', // records; refusals are reported as Events in A
  'events.events.k8s.io',
  'leases.coordination.k8s.io', // the apiserver's identity lease renews every ~10 s
  'componentstatuses', // deprecated, probes components
]);

interface Discovered {
  groupVersion: string;
  resource: string;
  namespaced: boolean;
}

async function discover(admin: KubeClients): Promise<Discovered[]> {
  const out: Discovered[] = [];
  const versions = ['v1'];
  const groups = await admin.raw.request<{ groups: Array<{ name: string; preferredVersion: { groupVersion: string } }> }>({ method: 'GET', path: '/apis' });
  versions.push(...groups.groups.map((g) => g.preferredVersion.groupVersion));
  for (const gv of versions) {
    const path = gv === 'v1' ? '/api/v1' : `/apis/${gv}`;
    const list = await admin.raw.request<{ resources: Array<{ name: string; namespaced: boolean; verbs: string[] }> }>({ method: 'GET', path });
    const group = gv.includes('/') ? gv.split('/')[0] : '';
    for (const r of list.resources) {
      if (r.name.includes('/') || !r.verbs.includes('list')) continue;
      if (UNSNAPSHOTTED.has(group ? `${r.name}.${group}` : r.name)) continue;
      out.push({ groupVersion: gv, resource: r.name, namespaced: r.namespaced });
    }
  }
  return out;
}

/** Pure: what of an object is compared (bookkeeping dropped, Secret values hashed). */
export function canonicalObject(resource: string, obj: Record<string, unknown>): string {
  const { metadata, ...rest } = obj as { metadata?: Record<string, unknown> } & Record<string, unknown>;
  const { resourceVersion: _rv, managedFields: _mf, ...meta } = metadata ?? {};
  const body: Record<string, unknown> = { ...rest, metadata: meta };
  if (resource === 'secrets') {
    for (const field of ['data', 'stringData']) {
      const values = body[field] as Record<string, string> | undefined;
      if (values) body[field] = Object.fromEntries(Object.entries(values).map(([k, v]) => [k, digest(v)]));
    }
  }
  return stableJson(body);
}

function digest(value: unknown): string {
  return `sha256:${createHash('sha256').update(typeof value === 'string' ? value : JSON.stringify(value)).digest('hex').slice(0, 16)}`;
}

/** Pure: JSON with object keys sorted, so equal content gives equal text. */
export function stableJson(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b))) : v,
  );
}

/** Every listable Kubernetes object outside `namespace` (cluster-scoped ones included), as the admin sees it. */
export async function snapshotKubernetes(admin: KubeClients, namespace: string): Promise<Snapshot> {
  const snap: Snapshot = new Map();
  for (const d of await discover(admin)) {
    const base = d.groupVersion === 'v1' ? '/api/v1' : `/apis/${d.groupVersion}`;
    let items: Array<Record<string, unknown>> | undefined;
    for (let attempt = 0; !items; attempt++) {
      try {
        items = (await admin.raw.request<{ items: Array<Record<string, unknown>> }>({ method: 'GET', path: `${base}/${d.resource}` })).items;
      } catch (err) {
        // a CRD deleted between discovery and list
        if (errorCode(err) === 404) break;
        // a CRD just established answers 429 "storage is (re)initializing" for a moment
        if (errorCode(err) !== 429 || attempt >= 240) throw err; // up to a minute on a loaded machine
        await new Promise((r) => setTimeout(r, 250));
      }
    }
    if (!items) continue;
    for (const item of items) {
      const meta = (item.metadata ?? {}) as { name?: string; namespace?: string };
      if (d.namespaced && meta.namespace === namespace) continue;
      // A namespace object's own metadata is cluster-scoped state (labels steer selectors): kept, A's included.
      snap.set(`k8s ${d.groupVersion} ${d.resource} ${meta.namespace ? `${meta.namespace}/` : ''}${meta.name}`, canonicalObject(d.resource, item));
    }
  }
  return snap;
}

export interface VaultAccess {
  address: string;
  token: string;
}

async function vaultJson(vault: VaultAccess, method: string, path: string): Promise<{ status: number; json: Record<string, any> }> {
  const res = await fetch(`${vault.address}/v1/${path}`, { method, headers: { 'x-vault-token': vault.token } });
  const text = await res.text();
  return { status: res.status, json: text ? (JSON.parse(text) as Record<string, any>) : {} };
}

async function vaultList(vault: VaultAccess, path: string): Promise<string[]> {
  const res = await vaultJson(vault, 'LIST', path);
  return res.status === 200 ? ((res.json.data?.keys as string[]) ?? []) : [];
}

/**
 * Vault's state a tenant must not reach: auth mounts (+ config and roles),
 * ACL policies, secret engines, audit devices, and every KV secret (hashed).
 */
export async function snapshotVault(vault: VaultAccess): Promise<Snapshot> {
  const snap: Snapshot = new Map();
  const auth = (await vaultJson(vault, 'GET', 'sys/auth')).json.data as Record<string, Record<string, unknown>>;
  for (const [mount, info] of Object.entries(auth ?? {})) {
    const { accessor: _a, uuid: _u, ...rest } = info;
    snap.set(`vault auth ${mount}`, stableJson(rest));
    const path = mount.replace(/\/$/, '');
    if (info.type === 'kubernetes') {
      const config = await vaultJson(vault, 'GET', `auth/${path}/config`);
      if (config.status === 200) snap.set(`vault auth ${mount} config`, stableJson(config.json.data));
    }
    for (const role of await vaultList(vault, `auth/${path}/role`)) {
      snap.set(`vault auth ${mount} role ${role}`, stableJson((await vaultJson(vault, 'GET', `auth/${path}/role/${role}`)).json.data));
    }
  }
  for (const policy of await vaultList(vault, 'sys/policies/acl')) {
    snap.set(`vault policy ${policy}`, stableJson((await vaultJson(vault, 'GET', `sys/policies/acl/${policy}`)).json.data?.policy));
  }
  const audit = (await vaultJson(vault, 'GET', 'sys/audit')).json.data as Record<string, unknown> | undefined;
  for (const [path, info] of Object.entries(audit ?? {})) snap.set(`vault audit ${path}`, stableJson(info));
  const mounts = (await vaultJson(vault, 'GET', 'sys/mounts')).json.data as Record<string, { type: string; options?: { version?: string } }>;
  for (const [mount, info] of Object.entries(mounts ?? {})) {
    const { accessor: _a, uuid: _u, ...rest } = info as Record<string, unknown>;
    snap.set(`vault mount ${mount}`, stableJson(rest));
    if (info.type !== 'kv') continue;
    const v2 = info.options?.version === '2';
    const path = mount.replace(/\/$/, '');
    const walk = async (prefix: string): Promise<void> => {
      for (const key of await vaultList(vault, v2 ? `${path}/metadata/${prefix}` : `${path}/${prefix}`)) {
        if (key.endsWith('/')) {
          await walk(`${prefix}${key}`);
          continue;
        }
        const read = await vaultJson(vault, 'GET', v2 ? `${path}/data/${prefix}${key}` : `${path}/${prefix}${key}`);
        const data = v2 ? read.json.data?.data : read.json.data;
        const version = v2 ? read.json.data?.metadata?.version : undefined;
        snap.set(`vault secret ${mount}${prefix}${key}`, stableJson({ version, data: data ? Object.fromEntries(Object.entries(data).map(([k, v]) => [k, digest(v)])) : null }));
      }
    };
    await walk('');
  }
  return snap;
}

/** Everything outside namespace A: Kubernetes (admin view) and, when given, Vault. */
export async function snapshotOutside(env: TestEnv, namespace: string, opts: { vault?: VaultAccess | false } = {}): Promise<Snapshot> {
  const admin = makeKubeClients(env.kubeConfig());
  const snap = await snapshotKubernetes(admin, namespace);
  const vault = opts.vault === undefined ? { address: env.vault.address, token: env.vault.rootToken } : opts.vault;
  if (vault) for (const [k, v] of await snapshotVault(vault)) snap.set(k, v);
  return snap;
}

/** Pure: what differs between two snapshots, sorted by key. */
export function diffSnapshots(before: Snapshot, after: Snapshot): SnapshotChange[] {
  const changes: SnapshotChange[] = [];
  for (const [key, value] of before) {
    if (!after.has(key)) changes.push({ key, change: 'removed' });
    else if (after.get(key) !== value) changes.push({ key, change: 'changed' });
  }
  for (const key of after.keys()) if (!before.has(key)) changes.push({ key, change: 'added' });
  return changes.sort((a, b) => a.key.localeCompare(b.key));
}

/** An added cluster-scoped IPAddress allocated for a Service of `namespace`: that namespace's own, not a change outside it. */
export async function isServiceAddressOf(admin: KubeClients, change: SnapshotChange, namespace: string): Promise<boolean> {
  const ip = /^k8s networking\.k8s\.io\/v1 ipaddresses (\S+)$/.exec(change.key);
  if (!ip || change.change !== 'added') return false;
  const obj = await admin.raw.request<{ spec?: { parentRef?: { namespace?: string } } }>({ method: 'GET', path: `/apis/networking.k8s.io/v1/ipaddresses/${ip[1]}` });
  return obj.spec?.parentRef?.namespace === namespace;
}

/** Pure: a diff as readable lines for an assertion message. */
export function describeChanges(changes: readonly SnapshotChange[]): string {
  return changes.length ? changes.map((c) => `${c.change}: ${c.key}`).join('\n') : '(nothing changed)';
}
