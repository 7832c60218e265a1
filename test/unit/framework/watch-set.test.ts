// NamespacedWatchSet: an operator confined to a list of namespaces lists and
// watches each of them, never the cluster-wide path (which its RBAC refuses).
import test from 'ava';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import { NamespacedWatchSet } from '../../../operator/framework/watch-set.js';
import { RawKube } from '../../../operator/framework/kube.js';
import { systemClock } from '../../../operator/framework/clock.js';
import { createLogger } from '../../../operator/framework/logger.js';
import { Writable } from 'node:stream';

test('one list+watch per namespace, no cluster-wide request; get/list/synced span the set', async (t) => {
  const paths: string[] = [];
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    paths.push(`${url.pathname}${url.searchParams.get('watch') ? ' watch' : ''}`);
    const ns = /\/namespaces\/([^/]+)\//.exec(url.pathname)?.[1];
    if (!ns) return void res.writeHead(403).end('{"kind":"Status","code":403}');
    if (url.searchParams.get('watch')) {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.flushHeaders();
      return; // stays open until stopped
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({
      kind: 'ThingList', metadata: { resourceVersion: '5' }, items: [{ metadata: { name: `in-${ns}`, namespace: ns, resourceVersion: '1' } }],
    }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'c', server: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, skipTLSVerify: true }],
    users: [{ name: 'u', token: 't' }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  });
  const seen: string[] = [];
  const set = new NamespacedWatchSet({
    group: 'g', version: 'v1', plural: 'things', raw: new RawKube(kc), clock: systemClock,
    logger: createLogger({ stream: new Writable({ write: (_c, _e, cb) => cb() }) }),
    onEvent: (type, obj) => seen.push(`${type} ${obj.metadata?.namespace}/${obj.metadata?.name}`),
  }, ['b', 'a', 'b']);
  t.false(set.synced);
  set.start();
  await set.waitForSync();
  t.true(set.synced);
  t.deepEqual(seen.sort(), ['ADDED a/in-a', 'ADDED b/in-b']);
  t.is(set.get('a', 'in-a')?.metadata?.name, 'in-a');
  t.is(set.get('a', 'in-b'), undefined);
  t.is(set.get(undefined, 'in-a'), undefined);
  t.deepEqual(set.list().map((o) => o.metadata?.name).sort(), ['in-a', 'in-b']);
  t.regex(set.id, /things\.g\/v1 in b,a/);
  await set.stop();
  server.closeAllConnections();
  server.close();
  t.true(paths.length >= 2);
  t.true(paths.every((p) => /^\/apis\/g\/v1\/namespaces\/(a|b)\/things/.test(p)), paths.join(', '));
  t.is(paths.filter((p) => !p.endsWith('watch')).length, 2, 'one list per namespace (duplicates dropped)');
});

test('at least one namespace', (t) => {
  t.throws(() => new NamespacedWatchSet({ group: '', version: 'v1', plural: 'x', raw: {} as RawKube, clock: systemClock, logger: createLogger({}), onEvent: () => undefined }, []));
});
