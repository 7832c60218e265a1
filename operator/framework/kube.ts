// Kubernetes clients (client-node 1.x) and one raw request helper for the
// calls the typed clients cannot make generically (list/watch/patch of any
// group/version/plural, core or custom, including the /status subresource).
import * as http from 'node:http';
import * as https from 'node:https';
import {
  AdmissionregistrationV1Api,
  ApiextensionsV1Api,
  AppsV1Api,
  CoordinationV1Api,
  CoreV1Api,
  CustomObjectsApi,
  EventsV1Api,
  KubeConfig,
  KubernetesObjectApi,
  PolicyV1Api,
  RbacAuthorizationV1Api,
} from '@kubernetes/client-node';

export interface KubeClients {
  kubeConfig: KubeConfig;
  core: CoreV1Api;
  apps: AppsV1Api;
  rbac: RbacAuthorizationV1Api;
  policy: PolicyV1Api;
  custom: CustomObjectsApi;
  objects: KubernetesObjectApi;
  admission: AdmissionregistrationV1Api;
  events: EventsV1Api;
  apiextensions: ApiextensionsV1Api;
  coordination: CoordinationV1Api;
  raw: RawKube;
}

/** The typed clients and RawKube share one set of keep-alive connections (closed by `raw.close()`). */
export function makeKubeClients(kubeConfig: KubeConfig): KubeClients {
  const agents = new KeepAliveAgents();
  const pooled = pooledKubeConfig(kubeConfig, agents);
  return {
    kubeConfig,
    core: pooled.makeApiClient(CoreV1Api),
    apps: pooled.makeApiClient(AppsV1Api),
    rbac: pooled.makeApiClient(RbacAuthorizationV1Api),
    policy: pooled.makeApiClient(PolicyV1Api),
    custom: pooled.makeApiClient(CustomObjectsApi),
    objects: KubernetesObjectApi.makeApiClient(pooled),
    admission: pooled.makeApiClient(AdmissionregistrationV1Api),
    events: pooled.makeApiClient(EventsV1Api),
    apiextensions: pooled.makeApiClient(ApiextensionsV1Api),
    coordination: pooled.makeApiClient(CoordinationV1Api),
    raw: new RawKube(kubeConfig, agents),
  };
}

/** The TLS settings that tell one client identity from another (what a pooled connection was opened with). */
const TLS_KEYS = ['ca', 'cert', 'key', 'pfx', 'passphrase', 'rejectUnauthorized', 'servername'] as const;

/**
 * Keep-alive HTTPS agents, one per TLS identity. client-node builds a new
 * agent for every call of its generated clients, so each call paid a TCP
 * connection and a TLS handshake with the apiserver: CPU on both sides and
 * round trips (a pod's first admission reads four objects). Free connections
 * close after 30 s, before the apiserver's 90 s idle timeout can race a
 * request onto a connection it is closing.
 */
export class KeepAliveAgents {
  /** Newest last; a few identities at most (a client certificate rotated in the kubeconfig adds one). */
  readonly #agents: Array<{ tls: unknown[]; agent: https.Agent }> = [];

