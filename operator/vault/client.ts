// The one module that talks HTTP to Vault/OpenBao.
//
// Why not hashi-vault-js's typed calls (said plainly): this module uses only
// the library's axios instance (its connection setup), none of its typed
// methods. Most endpoints the operator needs have no typed call in 0.5.1
// (sys/init, sys/auth, sys/policies/acl, sys/mounts and their tuning, KV v1,
// Kubernetes-auth login, raft peers, identity groups, plugins, audit); the
// few that do (sys/unseal, seal-status, KV v2, token lookup) would read the
// CA from a file path rather than a PEM and report errors in their own shape
// (checked in node_modules/hashi-vault-js/src/Vault.js). Mixing both would give two error
// types, two request counters and two TLS set-ups; one generic request() with
// explicit TLS verification (a PEM, rejectUnauthorized always true) keeps one
// of each. If the axios instance ever disappears from the library, replace it
// with node:https here: nothing else depends on it.
import { readFileSync } from 'node:fs';
import https from 'node:https';
import { metrics } from '../framework/index.js';

/** How the operator authenticates to a Vault. */
export type VaultAuth =
  | { method: 'token'; token?: string; tokenFile?: string }
  | { method: 'kubernetes'; role: string; mountPath?: string; jwtFile?: string; jwt?: () => Promise<string> };

export interface VaultConnection {
  /** e.g. https://vault.vault.svc:8200 */
  address: string;
  /** PEM CA bundle used to verify the Vault server. */
  caCert?: string;
  auth: VaultAuth;
  timeoutMs?: number;
}

export type HttpMethod = 'GET' | 'LIST' | 'POST' | 'PUT' | 'DELETE';

export interface VaultResponse<T> {
  status: number;
  data: T;
}

export interface RequestOptions {
  /** Token to send; `null` sends none (sys/init, sys/unseal, login). Default: the client's own token. */
  token?: string | null;
  /** Statuses returned to the caller instead of thrown (e.g. 404 on a read of a missing path). */
  allowStatus?: number[];
  /** This request's own time limit, instead of the connection's. */
  timeoutMs?: number;
}

/** Counts requests by kind so tests and /metrics can prove "zero writes". */
export interface VaultRequestStats {
  reads: number;
  writes: number;
  byPath: Map<string, number>;
}

export class VaultError extends Error {
  constructor(
    message: string,
    readonly status: number | undefined,
    readonly errors: string[],
    /** true when Vault could not be reached at all (connection refused, timeout, DNS). */
    readonly unreachable: boolean,
  ) {
    super(message);
    this.name = 'VaultError';
  }
}


const DEFAULT_SA_TOKEN = '/var/run/secrets/kubernetes.io/serviceaccount/token';

interface AxiosLikeResponse {
  status: number;
  data: unknown;
}
type AxiosLike = (options: Record<string, unknown>) => Promise<AxiosLikeResponse>;

export class VaultClient {
  readonly stats: VaultRequestStats = { reads: 0, writes: 0, byPath: new Map() };
  /** hashi-vault-js (and axios) load on the first request: an operator with nothing to do in Vault never pays for them. */
  private http: Promise<AxiosLike> | undefined;
  private cachedToken: { value: string; expiresAt: number } | undefined;

  constructor(readonly connection: VaultConnection) {
    new URL(connection.address); // a bad address fails here, as before, not as "unreachable" later
  }

  private async httpClient(): Promise<AxiosLike> {
    const { connection } = this;
    const url = new URL(connection.address);
    const { default: Vault } = await import('hashi-vault-js');
    const library = new Vault({
      https: url.protocol === 'https:',
      baseUrl: `${url.origin}/v1`,
      timeout: connection.timeoutMs ?? 10_000,
    });
    // hashi-vault-js only takes a CA *file*; give its axios instance an agent with the PEM instead.
    const instance = (library as unknown as { instance: AxiosLike & { defaults: Record<string, unknown> } }).instance;
    if (url.protocol === 'https:') {
      // verification is explicit: NODE_TLS_REJECT_UNAUTHORIZED=0 in the environment cannot turn it off
      instance.defaults.httpsAgent = new https.Agent({ ca: connection.caCert, keepAlive: true, rejectUnauthorized: true });
    }
    return instance;
  }

  get address(): string {
    return this.connection.address;
  }

