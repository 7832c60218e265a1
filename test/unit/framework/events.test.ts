// EventRecorder against a scripted HTTP server: aggregation, expiry, redaction, never throwing.
import test from 'ava';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { KubeConfig } from '@kubernetes/client-node';
import { EventRecorder } from '../../../operator/framework/events.js';
import { RawKube } from '../../../operator/framework/kube.js';
import { FakeClock } from '../../../operator/framework/clock.js';
import { createLogger, markSecret, REDACTED } from '../../../operator/framework/logger.js';

interface Seen {
  method: string;
  path: string;
  body: { metadata: { name: string }; message: string; count: number } & Record<string, unknown>;
}

async function fakeApi(answer: (req: Seen) => number = () => 201) {
  const seen: Seen[] = [];
  const server = http.createServer((req, res) => {
    let data = '';
    req.on('data', (c) => (data += c));
    req.on('end', () => {
      const s: Seen = { method: req.method ?? '', path: req.url ?? '', body: data ? JSON.parse(data) : {} };
      seen.push(s);
      const code = answer(s);
      res.writeHead(code, { 'content-type': 'application/json' }).end(JSON.stringify(code < 300 ? s.body : { kind: 'Status', code }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'c', server: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, skipTLSVerify: true }],
    users: [{ name: 'u', token: 't' }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  });
  return { seen, raw: new RawKube(kc), close: () => new Promise<void>((r) => server.close(() => r())) };
}

const vault = { apiVersion: 'vault.autopilot.dev/v1alpha1', kind: 'Vault', metadata: { name: 'v', namespace: 'team-a', uid: 'u-1', resourceVersion: '7' } };
const logLines: string[] = [];
const logger = createLogger({ stream: new Writable({ write: (c, _e, cb) => (logLines.push(String(c)), cb()) }) });

test('first event creates a core/v1 Event; a repeat within the window bumps count; after the window a new one', async (t) => {
  const api = await fakeApi();
  t.teardown(api.close);
  const clock = new FakeClock(new Date('2026-04-01T00:00:00Z'));
  const rec = new EventRecorder({ raw: api.raw, component: 'vault-autopilot', clock, logger, aggregateWindowMs: 60_000 });
  await rec.record(vault, 'Warning', 'VaultUnreachable', 'cannot reach Vault');
  await clock.advance(10_000);
  await rec.record(vault, 'Warning', 'VaultUnreachable', 'cannot reach Vault');
  await rec.record(vault, 'Warning', 'VaultUnreachable', 'cannot reach Vault');
  await rec.record(vault, 'Normal', 'Configured', 'applied');
  await clock.advance(120_000);
  await rec.record(vault, 'Warning', 'VaultUnreachable', 'cannot reach Vault');
  t.deepEqual(
    api.seen.map((s) => s.method),
    ['POST', 'PATCH', 'PATCH', 'POST', 'POST'],
  );
  const created = api.seen[0]!;
  t.is(created.path, '/api/v1/namespaces/team-a/events');
  t.like(created.body, {
    involvedObject: { kind: 'Vault', name: 'v', namespace: 'team-a', uid: 'u-1', apiVersion: 'vault.autopilot.dev/v1alpha1' },
    reason: 'VaultUnreachable',
    type: 'Warning',
    count: 1,
    source: { component: 'vault-autopilot' },
    firstTimestamp: '2026-04-01T00:00:00Z',
  });
  t.is(api.seen[1]!.path, `/api/v1/namespaces/team-a/events/${created.body.metadata.name}`);
  t.deepEqual(api.seen[1]!.body, { count: 2, lastTimestamp: '2026-04-01T00:00:10Z' });
  t.is(api.seen[2]!.body.count, 3);
});

test('an expired Event (404 on patch) is created again', async (t) => {
  let patches = 0;
  const api = await fakeApi((s) => (s.method === 'PATCH' && ++patches === 1 ? 404 : 201));
  t.teardown(api.close);
  const rec = new EventRecorder({ raw: api.raw, component: 'c', clock: new FakeClock(), logger });
  await rec.record(vault, 'Normal', 'R', 'm');
  await rec.record(vault, 'Normal', 'R', 'm');
  t.deepEqual(api.seen.map((s) => s.method), ['POST', 'PATCH', 'POST']);
  t.is(api.seen[2]!.body.count, 1);
});

test('messages are redacted and truncated', async (t) => {
  const api = await fakeApi();
  t.teardown(api.close);
  markSecret('s.events-test-token');
  const rec = new EventRecorder({ raw: api.raw, component: 'c', clock: new FakeClock(), logger });
  await rec.record(vault, 'Warning', 'Leak', 'login with s.events-test-token failed');
  await rec.record(vault, 'Warning', 'Long', 'x'.repeat(5000));
  t.is(api.seen[0]!.body.message, `login with ${REDACTED} failed`);
  t.is(api.seen[1]!.body.message.length, 1024);
});

test('a failing apiserver does not make record() throw; it logs a warning', async (t) => {
  const api = await fakeApi(() => 500);
  t.teardown(api.close);
  const rec = new EventRecorder({ raw: api.raw, component: 'c', clock: new FakeClock(), logger });
  await t.notThrowsAsync(rec.record(vault, 'Warning', 'X', 'y'));
  t.true(logLines.some((l) => l.includes('could not record event')));
});

test('cluster-scoped objects get their Events in "default"', async (t) => {
  const api = await fakeApi();
  t.teardown(api.close);
  const rec = new EventRecorder({ raw: api.raw, component: 'c', clock: new FakeClock(), logger });
  await rec.record({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'n1', uid: 'u2' } }, 'Normal', 'R', 'm');
  t.is(api.seen[0]!.path, '/api/v1/namespaces/default/events');
});
