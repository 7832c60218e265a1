// Deleting a namespace here does not delete its contents: the namespace
// controller lives in kube-controller-manager, which the harness does not run.
// So the harness does its job: delete every namespaced object, drop the
// finalizers nobody is left to remove, then finalize the namespace.
import type { KubeConfig } from '@kubernetes/client-node';
import { httpRequest, type HttpResult } from './http.js';

interface ApiResource {
  name: string;
  namespaced: boolean;
  verbs: string[];
}

/** Pure: the collection paths (group-version + resource) that can be listed and deleted in a namespace. */
export function deletableCollections(groupVersion: string, resources: readonly ApiResource[]): string[] {
  const base = groupVersion === 'v1' ? '/api/v1' : `/apis/${groupVersion}`;
  return resources
    .filter((r) => r.namespaced && !r.name.includes('/') && r.verbs.includes('list') && r.verbs.includes('deletecollection'))
    // Events cannot block anything and are recreated by the operator under test; delete them too.
    .map((r) => `${base}/namespaces/{ns}/${r.name}`);
}

class RawKube {
  private readonly server: string;
  private readonly ca: string | undefined;
  private readonly token: string | undefined;

  constructor(kc: KubeConfig) {
    const cluster = kc.getCurrentCluster();
    if (!cluster) throw new Error('kubeconfig has no current cluster');
    this.server = cluster.server;
    this.ca = cluster.caData ? Buffer.from(cluster.caData, 'base64').toString('utf8') : undefined;
    this.token = kc.getCurrentUser()?.token;
  }

  request(method: string, path: string, body?: unknown, contentType = 'application/json'): Promise<HttpResult> {
    return httpRequest(`${this.server}${path}`, {
      method,
      ca: this.ca,
      bearer: this.token,
      headers: { accept: 'application/json', ...(body === undefined ? {} : { 'content-type': contentType }) },
      body: body === undefined ? undefined : JSON.stringify(body),
      timeoutMs: 15_000,
    });
  }

  async json<T>(path: string): Promise<T> {
    const res = await this.request('GET', path);
    if (res.status !== 200) throw new Error(`GET ${path}: ${res.status} ${res.body.slice(0, 200)}`);
    return JSON.parse(res.body) as T;
  }
}

async function namespacedCollections(kube: RawKube): Promise<string[]> {
  const groupVersions = ['v1'];
  const groups = await kube.json<{ groups: { preferredVersion: { groupVersion: string } }[] }>('/apis');
  groupVersions.push(...groups.groups.map((g) => g.preferredVersion.groupVersion));
  const collections: string[] = [];
  for (const gv of groupVersions) {
    const path = gv === 'v1' ? '/api/v1' : `/apis/${gv}`;
    try {
      const list = await kube.json<{ resources: ApiResource[] }>(path);
      collections.push(...deletableCollections(gv, list.resources));
    } catch {
      // a group whose backing service is down: skip it
    }
  }
  return collections;
}

/** Best effort: errors are collected and returned, not thrown. */
export async function purgeNamespaces(kc: KubeConfig, namespaces: readonly string[]): Promise<string[]> {
  if (namespaces.length === 0) return [];
  const problems: string[] = [];
  const kube = new RawKube(kc);
  let collections: string[];
  try {
    collections = await namespacedCollections(kube);
  } catch (error) {
    return [`discovery failed: ${String(error)}`];
  }
  for (const ns of namespaces) {
    try {
      for (const template of collections) {
        const path = template.replace('{ns}', encodeURIComponent(ns));
        await kube.request('DELETE', `${path}?gracePeriodSeconds=0`);
        // Objects held by finalizers of a controller that is no longer running.
        const res = await kube.request('GET', path);
        if (res.status !== 200) continue;
        const items = (JSON.parse(res.body) as { items?: { metadata?: { name?: string; finalizers?: string[] } }[] }).items ?? [];
        for (const item of items) {
          const name = item.metadata?.name;
          if (!name || !item.metadata?.finalizers?.length) continue;
          await kube.request('PATCH', `${path}/${encodeURIComponent(name)}`, { metadata: { finalizers: null } }, 'application/merge-patch+json');
        }
      }
      await kube.request('DELETE', `/api/v1/namespaces/${encodeURIComponent(ns)}`);
      const finalize = await kube.request('PUT', `/api/v1/namespaces/${encodeURIComponent(ns)}/finalize`, {
        apiVersion: 'v1',
        kind: 'Namespace',
        metadata: { name: ns },
        spec: { finalizers: [] },
      });
      if (finalize.status >= 300 && finalize.status !== 404) problems.push(`finalize ${ns}: ${finalize.status}`);
    } catch (error) {
      problems.push(`${ns}: ${String(error)}`);
    }
  }
  return problems;
}
