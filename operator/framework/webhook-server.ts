// HTTPS server for admission webhooks (AdmissionReview v1). The serving
// certificate comes from a CertificateSource and is swapped in place with
// `setSecureContext`, so a rotation never restarts the listener or drops a
// request: connections already open keep their handshake, new ones get the
// new certificate.
import * as https from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { AdmissionHandler, AdmissionRequest, AdmissionReview, AdmissionWebhookHost } from './admission.js';
import { validateCertificatePair, type CertificatePair, type CertificateSource, type WebhookLog } from './certificate-source.js';

export * from './certificate-source.js';


export interface WebhookServerOptions {
  port: number;
  host?: string;
  certificates: CertificateSource;
  log: WebhookLog;
  /** AdmissionReview bodies larger than this are refused with 413 (a Pod is at most ~1.5 MiB in etcd). Default 2 MiB. */
  maxBodyBytes?: number;
  /** Request bytes held across all requests still being read; beyond it new bytes get a 503. Default 32 MiB. */
  maxBufferedBytes?: number;
  /** Reviews parsed and handled at once; the rest wait their turn (their bodies count in maxBufferedBytes). Default 8. */
  maxConcurrent?: number;
  /** A body not complete within this (a slow or stalled client) gets a 408 and the connection is closed. Default 10 s. */
  bodyTimeoutMs?: number;
  /**
   * Client-certificate authentication (the apiserver presents one when its
   * AdmissionConfiguration names a kubeconfig for this webhook): TLS clients
   * without a certificate issued by `ca` are refused in the handshake; with
   * `names`, the certificate's CN or a DNS name must be one of them (403).
   */
  clientAuth?: { ca: string; names?: string[] };
  /** Called after every review: for metrics. */
  observe?(sample: { path: string; durationMs: number; allowed: boolean | undefined; patched: boolean }): void;
}

/** Pure: whether a verified client certificate names one of `names` (its CN or a DNS subject alternative name). */
export function clientNameAllowed(peer: { subject?: { CN?: string | string[] }; subjectaltname?: string } | undefined, names: readonly string[]): boolean {
  if (!peer) return false;
  const cn = peer.subject?.CN;
  const presented = [...(Array.isArray(cn) ? cn : cn ? [cn] : []), ...(peer.subjectaltname ?? '').split(', ').filter((n) => n.startsWith('DNS:')).map((n) => n.slice(4))];
  return presented.some((n) => names.includes(n));
}

export class WebhookServer implements AdmissionWebhookHost {
  readonly #opts: WebhookServerOptions;
  readonly #handlers = new Map<string, AdmissionHandler>();
  #server: https.Server | undefined;
  #serving = false;
  #port = 0;
  #certificateVersion = 0;
  #buffered = 0;
  #active = 0;
  readonly #waiting: Array<() => void> = [];

  constructor(opts: WebhookServerOptions) {
    this.#opts = opts;
  }

  register(path: string, handler: AdmissionHandler): void {
    if (!path.startsWith('/')) throw new Error(`webhook path must start with "/": ${path}`);
    if (this.#handlers.has(path)) throw new Error(`webhook path ${path} is already registered`);
    this.#handlers.set(path, handler);
  }

  async start(): Promise<void> {
    if (this.#server) return;
    const first = await this.#opts.certificates.start((pair) => this.#swapCertificate(pair));
    const server = https.createServer({ ...this.#secureContext(first), ...(this.#opts.clientAuth ? { requestCert: true, rejectUnauthorized: true } : {}) }, (req, res) => {
      void this.#serve(req, res);
    });
    // The apiserver keeps connections open between reviews. Let the client be
    // the one that closes an idle connection (Go's default idle timeout is
    // 90 s): a server-side close racing a new POST fails that admission, as Go
    // does not retry a request it has already written.
    server.keepAliveTimeout = 120_000;
    server.headersTimeout = 30_000;
    server.requestTimeout = 30_000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.#opts.port, this.#opts.host ?? '0.0.0.0', () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.#server = server;
    this.#port = (server.address() as AddressInfo).port;
    this.#serving = true;
    this.#opts.log.info('admission webhook server listening', { port: this.#port, paths: [...this.#handlers.keys()] });
  }

  async stop(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    this.#serving = false;
    await this.#opts.certificates.stop();
    if (!server) return;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeIdleConnections();
      setTimeout(() => server.closeAllConnections(), 5_000).unref();
    });
  }

