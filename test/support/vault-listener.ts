// An address that answers like a sealed, initialised Vault and records every
// request (method, URL, headers, body): what a tenant would run to catch the
// operator's credentials or unseal keys. Tenant tests assert what reached it.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export class VaultListener {
  readonly requests: string[] = [];
  readonly server: Server;
  constructor() {
    this.server = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        this.requests.push(`${req.method} ${req.url} ${JSON.stringify(req.headers)} ${body}`);
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ type: 'shamir', initialized: true, sealed: true, t: 1, n: 1, progress: 0 }));
      });
    });
  }
  /** Listens on 127.0.0.1; returns its http:// address. */
  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }
  stop(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
