// ResilientWatch directly against the REAL kube-apiserver: after the server
// ends each watch (short timeoutSeconds), the next one resumes from the last
// resourceVersion — no relist, no replayed events.
import test from 'ava';
import { Writable } from 'node:stream';
import { CoreV1Api, type KubernetesObject } from '@kubernetes/client-node';
import { eventually, WITHIN, useTestEnv } from '../../harness/index.js';
import { createLogger, RawKube, ResilientWatch, systemClock, type RawRequest, type WatchEventType } from '../../../operator/framework/index.js';
import { WIDGET } from './fixtures/widget-controller.js';
import { applyWidgetCrd, widgets } from './widgets.js';

const env = useTestEnv(test, { vault: false, kms: false });

class CountingRawKube extends RawKube {
  watches: Array<string | undefined> = [];
  lists = 0;
  override stream(req: Omit<RawRequest, 'method' | 'body' | 'contentType'>) {
    this.watches.push(req.query?.resourceVersion === undefined ? undefined : String(req.query.resourceVersion));
    return super.stream(req);
  }
  override request<T>(req: RawRequest): Promise<T> {
    if (req.method === 'GET') this.lists++;
    return super.request<T>(req);
  }
}

test.serial('watches end every 2 s and resume from the last resourceVersion without relisting or replaying', async (t) => {
  await applyWidgetCrd(env());
  const ns = await env().namespace('fw-resume');
  const w = widgets(env().kubeConfig(), ns);
  await w.create('existing', { value: '0' });
  const raw = new CountingRawKube(env().kubeConfig());
  const logs: string[] = [];
  const events: Array<[WatchEventType, string]> = [];
  const watch = new ResilientWatch({
    ...WIDGET,
    namespace: ns,
    raw,
    clock: systemClock,
    logger: createLogger({ stream: new Writable({ write: (c, _e, cb) => (logs.push(String(c)), cb()) }) }),
    watchTimeoutSeconds: 2,
    onEvent: (type, obj: KubernetesObject) => events.push([type, obj.metadata?.name ?? '']),
  });
  t.teardown(() => watch.stop());
  watch.start();
  await watch.waitForSync();
  await w.create('a', { value: '1' });
  // wait for the watch itself to be re-opened twice (server-side timeout 2 s), not for a fixed time
  const opened = raw.watches.length;
  await eventually(async () => {
    if (raw.watches.length < opened + 2) throw new Error(`${raw.watches.length - opened} re-opened watches so far`);
  }, { timeoutMs: 60_000 });
  await w.create('b', { value: '1' });
  await eventually(async () => {
    if (!events.some(([, name]) => name === 'b')) throw new Error('b not seen yet');
  }, WITHIN.reconcile);
  t.deepEqual(events, [
    ['ADDED', 'existing'],
    ['ADDED', 'a'],
    ['ADDED', 'b'],
  ]);
  t.true(raw.watches.length >= 3, `${raw.watches.length} watch requests`);
  t.is(raw.lists, 1, 'listed once');
  t.false(logs.some((l) => l.includes('relisting')));
  // Every watch after the first resumes from a resourceVersion at least as new as the last one.
  const rvs = raw.watches.map(Number);
  rvs.forEach((rv, i) => t.true(i === 0 || rv >= (rvs[i - 1] ?? 0), `watch ${i} from ${rv}`));
  t.true((rvs.at(-1) ?? 0) >= Number(watch.get(ns, 'a')?.metadata?.resourceVersion), 'resumed past the event it saw');
});

test.serial('core-group resources (/api/v1) list and watch too; list items get apiVersion and kind', async (t) => {
  const ns = await env().namespace('fw-core');
  const core = env().kubeConfig().makeApiClient(CoreV1Api);
  await core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'listed' }, data: { a: '1' } } });
  const events: Array<[WatchEventType, string, string | undefined, string | undefined]> = [];
  const watch = new ResilientWatch({
    group: '',
    version: 'v1',
    plural: 'configmaps',
    namespace: ns,
    raw: new RawKube(env().kubeConfig()),
    clock: systemClock,
    logger: createLogger({ stream: new Writable({ write: (_c, _e, cb) => cb() }) }),
    onEvent: (type, obj) => events.push([type, obj.metadata?.name ?? '', obj.apiVersion, obj.kind]),
  });
  t.teardown(() => watch.stop());
  watch.start();
  await watch.waitForSync();
  await core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'watched' }, data: { a: '1' } } });
  await core.deleteNamespacedConfigMap({ namespace: ns, name: 'listed' });
  await eventually(async () => {
    if (!events.some(([type]) => type === 'DELETED')) throw new Error(JSON.stringify(events));
  }, WITHIN.reconcile);
  // (no controller-manager here, so no kube-root-ca.crt; filter it anyway for real clusters)
  const mine = events.filter(([, name]) => name !== 'kube-root-ca.crt');
  t.deepEqual(mine, [
    ['ADDED', 'listed', 'v1', 'ConfigMap'],
    ['ADDED', 'watched', 'v1', 'ConfigMap'],
    ['DELETED', 'listed', 'v1', 'ConfigMap'],
  ]);
});
