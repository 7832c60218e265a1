// ResilientWatch against a scripted HTTP server: the cases a real apiserver
// cannot be made to produce on demand (410 mid-watch, errors, exact bookmarks).
import test from 'ava';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { KubeConfig, type KubernetesObject } from '@kubernetes/client-node';
import { ResilientWatch, diffRelist, type WatchEventType } from '../../../operator/framework/watch.js';
import { RawKube } from '../../../operator/framework/kube.js';
import { systemClock } from '../../../operator/framework/clock.js';
import { createLogger } from '../../../operator/framework/logger.js';
import { eventually, WITHIN } from '../../harness/eventually.js';

type Handler = (url: URL, res: http.ServerResponse) => void;

async function scriptedServer(script: Handler[]) {
  const requests: URL[] = [];
  let i = 0;
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    requests.push(url);
    const step = script[Math.min(i++, script.length - 1)];
    step?.(url, res);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'c', server: `http://127.0.0.1:${port}`, skipTLSVerify: true }],
    users: [{ name: 'u', token: 'test-token' }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  });
  return {
    requests,
    raw: new RawKube(kc),
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

const thing = (name: string, rv: string): KubernetesObject => ({ metadata: { name, namespace: 'ns', resourceVersion: rv } });
const list = (rv: string, items: KubernetesObject[]): Handler => (_u, res) => {
  res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ kind: 'ThingList', apiVersion: 'g/v1', metadata: { resourceVersion: rv }, items }));
};
const watchLines = (lines: unknown[], keepOpen = false): Handler => (_u, res) => {
  res.writeHead(200, { 'content-type': 'application/json' });
  res.flushHeaders();
  for (const l of lines) res.write(`${JSON.stringify(l)}\n`);
  if (!keepOpen) setTimeout(() => res.end(), 1100); // lived > 1 s: a normal server-side close
};
const status = (code: number): Handler => (_u, res) => {
  res.writeHead(code, { 'content-type': 'application/json' }).end(JSON.stringify({ kind: 'Status', code, reason: 'X', message: `status ${code}` }));
};

function makeWatch(raw: RawKube, logLines: string[] = []) {
  const events: Array<[WatchEventType, string, string | undefined]> = [];
  const stream = new Writable({
    write(c, _e, cb) {
      logLines.push(...String(c).split('\n').filter(Boolean));
      cb();
    },
  });
  const watch = new ResilientWatch({
    group: 'g',
    version: 'v1',
    plural: 'things',
    namespace: 'ns',
    raw,
    clock: systemClock,
    logger: createLogger({ stream }),
    backoff: { baseMs: 20, maxMs: 80 },
    watchTimeoutSeconds: 30,
    onEvent: (type, obj) => events.push([type, obj.metadata?.name ?? '', obj.metadata?.resourceVersion]),
  });
  return { watch, events };
}

/** Waits for the watch (under test) to have acted on what the scripted server sent. */
async function until(check: () => boolean) {
  await eventually(async () => {
    if (!check()) throw new Error('not yet');
  }, { ...WITHIN.reconcile, intervalMs: 10 });
}

test('lists, then watches with bookmarks, and resumes from the last resourceVersion after a close', async (t) => {
  const s = await scriptedServer([
    list('10', [thing('a', '1')]),
    watchLines([
      { type: 'MODIFIED', object: thing('a', '11') },
      { type: 'BOOKMARK', object: { metadata: { resourceVersion: '15' } } },
    ]),
    watchLines([{ type: 'ADDED', object: thing('b', '16') }], true),
  ]);
  const { watch, events } = makeWatch(s.raw);
  watch.start();
  await watch.waitForSync();
  await until(() => events.length >= 3);
  await watch.stop();
  await s.close();
  t.deepEqual(events, [
    ['ADDED', 'a', '1'],
    ['MODIFIED', 'a', '11'],
    ['ADDED', 'b', '16'],
  ]);
  const [listReq, w1, w2] = s.requests;
  t.is(listReq?.searchParams.get('watch'), null);
  t.is(w1?.searchParams.get('resourceVersion'), '10');
  t.is(w1?.searchParams.get('allowWatchBookmarks'), 'true');
  t.is(w2?.searchParams.get('resourceVersion'), '15', 'resumed from the bookmark');
  t.is(s.requests.length, 3, 'no second LIST');
  t.is(watch.get('ns', 'b')?.metadata?.resourceVersion, '16');
  t.is(watch.get('ns', 'a')?.apiVersion, 'g/v1', 'list items get apiVersion');
  t.is(watch.get('ns', 'a')?.kind, 'Thing', 'and kind');
});

