// The operator sends tokens and unseal keys over this connection: the server
// certificate is always verified, whatever NODE_TLS_REJECT_UNAUTHORIZED says.
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import test from 'ava';
import { issueTls } from '../../../operator/controllers/vault/tls.js';
import { VaultClient, VaultError } from '../../../operator/vault/client.js';

const pair = issueTls('vault', { dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] }, undefined, { now: new Date(), caValidityDays: 1, certValidityDays: 1 });
const other = issueTls('other', { dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] }, undefined, { now: new Date(), caValidityDays: 1, certValidityDays: 1 });
let server: Server;
let address = '';
let requests = 0;

test.before(async () => {
  server = createServer({ cert: pair.serving.cert, key: pair.serving.key }, (_req, res) => {
    requests++;
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ type: 'shamir', initialized: true, sealed: true, t: 1, n: 1, progress: 0 }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  address = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
test.after.always(() => new Promise<void>((resolve) => server.close(() => resolve())));

test.serial('the right CA: the request goes through', async (t) => {
  const status = await new VaultClient({ address, caCert: pair.ca.cert, auth: { method: 'token', token: 't' } }).sealStatus();
  t.true(status.sealed);
});

test.serial('another CA or the system roots: refused before any request is sent, even with NODE_TLS_REJECT_UNAUTHORIZED=0', async (t) => {
  const saved = process.env.NODE_TLS_REJECT_UNAUTHORIZED;
  process.env.NODE_TLS_REJECT_UNAUTHORIZED = '0';
  try {
    const seen = requests;
    for (const caCert of [other.ca.cert, undefined]) {
      const client = new VaultClient({ address, ...(caCert ? { caCert } : {}), auth: { method: 'token', token: 't' }, timeoutMs: 3000 });
      const err = await t.throwsAsync(client.sealStatus());
      t.true(err instanceof VaultError, String(err));
    }
    t.is(requests, seen, 'the server never saw a request');
  } finally {
    if (saved === undefined) delete process.env.NODE_TLS_REJECT_UNAUTHORIZED;
    else process.env.NODE_TLS_REJECT_UNAUTHORIZED = saved;
  }
});
