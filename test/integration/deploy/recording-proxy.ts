// A plain-HTTP reverse proxy in front of the real kube-apiserver that records
// every request the operator makes (method, URL, response status), so a test
// can map each to the RBAC permission it needed. Watches stream through.
import * as http from 'node:http';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';

export interface RecordedRequest {
  method: string;
  url: string;
  status: number;
  /** JSON body of a write (POST/PUT/PATCH), when it parsed; what an RBAC check may depend on (roleRef, ownerReferences). */
  body?: Record<string, unknown>;
}

const MAX_BODY = 512 * 1024;

function parseBody(chunks: Buffer[]): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined; // YAML apply bodies or binary: not needed
  }
}

export interface RecordingProxy {
  url: string;
  requests: RecordedRequest[];
  close(): Promise<void>;
}

export async function startRecordingProxy(upstream: string, caPem: string): Promise<RecordingProxy> {
  const target = new URL(upstream);
  const agent = new https.Agent({ ca: caPem, keepAlive: true });
  const requests: RecordedRequest[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const write = req.method !== 'GET' && req.method !== 'HEAD';
    if (write) {
      req.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size <= MAX_BODY) chunks.push(chunk);
      });
    }
    const upstreamReq = https.request(
      {
        protocol: 'https:',
        hostname: target.hostname,
        port: target.port,
        path: req.url,
        method: req.method,
        headers: { ...req.headers, host: target.host },
        agent,
      },
      (upstreamRes) => {
        const body = write && size <= MAX_BODY ? parseBody(chunks) : undefined;
        requests.push({ method: req.method ?? 'GET', url: req.url ?? '/', status: upstreamRes.statusCode ?? 0, ...(body ? { body } : {}) });
        res.writeHead(upstreamRes.statusCode ?? 502, upstreamRes.headers);
        upstreamRes.pipe(res);
      },
    );
    upstreamReq.on('error', (err) => {
      requests.push({ method: req.method ?? 'GET', url: req.url ?? '/', status: 502 });
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
      res.end(String(err));
    });
    req.pipe(upstreamReq);
    res.on('close', () => upstreamReq.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      agent.destroy();
    },
  };
}