test('410 Gone in the watch stream relists; vanished objects get DELETED, unchanged ones no event', async (t) => {
  const s = await scriptedServer([
    list('10', [thing('a', '1'), thing('b', '2')]),
    watchLines([{ type: 'ERROR', object: { kind: 'Status', code: 410, reason: 'Expired', message: 'too old resource version' } }], true),
    list('20', [thing('a', '1'), thing('c', '5')]),
    watchLines([], true),
  ]);
  const logs: string[] = [];
  const { watch, events } = makeWatch(s.raw, logs);
  watch.start();
  await until(() => s.requests.length >= 4);
  await watch.stop();
  await s.close();
  t.deepEqual(events, [
    ['ADDED', 'a', '1'],
    ['ADDED', 'b', '2'],
    ['ADDED', 'c', '5'],
    ['DELETED', 'b', '2'],
  ]);
  t.is(s.requests[3]?.searchParams.get('resourceVersion'), '20');
  t.deepEqual(watch.list().map((o) => o.metadata?.name).sort(), ['a', 'c']);
  t.true(logs.some((l) => l.includes('410 Gone')));
});

test('410 on connecting the watch also relists', async (t) => {
  const s = await scriptedServer([list('10', []), status(410), list('12', [thing('z', '12')]), watchLines([], true)]);
  const { watch, events } = makeWatch(s.raw);
  watch.start();
  await until(() => events.length >= 1 && s.requests.length >= 4);
  await watch.stop();
  await s.close();
  t.deepEqual(events, [['ADDED', 'z', '12']]);
});

test('errors back off exponentially (capped) and the watch recovers; nothing exits', async (t) => {
  const s = await scriptedServer([status(500), status(503), status(500), status(500), list('3', [thing('a', '3')]), watchLines([], true)]);
  const logs: string[] = [];
  const { watch, events } = makeWatch(s.raw, logs);
  t.false(watch.synced);
  watch.start();
  await watch.waitForSync();
  t.true(watch.synced);
  await watch.stop();
  await s.close();
  const delays = logs.filter((l) => l.includes('watch failed')).map((l) => (JSON.parse(l) as { retryInMs: number }).retryInMs);
  t.is(delays.length, 4);
  // base 20, doubling, cap 80; jitter only adds up to 20 %
  const expected = [20, 40, 80, 80];
  delays.forEach((d, i) => {
    const want = expected[i] ?? 0;
    t.true(d >= want && d <= Math.min(80, want * 1.2), `delay ${i}: ${d}`);
  });
  t.deepEqual(events, [['ADDED', 'a', '3']]);
});

test('a watch that closes at once without data counts as a failure (no hot loop)', async (t) => {
  const closeAtOnce: Handler = (_u, res) => {
    res.writeHead(200).end();
  };
  const s = await scriptedServer([list('1', []), closeAtOnce, closeAtOnce, closeAtOnce, watchLines([], true)]);
  const logs: string[] = [];
  const { watch } = makeWatch(s.raw, logs);
  watch.start();
  await until(() => s.requests.length >= 5);
  await watch.stop();
  await s.close();
  t.is(logs.filter((l) => l.includes('watch closed immediately')).length, 3);
});

test('stop() also aborts a watch whose server never answers', async (t) => {
  const silent: Handler = () => {};
  const s = await scriptedServer([list('1', []), silent]);
  const { watch } = makeWatch(s.raw);
  watch.start();
  await until(() => s.requests.length >= 2);
  const started = Date.now();
  await watch.stop();
  const requests = s.requests.length;
  // without the abort, stop() would wait for the watch's watchdog (30 s timeout + 30 s = 60 s):
  // the wall-clock bound is what tells the two apart, a quarter of that
  t.true(Date.now() - started < 15_000, `stopped after ${Date.now() - started} ms`);
  await s.close();
  t.is(s.requests.length, requests, 'the loop ended: no request after stop()');
});

test('stop() aborts an open watch and ends the loop', async (t) => {
  const s = await scriptedServer([list('1', []), watchLines([], true)]);
  const { watch } = makeWatch(s.raw);
  watch.start();
  await until(() => s.requests.length >= 2);
  const started = Date.now();
  await watch.stop();
  const requests = s.requests.length;
  // without the abort, stop() would wait for the watch's watchdog (30 s timeout + 30 s = 60 s):
  // the wall-clock bound is what tells the two apart, a quarter of that
  t.true(Date.now() - started < 15_000, `stopped after ${Date.now() - started} ms`);
  await s.close();
  t.is(s.requests.length, requests, 'the loop ended: no request after stop()');
});

test('diffRelist: added, changed, unchanged, vanished', (t) => {
  const cache = new Map<string, KubernetesObject>([
    ['ns/same', thing('same', '1')],
    ['ns/changed', thing('changed', '1')],
    ['ns/gone', thing('gone', '1')],
  ]);
  const changes = diffRelist(cache, [thing('same', '1'), thing('changed', '2'), thing('new', '3')]);
  t.deepEqual(
    changes.map((c) => [c.type, c.obj.metadata?.name]),
    [
      ['MODIFIED', 'changed'],
      ['ADDED', 'new'],
      ['DELETED', 'gone'],
    ],
  );
});
