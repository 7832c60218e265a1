// /healthz (the process answers), /readyz (watches synced and webhook serving)
// and /metrics (Prometheus text) on a plain HTTP port.
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { MetricsRegistry } from './metrics.js';

export interface HealthServerOptions {
  port: number;
  host?: string;
  isReady(): boolean;
  registry: MetricsRegistry;
}

export interface HealthServer {
  readonly port: number;
  close(): Promise<void>;
}

export function healthRequestHandler(opts: Pick<HealthServerOptions, 'isReady' | 'registry'>): http.RequestListener {
  return (req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { Allow: 'GET, HEAD' }).end();
      return;
    }
    if (path === '/healthz' || path === '/livez') {
      res.writeHead(200, { 'Content-Type': 'text/plain' }).end('ok\n');
    } else if (path === '/readyz') {
      let ready = false;
      try {
        ready = opts.isReady();
      } catch {
        ready = false;
      }
      res.writeHead(ready ? 200 : 503, { 'Content-Type': 'text/plain' }).end(ready ? 'ok\n' : 'not ready\n');
    } else if (path === '/metrics') {
      res.writeHead(200, { 'Content-Type': 'text/plain; version=0.0.4; charset=utf-8' }).end(opts.registry.render());
    } else {
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found\n');
    }
  };
}

/** Listens on host:port (port 0 = any free port; the chosen one is in `.port`). */
export async function startHealthServer(opts: HealthServerOptions): Promise<HealthServer> {
  const server = http.createServer(healthRequestHandler(opts));
  server.keepAliveTimeout = 5000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host ?? '0.0.0.0', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