  /** The pooled agent for connections with these TLS settings. */
  for(opts: Pick<https.AgentOptions, (typeof TLS_KEYS)[number]>): https.Agent {
    const tls = TLS_KEYS.map((k) => opts[k]);
    const found = this.#agents.find((a) => a.tls.every((v, i) => sameTlsValue(v, tls[i])));
    if (found) return found.agent;
    const settings = Object.fromEntries(TLS_KEYS.filter((k) => opts[k] !== undefined).map((k) => [k, opts[k]]));
    const agent = new https.Agent({ ...settings, keepAlive: true, timeout: 30_000 });
    this.#agents.push({ tls, agent });
    // an identity no longer in use: its free connections time out, requests in flight finish
    if (this.#agents.length > 4) this.#agents.shift();
    return agent;
  }

  /** Closes every pooled connection (shutdown, tests). */
  close(): void {
    for (const { agent } of this.#agents.splice(0)) agent.destroy();
  }
}

/**
 * A view of `kubeConfig` whose generated clients (makeApiClient) take their
 * connections from `agents`: client-node calls the config's
 * applySecurityAuthentication per request, which sets the credentials and a
 * fresh agent; the view keeps the credentials and swaps the agent for the
 * pooled one. Proxy agents and plain http stay as client-node made them.
 */
function pooledKubeConfig(kubeConfig: KubeConfig, agents: KeepAliveAgents): KubeConfig {
  const view = Object.create(kubeConfig) as KubeConfig;
  view.applySecurityAuthentication = async (context) => {
    await kubeConfig.applySecurityAuthentication(context);
    const made = context.getAgent();
    if (made instanceof https.Agent && made.constructor === https.Agent) {
      context.setAgent(agents.for((made as https.Agent & { options: https.AgentOptions }).options));
    }
  };
  return view;
}

/** Path of a resource collection: core group "" lives under /api, others under /apis. */
export function resourcePath(group: string, version: string, plural: string, namespace?: string, name?: string, subresource?: string): string {
  let path = group ? `/apis/${group}/${version}` : `/api/${version}`;
  if (namespace) path += `/namespaces/${encodeURIComponent(namespace)}`;
  path += `/${plural}`;
  if (name) path += `/${encodeURIComponent(name)}`;
  if (subresource) path += `/${subresource}`;
  return path;
}

/** A non-2xx answer from the apiserver. `code` mirrors client-node's ApiException. */
export class KubeApiError extends Error {
  constructor(
    readonly code: number,
    readonly body: unknown,
    method: string,
    path: string,
  ) {
    const status = body as { message?: string; reason?: string } | undefined;
    super(`${method} ${path}: HTTP ${code}${status?.reason ? ` ${status.reason}` : ''}${status?.message ? `: ${status.message}` : ''}`);
    this.name = 'KubeApiError';
  }
}

/** Status code of an error from client-node 1.x (ApiException) or RawKube, if any. */
export function errorCode(err: unknown): number | undefined {
  const code = (err as { code?: unknown; statusCode?: unknown } | undefined)?.code ?? (err as { statusCode?: unknown } | undefined)?.statusCode;
  return typeof code === 'number' ? code : undefined;
}

/** The apiserver said 404: the object does not exist. */
export function isNotFound(err: unknown): boolean {
  return errorCode(err) === 404;
}

/** The object a read returns, or undefined when it does not exist (404); any other error is thrown. */
export async function getOrUndefined<T>(read: Promise<T>): Promise<T | undefined> {
  try {
    return await read;
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

export const PATCH = {
  merge: 'application/merge-patch+json',
  json: 'application/json-patch+json',
} as const;

export interface RawRequest {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  path: string;
  query?: Record<string, string | number | boolean | undefined>;
  body?: unknown;
  contentType?: string;
  timeoutMs?: number;
  /** Aborting destroys the request, also while it waits for response headers. */
  signal?: AbortSignal;
}

export interface RawStream {
  /** Resolves when the response headers arrived with 200, rejects otherwise. */
  response: http.IncomingMessage;
  abort(): void;
}

export class RawKube {
  constructor(
    private readonly kubeConfig: KubeConfig,
    // keep-alive connections, shared with the typed clients of the same KubeClients
    private readonly agents: KeepAliveAgents = new KeepAliveAgents(),
  ) {}

  /** Closes pooled connections (tests, shutdown). */
  close(): void {
    this.agents.close();
  }

  async request<T = unknown>(req: RawRequest): Promise<T> {
    const { res, abort } = await this.#open(req);
    const chunks: Buffer[] = [];
    try {
      for await (const chunk of res) chunks.push(chunk as Buffer);
    } finally {
      abort();
    }
    const text = Buffer.concat(chunks).toString('utf8');
    let body: unknown = text;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      // non-JSON body: keep the text
    }
    const status = res.statusCode ?? 0;
    if (status < 200 || status >= 300) throw new KubeApiError(status, body, req.method, req.path);
    return body as T;
  }

  /** Opens a streaming GET (watch). Non-200 answers reject with KubeApiError. */
  async stream(req: Omit<RawRequest, 'method' | 'body' | 'contentType'>): Promise<RawStream> {
    const { res, abort } = await this.#open({ ...req, method: 'GET' }, true);
    if (res.statusCode !== 200) {
      const chunks: Buffer[] = [];
      for await (const chunk of res) chunks.push(chunk as Buffer);
      abort();
      let body: unknown;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch {
        body = undefined;
      }
      throw new KubeApiError(res.statusCode ?? 0, body, 'GET', req.path);
    }
    return { response: res, abort };
  }

  async #open(req: RawRequest, longLived = false): Promise<{ res: http.IncomingMessage; abort: () => void }> {
    const cluster = this.kubeConfig.getCurrentCluster();
    if (!cluster) throw new Error('kubeconfig has no current cluster');
    const url = new URL(cluster.server.replace(/\/$/, '') + req.path);
    for (const [k, v] of Object.entries(req.query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    const opts: https.RequestOptions = { method: req.method, headers: {} };
    await this.kubeConfig.applyToHTTPSOptions(opts);
    const headers = opts.headers as Record<string, string>;
    headers.Accept = 'application/json';
    let payload: string | undefined;
    if (req.body !== undefined) {
      payload = JSON.stringify(req.body);
      headers['Content-Type'] = req.contentType ?? 'application/json';
      headers['Content-Length'] = String(Buffer.byteLength(payload));
    }
    const transport = url.protocol === 'http:' ? http : https;
    if (url.protocol === 'http:') delete opts.agent;
    else opts.agent = this.agents.for(opts);
    if (req.signal?.aborted) throw new Error(`${req.method} ${req.path}: aborted`);
    return new Promise((resolve, reject) => {
      const request = transport.request(url, opts, (res) => resolve({ res, abort: () => request.destroy() }));
      request.on('error', reject);
      // TCP keepalive on long-lived watches, so a dead peer is noticed by the kernel too.
      if (longLived) request.on('socket', (socket) => socket.setKeepAlive(true, 30_000));
      req.signal?.addEventListener('abort', () => request.destroy(new Error(`${req.method} ${req.path}: aborted`)), { once: true });
      if (req.timeoutMs) {
        request.setTimeout(req.timeoutMs, () => request.destroy(new Error(`${req.method} ${req.path}: no answer within ${req.timeoutMs} ms`)));
      }
      if (payload !== undefined) request.write(payload);
      request.end();
    });
  }
}

function sameTlsValue(a: unknown, b: unknown): boolean {
  if (Buffer.isBuffer(a) && Buffer.isBuffer(b)) return a.equals(b);
  return a === b;
}
