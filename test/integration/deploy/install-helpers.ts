// Applying the generated install.yaml to the harness's apiserver, a kubeconfig
// for the installed ServiceAccount, and the analysis of recorded requests
// against operator/deploy/rbac.ts -- shared by the in-process and the
// real-process RBAC proofs.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CoreV1Api,
  type CustomObjectsApi,
  KubeConfig,
  KubernetesObjectApi,
  loadAllYaml,
  PatchStrategy,
  type KubernetesObject,
  type V1MutatingWebhookConfiguration,
} from '@kubernetes/client-node';
import type { TestEnv } from '../../harness/index.js';
import { generatedFiles } from '../../../operator/deploy/generate.js';
import { InstallMode, NAME } from '../../../operator/deploy/install-settings.js';
import { apiRequestOf, impliedRequests, operatorPermissions, permissionFor, permissionVerbKey, unusedPermissionVerbs, type ApiRequest } from '../../../operator/deploy/rbac.js';
import type { RecordedRequest } from './recording-proxy.js';
import { API_GROUP, API_VERSION } from '../../../operator/api/naming.js';
import type { VaultResource } from '../../../operator/api/vault.js';
import { withServiceAccountRoles } from '../../../operator/controllers/serviceaccount/compact.js';

const FIELD_MANAGER = 'vault-autopilot-install-test';

/**
 * The install, generated for a namespace: the real YAML text, parsed by
 * client-node's loader (a plain YAML object would lose every x-kubernetes-*
 * schema extension when the typed client serialises it).
 */
export function installObjectsFor(namespace: string, watchNamespaces?: string[]): KubernetesObject[] {
  const text = generatedFiles('install-manifest', { NAMESPACE: namespace, ...(watchNamespaces ? { WATCH_NAMESPACES: watchNamespaces.join(',') } : {}) }).get('install.yaml')!;
  return loadAllYaml(text).filter((o): o is KubernetesObject => o != null);
}

/**
 * Two changes to the generated webhook configuration, neither of which RBAC
 * looks at (its name is unchanged): it only matches the test's application
 * namespace, so pods of other test files sharing this apiserver never wait for
 * it (failurePolicy Fail); and the apiserver reaches the webhook by URL, there
 * being no Service routing on loopback.
 */
export function adaptWebhookForTest(obj: KubernetesObject, namespace: string | string[], url: string): KubernetesObject {
  if (obj.kind !== 'MutatingWebhookConfiguration') return obj;
  const config = structuredClone(obj) as V1MutatingWebhookConfiguration;
  for (const w of config.webhooks ?? []) {
    w.namespaceSelector = { matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'In', values: [namespace].flat() }] };
    w.clientConfig = { url };
  }
  return config;
}

export interface AppliedInstall {
  crdCount: number;
  /** Cluster-scoped objects to delete afterwards (CRDs stay: other files share them). */
  clusterScoped: KubernetesObject[];
  remove(): Promise<void>;
}

/** Applies install.yaml (as generated for `installNs`) with the admin credentials. */
export async function applyInstall(
  e: TestEnv,
  installNs: string,
  appNs: string | string[],
  webhookUrl: string,
  options: { watchNamespaces?: string[] } = {},
): Promise<AppliedInstall> {
  const admin = e.kubeConfig();
  const objects = admin.makeApiClient(KubernetesObjectApi);
  const install = installObjectsFor(installNs, options.watchNamespaces).map((o) => adaptWebhookForTest(o, appNs, webhookUrl));
  // install.yaml's CRDs go through the harness's applyCrds, like every other
  // test file's, so concurrent writers never race.
  const crdFile = join(mkdtempSync(join(tmpdir(), 'va-install-')), 'crds.yaml');
  writeFileSync(crdFile, generatedFiles('install-manifest', { NAMESPACE: installNs }).get('install.yaml')!.split(/^---$/m)
    .filter((doc) => /^kind: CustomResourceDefinition$/m.test(doc)).join('---'));
  await e.applyCrds(crdFile);
  const clusterScoped: KubernetesObject[] = [];
  for (const obj of install) {
    if (obj.kind === 'Namespace' || obj.kind === 'CustomResourceDefinition') continue; // the harness made the namespace / applied the CRDs
    await objects.patch(obj, undefined, undefined, FIELD_MANAGER, true, PatchStrategy.ServerSideApply);
    if (!obj.metadata?.namespace) clusterScoped.push(obj);
  }
  return {
    crdCount: install.filter((o) => o.kind === 'CustomResourceDefinition').length,
    clusterScoped,
    remove: async () => {
      for (const obj of clusterScoped) await objects.delete(obj).catch(() => undefined);
    },
  };
}

