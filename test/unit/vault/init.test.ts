import test from 'ava';
import { OPERATOR_POLICY, initParameters, needsRenewal } from '../../../operator/vault/init.js';

test('init defaults to 5 shares / threshold 3 without the root token', (t) => {
  t.deepEqual(initParameters(undefined), { secretShares: 5, secretThreshold: 3, storeRootToken: false });
  t.deepEqual(initParameters({ options: { secretShares: 1 } }), { secretShares: 1, secretThreshold: 1, storeRootToken: false });
});

test('impossible thresholds are rejected with the field name', (t) => {
  const tooHigh = initParameters({ options: { secretShares: 2, secretThreshold: 3 } });
  t.true('error' in tooHigh && /secretThreshold/.test(tooHigh.error));
  const one = initParameters({ options: { secretShares: 3, secretThreshold: 1 } });
  t.true('error' in one);
});

test('a periodic token is renewed only once less than half its period is left', (t) => {
  t.false(needsRenewal(1000, 1000));
  t.true(needsRenewal(400, 1000));
  t.false(needsRenewal(0, 0));
});

test('the operator policy cannot read secrets', (t) => {
  t.notRegex(OPERATOR_POLICY, /path "secret/);
  t.notRegex(OPERATOR_POLICY, /path "\*"/);
});

test('a generated root token is decoded from base64(token XOR otp)', async (t) => {
  const { decodeOtpToken } = await import('../../../operator/vault/init.js');
  const token = 'hvs.ABCDEFGHIJKLMNOPQRSTUVWX';
  const otp = 'q2w3e4r5t6y7u8i9o0p1a2s3d4f5'.slice(0, token.length);
  const encoded = Buffer.from(Buffer.from(token).map((b, i) => b ^ otp.charCodeAt(i))).toString('base64').replace(/=+$/, '');
  t.is(decodeOtpToken(encoded, otp), token);
  t.throws(() => decodeOtpToken(encoded, `${otp}x`), { message: /length/ });
});

test('sys/init waits far longer than the connection timeout: a slow init still delivers its keys', async (t) => {
  const { createServer } = await import('node:http');
  const { VaultClient } = await import('../../../operator/vault/client.js');
  const { initVault, INIT_TIMEOUT_MS } = await import('../../../operator/vault/init.js');
  t.true(INIT_TIMEOUT_MS >= 60_000);
  // a local Vault stand-in answering sys/init after 1.5 s (a busy node); every other request would time out at 300 ms
  const server = createServer((req, res) => {
    setTimeout(() => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ keys: ['k1', 'k2'], keys_base64: ['a1', 'a2'], root_token: 'hvs.root' }));
    }, req.url === '/v1/sys/init' ? 1500 : 1000);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => server.close());
  const { port } = server.address() as { port: number };
  const client = new VaultClient({ address: `http://127.0.0.1:${port}`, auth: { method: 'token', token: 't' }, timeoutMs: 300 });
  await t.throwsAsync(client.request('GET', 'sys/health', undefined, { token: null }), { message: /unreachable/ }, 'the connection timeout applies elsewhere');
  const result = await initVault(client, { secretShares: 2, secretThreshold: 2, storeRootToken: true });
  t.deepEqual(result.keys.map((k) => k.reveal()), ['k1', 'k2']);
  t.is(result.rootToken.reveal(), 'hvs.root');
});
