import test from 'ava';
import { createServer } from 'node:net';
import { freePort } from '../../harness/ports.js';

test('freePort hands out distinct ports below the ephemeral range that can be listened on', async (t) => {
  const ports = [await freePort(), await freePort(), await freePort()];
  t.is(new Set(ports).size, 3);
  for (const port of ports) {
    t.true(port >= 20000 && port < 32768);
    await new Promise<void>((resolve, reject) => {
      const server = createServer();
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => server.close(() => resolve()));
    });
  }
});