/** A kubeconfig that authenticates as the installed ServiceAccount (TokenRequest) and talks to `server`. */
export async function serviceAccountKubeConfig(admin: KubeConfig, namespace: string, server: string): Promise<KubeConfig> {
  const tokenRequest = await admin.makeApiClient(CoreV1Api).createNamespacedServiceAccountToken({
    name: NAME.serviceAccount,
    namespace,
    body: { spec: { audiences: [], expirationSeconds: 3600 } },
  });
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'proxy', server, skipTLSVerify: true }],
    users: [{ name: NAME.serviceAccount, token: tokenRequest.status!.token }],
    contexts: [{ name: 'operator', cluster: 'proxy', user: NAME.serviceAccount }],
    currentContext: 'operator',
  });
  return kc;
}

export interface RbacFindings {
  /** Requests the ServiceAccount was refused (a permission is missing). */
  forbidden: string[];
  /** Allowed requests no permission in rbac.ts explains (the list is not the truth). */
  uncovered: string[];
  /** Permission verbs no request used (superfluous). */
  unused: string[];
  /** `permission:verb x count`, for the log. */
  usage: string[];
  /** Recorded requests whose URL is not a Kubernetes API path this analysis knows: each must be looked at, never dropped. */
  unparsed: string[];
  requests: number;
}

const DISCOVERY = /^\/(version|api|apis|openapi\/v[23])(\/[^/?]+){0,2}\/?(\?.*)?$/;

/** Maps recorded requests (plus the checks they imply) to the kubectl install's permissions (for its install scope). */
export function analyseRequests(recorded: RecordedRequest[], operatorNamespace: string, watchNamespaces?: string[]): RbacFindings {
  const permissions = operatorPermissions({ mode: InstallMode.Kubectl, namespace: operatorNamespace, ...(watchNamespaces ? { watchNamespaces } : {}) });
  const unparsed: string[] = [];
  const seen: (ApiRequest & { status: number })[] = recorded.flatMap((r) => {
    const parsed = apiRequestOf(r.method, r.url);
    if (!parsed) {
      // discovery (/version, /api, /apis/<group>/<version>) is every authenticated user's (system:discovery); all else is looked at
      if (!(DISCOVERY.test(r.url) && r.method === 'GET' && r.status < 400)) unparsed.push(`${r.method} ${r.url} -> ${r.status}`);
      return [];
    }
    const implied = impliedRequests(parsed, r.status, r.body).map((i) => ({ ...i, status: r.status }));
    return [{ ...parsed, status: r.status }, ...implied];
  });
  const describe = (r: ApiRequest) => `${r.verb} ${r.apiGroup || 'core'}/${r.resource} ${r.namespace ?? ''}/${r.name ?? ''}`;
  const usage = new Map<string, number>();
  for (const r of seen) {
    const p = permissionFor(r, permissions, operatorNamespace, watchNamespaces);
    if (p) usage.set(permissionVerbKey(p, r.verb), (usage.get(permissionVerbKey(p, r.verb)) ?? 0) + 1);
  }
  const allowed = seen.filter((r) => r.status !== 403);
  return {
    forbidden: [...new Set(seen.filter((r) => r.status === 403).map(describe))],
    uncovered: [...new Set(allowed.filter((r) => !permissionFor(r, permissions, operatorNamespace, watchNamespaces)).map(describe))],
    unused: unusedPermissionVerbs(permissions, allowed, operatorNamespace, watchNamespaces),
    usage: [...usage].map(([k, n]) => `${k} x${n}`),
    unparsed: [...new Set(unparsed)],
    requests: recorded.length,
  };
}

/** The auth role names a Vault resource stands for: rendered from its compact ServiceAccount entries, as the Vault controller does. */
export async function vaultRoleNames(custom: CustomObjectsApi, namespace: string, name = 'vault'): Promise<string[]> {
  const { spec } = (await custom.getNamespacedCustomObject({ group: API_GROUP, version: API_VERSION, namespace, plural: 'vaults', name })) as VaultResource;
  return (withServiceAccountRoles(spec.externalConfig, spec.serviceAccountRoles)?.auth ?? []).flatMap((a) => a.roles ?? []).map((r) => r.name);
}
