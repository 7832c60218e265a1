// The Kubernetes writes an in-process operator makes, as they leave it: the
// operator gets a kubeconfig that points at a logging proxy in front of the
// real apiserver (test/harness/fault-proxy.ts). Counted outside the code under
// test, so status patches, finalizer edits and Events count like any write.
import { readFileSync } from 'node:fs';
import { KubeConfig } from '@kubernetes/client-node';
import { startFaultProxy, type FaultProxy } from '../harness/fault-proxy.js';
import type { TestEnv } from '../harness/index.js';

export interface KubeWriteLog {
  /** Give this to the operator under test (same user as the harness admin). */
  kubeConfig: KubeConfig;
  /** Writes sent so far, in order, as `VERB resource[/subresource] [namespace/]name` (e.g. `DELETE ingresses vault-ns/vault`, `CREATE secrets ns/x`). */
  writes(): string[];
  /** Every request but watches, in the order answered, as `METHOD path?query`. */
  requests(): string[];
  close(): Promise<void>;
}

const VERBS: Record<string, string> = { POST: 'CREATE', PUT: 'UPDATE', PATCH: 'PATCH', DELETE: 'DELETE' };

/** `/api/v1/namespaces/a/secrets/b` -> `secrets a/b`; `/apis/g/v/clusterrolebindings/x` -> `clusterrolebindings x`. */
export function describePath(url: string): string {
  const parts = url.split('?')[0]!.split('/').filter(Boolean);
  const rest = parts[0] === 'api' ? parts.slice(2) : parts.slice(3);
  let namespace: string | undefined;
  if (rest[0] === 'namespaces' && rest.length > 2) {
    namespace = rest[1];
    rest.splice(0, 2);
  }
  const [resource = '', name, ...sub] = rest;
  const kind = [resource, ...sub].join('/');
  return name ? `${kind} ${namespace ? `${namespace}/` : ''}${name}` : `${kind} ${namespace ? `${namespace}/` : ''}`;
}

export async function logKubeWrites(env: TestEnv): Promise<KubeWriteLog> {
  const proxy: FaultProxy = await startFaultProxy(env.apiserverUrl, { caPem: readFileSync(env.apiserverCaFile, 'utf8') });
  const admin = env.kubeConfig().getCurrentUser();
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromOptions({
    clusters: [{ name: 'logged', server: proxy.url, skipTLSVerify: true }],
    // the harness admin authenticates with a bearer token, which passes the proxy as a header
    users: [{ name: 'admin', token: admin?.token ?? '' }],
    contexts: [{ name: 'logged', cluster: 'logged', user: 'admin' }],
    currentContext: 'logged',
  });
  // writes as sent (a create names its object in the body, not in the path)
  const writes: string[] = [];
  proxy.hooks.onRequest = (req) => {
    const verb = VERBS[req.method];
    if (verb) {
      let described = describePath(req.url);
      if (req.method === 'POST' && described.endsWith('/')) {
        try {
          described += (JSON.parse(req.body) as { metadata?: { name?: string } }).metadata?.name ?? '';
        } catch {
          // not JSON: the collection is all there is to say
        }
      }
      writes.push(`${verb} ${described}`);
    }
    return 'pass';
  };
  return {
    kubeConfig,
    writes: () => [...writes],
    requests: () => proxy.log.filter((r) => !/[?&]watch=(true|1)/.test(r.url)).map((r) => `${r.method} ${r.url}`),
    close: () => proxy.close(),
  };
}