  isServing(): boolean {
    return this.#serving;
  }

  /** The bound port (useful with port 0). */
  get port(): number {
    return this.#port;
  }

  /** Increments on every certificate swap (tests and metrics). */
  get certificateVersion(): number {
    return this.#certificateVersion;
  }

  #secureContext(pair: CertificatePair): { cert: string; key: string; minVersion: 'TLSv1.2'; ca?: string } {
    return { cert: pair.cert, key: pair.key, minVersion: 'TLSv1.2', ...(this.#opts.clientAuth ? { ca: this.#opts.clientAuth.ca } : {}) };
  }

  #swapCertificate(pair: CertificatePair): void {
    try {
      validateCertificatePair(pair);
      this.#server?.setSecureContext(this.#secureContext(pair));
      this.#certificateVersion++;
      this.#opts.log.info('admission webhook serving certificate swapped', { version: this.#certificateVersion });
    } catch (err) {
      this.#opts.log.error('rejected a new webhook serving certificate; keeping the current one', { error: (err as Error).message });
    }
  }

  async #serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const names = this.#opts.clientAuth?.names;
    if (names?.length && !clientNameAllowed((req.socket as TLSSocket).getPeerCertificate(), names)) {
      res.writeHead(403, { 'Content-Type': 'text/plain', Connection: 'close' }).end('client certificate not allowed\n');
      return;
    }
    const path = (req.url ?? '/').split('?')[0]!;
    if (req.method === 'GET' && path === '/healthz') {
      res.writeHead(200, { 'Content-Type': 'text/plain' }).end('ok\n');
      return;
    }
    const handler = this.#handlers.get(path);
    if (!handler) {
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found\n');
      return;
    }
    if (req.method !== 'POST') {
      res.writeHead(405, { Allow: 'POST' }).end();
      return;
    }
    const started = performance.now();
    const maxBody = this.#opts.maxBodyBytes ?? 2 * 1024 * 1024;
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > maxBody) {
      // refused before a byte of it is read
      refuse(req, res, 413, `body of ${declared} bytes is larger than ${maxBody}`, this.#opts.bodyTimeoutMs ?? 10_000);
      return;
    }
    let text: string;
    try {
      text = await this.#readBody(req, maxBody);
    } catch (err) {
      const e = err as Error & { status?: number };
      refuse(req, res, e.status ?? 400, e.message, this.#opts.bodyTimeoutMs ?? 10_000);
      return;
    }
    await this.#slot();
    try {
      await this.#review(res, path, handler, text, started);
    } finally {
      this.#release();
    }
  }

  /** Waits for one of maxConcurrent slots: parsing and handling are what cost memory and CPU. */
  async #slot(): Promise<void> {
    if (this.#active < (this.#opts.maxConcurrent ?? 8)) {
      this.#active++;
      return;
    }
    await new Promise<void>((resolve) => this.#waiting.push(resolve));
  }

  #release(): void {
    const next = this.#waiting.shift();
    if (next) next(); // the slot passes on
    else this.#active--;
  }

  /** The body, within the per-request size, the shared byte budget and the body deadline. */
  #readBody(req: IncomingMessage, limit: number): Promise<string> {
    const budget = this.#opts.maxBufferedBytes ?? 32 * 1024 * 1024;
    const timeoutMs = this.#opts.bodyTimeoutMs ?? 10_000;
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      let done = false;
      const finish = (err?: Error & { status?: number }) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        this.#buffered -= size;
        if (err) {
          chunks.length = 0;
          req.removeAllListeners('data');
          req.resume(); // drain without keeping what arrives
          reject(err);
        } else {
          resolve(Buffer.concat(chunks).toString('utf8'));
        }
      };
      const fail = (status: number, message: string) => finish(Object.assign(new Error(message), { status }));
      const timer = setTimeout(() => fail(408, `body not complete within ${timeoutMs} ms`), timeoutMs);
      req.on('data', (chunk: Buffer) => {
        if (done) return;
        size += chunk.length;
        this.#buffered += chunk.length;
        if (size > limit) return fail(413, `body larger than ${limit} bytes`);
        if (this.#buffered > budget) return fail(503, 'too many request bytes in flight; retry');
        chunks.push(chunk);
      });
      req.on('end', () => finish());
      req.on('error', (err) => finish(Object.assign(err, { status: 400 })));
      req.on('close', () => fail(400, 'client went away'));
    });
  }

  async #review(res: ServerResponse, path: string, handler: AdmissionHandler, text: string, started: number): Promise<void> {
    let review: AdmissionReview;
    try {
      review = JSON.parse(text) as AdmissionReview;
    } catch (err) {
      res.writeHead(400, { 'Content-Type': 'text/plain' }).end(`bad AdmissionReview: ${(err as Error).message}\n`);
      return;
    }
    const request = review?.request;
    if (review?.apiVersion !== 'admission.k8s.io/v1' || review.kind !== 'AdmissionReview' || !request?.uid) {
      res.writeHead(400, { 'Content-Type': 'text/plain' }).end('expected an admission.k8s.io/v1 AdmissionReview with a request\n');
      return;
    }
    let body: AdmissionReview;
    try {
      body = toResponse(request, await handler(request));
    } catch (err) {
      // An HTTP error lets the apiserver apply the configured failurePolicy
      // (Fail: refused; Ignore: admitted unmutated) instead of us guessing.
      this.#opts.log.error('admission handler failed', { path, uid: request.uid, namespace: request.namespace, error: (err as Error).message });
      res.writeHead(500, { 'Content-Type': 'text/plain' }).end('admission handler failed\n');
      this.#opts.observe?.({ path, durationMs: performance.now() - started, allowed: undefined, patched: false });
      return;
    }
    const json = JSON.stringify(body);
    res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(json) }).end(json);
    const durationMs = performance.now() - started;
    this.#opts.observe?.({ path, durationMs, allowed: body.response!.allowed, patched: body.response!.patch !== undefined });
    this.#opts.log.debug('admission reviewed', {
      path,
      uid: request.uid,
      operation: request.operation,
      namespace: request.namespace,
      name: request.name,
      allowed: body.response!.allowed,
      patched: body.response!.patch !== undefined,
      durationMs: Math.round(durationMs * 100) / 100,
    });
  }
}

function toResponse(request: AdmissionRequest, decision: Awaited<ReturnType<AdmissionHandler>>): AdmissionReview {
  const response: NonNullable<AdmissionReview['response']> = { uid: request.uid, allowed: decision.allowed };
  if (decision.allowed) {
    if (decision.patch && decision.patch.length > 0) {
      response.patchType = 'JSONPatch';
      response.patch = Buffer.from(JSON.stringify(decision.patch)).toString('base64');
    }
    if (decision.warnings?.length) response.warnings = decision.warnings;
  } else {
    response.status = { code: decision.code ?? 403, message: decision.message };
  }
  return { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response };
}

/**
 * An error answer. What the client still sends is read and thrown away (no
 * memory), so it sees the answer instead of a reset; a client that goes on
 * too long is cut off.
 */
function refuse(req: IncomingMessage, res: ServerResponse, status: number, message: string, graceMs: number): void {
  req.resume();
  const cutOff = setTimeout(() => req.socket.destroy(), graceMs);
  cutOff.unref();
  req.once('end', () => clearTimeout(cutOff));
  if (res.headersSent || res.writableEnded) return;
  res.writeHead(status, { 'Content-Type': 'text/plain' }).end(`${message}\n`);
}
