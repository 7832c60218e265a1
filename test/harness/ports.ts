// Free TCP ports on loopback. Ports are drawn below Linux's ephemeral range
// (32768+) so that a port we picked is not meanwhile taken as the source port
// of some client's outgoing connection.
import { createServer } from 'node:net';

const LOW = 20000;
const HIGH = 32000;
const handedOut = new Set<number>();

function canListen(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen({ port, host, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/** A port nothing listens on, on 127.0.0.1 and on all interfaces (local-kms binds 0.0.0.0). */
export async function freePort(opts: { alsoFree?: number[] } = {}): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = LOW + Math.floor(Math.random() * (HIGH - LOW));
    const wanted = [port, ...(opts.alsoFree ?? []).map((offset) => port + offset)];
    if (wanted.some((p) => handedOut.has(p))) continue;
    let ok = true;
    for (const p of wanted) {
      if (!(await canListen(p, '127.0.0.1')) || !(await canListen(p, '0.0.0.0'))) {
        ok = false;
        break;
      }
    }
    if (!ok) continue;
    for (const p of wanted) handedOut.add(p);
    return port;
  }
  throw new Error('no free TCP port found');
}