  /** The token used for authenticated requests; logs in with Kubernetes auth when configured. */
  async token(): Promise<string> {
    const auth = this.connection.auth;
    if (auth.method === 'token') {
      if (auth.token) return auth.token;
      if (auth.tokenFile) return readFileSync(auth.tokenFile, 'utf8').trim();
      throw new VaultError('no Vault token configured (set a token or a token file)', undefined, [], false);
    }
    if (this.cachedToken && this.cachedToken.expiresAt > Date.now()) return this.cachedToken.value;
    const jwt = auth.jwt ? await auth.jwt() : readFileSync(auth.jwtFile ?? DEFAULT_SA_TOKEN, 'utf8').trim();
    const mount = auth.mountPath ?? 'kubernetes';
    const res = await this.request<{ auth?: { client_token: string; lease_duration: number } }>(
      'POST',
      `auth/${mount}/login`,
      { role: auth.role, jwt },
      { token: null },
    );
    const login = res.data.auth;
    if (!login) throw new VaultError(`Kubernetes auth login to ${mount} returned no token`, res.status, [], false);
    // renew well before the lease ends; a zero lease means a non-expiring token
    const ttlMs = login.lease_duration > 0 ? login.lease_duration * 1000 * 0.8 : 3_600_000;
    this.cachedToken = { value: login.client_token, expiresAt: Date.now() + ttlMs };
    return login.client_token;
  }

  /** Forget a cached login token (after a 403, or when the auth changed). */
  resetToken(): void {
    this.cachedToken = undefined;
  }

  /**
   * One request to `/v1/<path>`. Throws VaultError for transport failures and
   * for statuses not in `allowStatus`; the error message never contains the
   * request body.
   */
  async request<T = Record<string, unknown>>(
    method: HttpMethod,
    path: string,
    body?: unknown,
    options: RequestOptions = {},
  ): Promise<VaultResponse<T>> {
    const token = options.token === undefined ? await this.token() : options.token;
    const headers: Record<string, string> = {};
    if (token) headers['X-Vault-Token'] = token;
    const isWrite = method === 'POST' || method === 'PUT' || method === 'DELETE';
    if (isWrite) this.stats.writes++;
    else this.stats.reads++;
    const key = `${method} ${path}`;
    this.stats.byPath.set(key, (this.stats.byPath.get(key) ?? 0) + 1);
    let status: number | undefined;
    try {
      const http = await (this.http ??= this.httpClient());
      const res = await http({
        url: `/${path.replace(/^\/+/, '')}`,
        method: method === 'LIST' ? 'get' : method.toLowerCase(),
        params: method === 'LIST' ? { list: 'true' } : undefined,
        data: body,
        headers,
        ...(options.timeoutMs ? { timeout: options.timeoutMs } : {}),
        validateStatus: () => true,
      });
      status = res.status;
      if (status >= 400 && !(options.allowStatus ?? []).includes(status)) {
        const errors = errorList(res.data);
        // an expired login token: log in again next time
        if (status === 403 && this.connection.auth.method === 'kubernetes') this.resetToken();
        throw new VaultError(
          `Vault ${method} ${path} failed with ${status}${errors.length ? `: ${errors.join('; ')}` : ''}`,
          status,
          errors,
          false,
        );
      }
      return { status, data: (res.data ?? {}) as T };
    } catch (err) {
      if (err instanceof VaultError) throw err;
      const code = (err as { code?: string }).code ?? (err as Error).message;
      throw new VaultError(`Vault at ${this.address} is unreachable (${code})`, undefined, [], true);
    } finally {
      metrics.vaultRequests.inc({ method, status: status ? `${Math.floor(status / 100)}xx` : 'none' });
    }
  }

  /** sys/seal-status, unauthenticated. */
  async sealStatus(): Promise<SealStatus> {
    return (await this.request<SealStatus>('GET', 'sys/seal-status', undefined, { token: null })).data;
  }
}

export interface SealStatus {
  initialized: boolean;
  sealed: boolean;
  t: number;
  n: number;
  progress: number;
  version?: string;
  cluster_name?: string;
  /** `shamir`, or an auto-unseal seal (`transit`, `awskms`, ...) from the server's `seal` stanza. */
  type?: string;
  /** True with an auto-unseal seal: sys/init makes recovery keys, and the seal (not the keys) unseals. */
  recovery_seal?: boolean;
}

function errorList(data: unknown): string[] {
  const errors = (data as { errors?: unknown } | undefined)?.errors;
  return Array.isArray(errors) ? errors.map(String) : [];
}
