// A plain-HTTP reverse proxy on loopback in front of a real server (Vault over
// http, the kube-apiserver over https). Hooks see every request and its
// answer and may hold, drop or pass them: a test kills the operator at an
// exact step ("Vault has answered sys/init, the operator has not seen it"),
// or stops a server while a request is on its way. Streams (watches) pass
// through untouched.
import * as http from 'node:http';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';

export interface ProxiedRequest {
  method: string;
  /** Path and query, as sent. */
  url: string;
  headers: http.IncomingHttpHeaders;
  /** Request body (writes only; at most 1 MiB kept). */
  body: string;
}

/** 'pass' it on, 'drop' the connection without an answer, or answer in the upstream's place. */
export type Verdict = 'pass' | 'drop' | { status: number; body: string; headers?: Record<string, string> };

export interface FaultHooks {
  /** Before the request goes upstream; 'drop' closes the client connection without an answer. */
  onRequest?(req: ProxiedRequest): Verdict | Promise<Verdict>;
  /** After upstream answered, before the client sees it; 'drop' closes the client connection instead. */
  onResponse?(req: ProxiedRequest, status: number, body: string): 'pass' | 'drop' | Promise<'pass' | 'drop'>;
}

export interface FaultProxy {
  url: string;
  hooks: FaultHooks;
  /** Every request seen, in order, with the time its answer reached the proxy. */
  log: Array<{ method: string; url: string; status: number; at: number }>;
  close(): Promise<void>;
}

const MAX_KEPT = 1024 * 1024;

/**
 * `transparent`: when the upstream cannot be reached, drop the client's
 * connection (as the stopped server itself would) instead of answering 502.
 */
export async function startFaultProxy(upstream: string, opts: { caPem?: string; hooks?: FaultHooks; transparent?: boolean } = {}): Promise<FaultProxy> {
  const target = new URL(upstream);
  const secure = target.protocol === 'https:';
  const agent = secure ? new https.Agent({ ca: opts.caPem, keepAlive: true }) : new http.Agent({ keepAlive: true });
  const proxy: FaultProxy = { url: '', hooks: opts.hooks ?? {}, log: [], close: async () => {} };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_KEPT) chunks.push(chunk);
    });
    req.on('end', () => {
      void (async () => {
        const info: ProxiedRequest = { method: req.method ?? 'GET', url: req.url ?? '/', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') };
        const verdict = await proxy.hooks.onRequest?.(info);
        if (verdict === 'drop') {
          req.socket.destroy();
          return;
        }
        if (typeof verdict === 'object') {
          proxy.log.push({ method: info.method, url: info.url, status: verdict.status, at: Date.now() });
          res.writeHead(verdict.status, { 'content-type': 'application/json', ...verdict.headers });
          res.end(verdict.body);
          return;
        }
        const streaming = /[?&]watch=(true|1)/.test(info.url);
        const upstreamReq = (secure ? https : http).request(
          { protocol: target.protocol, hostname: target.hostname, port: target.port, path: info.url, method: info.method, headers: { ...req.headers, host: target.host }, agent },
          (upstreamRes) => {
            if (streaming || !proxy.hooks.onResponse) {
              proxy.log.push({ method: info.method, url: info.url, status: upstreamRes.statusCode ?? 0, at: Date.now() });
              res.writeHead(upstreamRes.statusCode ?? 502, upstreamRes.headers);
              upstreamRes.pipe(res);
              return;
            }
            const out: Buffer[] = [];
            upstreamRes.on('data', (c: Buffer) => out.push(c));
            upstreamRes.on('end', () => {
              void (async () => {
                const body = Buffer.concat(out);
                proxy.log.push({ method: info.method, url: info.url, status: upstreamRes.statusCode ?? 0, at: Date.now() });
                if ((await proxy.hooks.onResponse?.(info, upstreamRes.statusCode ?? 0, body.toString('utf8'))) !== 'pass') {
                  req.socket.destroy();
                  return;
                }
                const headers = { ...upstreamRes.headers };
                delete headers['transfer-encoding'];
                headers['content-length'] = String(body.length);
                res.writeHead(upstreamRes.statusCode ?? 502, headers);
                res.end(body);
              })();
            });
          },
        );
        upstreamReq.on('error', (err) => {
          proxy.log.push({ method: info.method, url: info.url, status: 502, at: Date.now() });
          if (opts.transparent && !res.headersSent) {
            req.socket.destroy();
            return;
          }
          if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
          res.end(String(err));
        });
        res.on('close', () => upstreamReq.destroy());
        upstreamReq.end(Buffer.concat(chunks));
      })();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  proxy.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  proxy.close = async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    agent.destroy();
  };
  return proxy;
}
