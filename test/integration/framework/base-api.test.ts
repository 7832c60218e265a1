// The base class's API (watchResource + handleResourceFinalizer +
// setResourceFinalizers), as hardened by AutopilotOperator, against the REAL
// kube-apiserver: finalizer added and honoured, a failed patch THROWS, a
// throwing handler is logged instead of swallowed.
import test from 'ava';
import { Writable } from 'node:stream';
import type { ResourceEvent, ResourceMeta } from '@dot-i/k8s-operator';
import { eventually, WITHIN, useTestEnv } from '../../harness/index.js';
import { AutopilotOperator, createLogger, createOperatorMetrics, MetricsRegistry } from '../../../operator/framework/index.js';
import { WIDGET, WIDGET_FINALIZER } from './fixtures/widget-controller.js';
import { applyWidgetCrd, widgets } from './widgets.js';

const env = useTestEnv(test, { vault: false, kms: false });
const logLines: string[] = [];
let operator: BaseStyle | undefined;

class BaseStyle extends AutopilotOperator {
  handled: string[] = [];
  cleanups: string[] = [];
  lastMeta = new Map<string, ResourceMeta>();
  constructor(
    private readonly ns: string,
    opts: ConstructorParameters<typeof AutopilotOperator>[0],
  ) {
    super(opts);
  }
  protected override async init(): Promise<void> {
    await this.watchResource(
      WIDGET.group,
      WIDGET.version,
      WIDGET.plural,
      async (event: ResourceEvent) => {
        this.lastMeta.set(event.meta.name, event.meta);
        if (event.meta.name === 'explodes') throw new Error('handler exploded on purpose');
        if (await this.handleResourceFinalizer(event, WIDGET_FINALIZER, async (e) => void this.cleanups.push(e.meta.name))) return;
        this.handled.push(event.meta.name);
      },
      this.ns,
    );
  }
  setFinalizers(meta: ResourceMeta, finalizers: string[]) {
    return this.setResourceFinalizers(meta, finalizers);
  }
}

test.after.always(async () => {
  await operator?.stop();
});

test.serial('watchResource + handleResourceFinalizer: add, honour on delete (cleanup once), failed patch throws, handler errors logged', async (t) => {
  await applyWidgetCrd(env());
  const ns = await env().namespace('fw-base');
  const w = widgets(env().kubeConfig(), ns);
  const op = new BaseStyle(ns, {
    kubeConfig: env().kubeConfig(),
    logger: createLogger({ stream: new Writable({ write: (c, _e, cb) => (logLines.push(String(c)), cb()) }) }),
    metrics: createOperatorMetrics(new MetricsRegistry()),
  });
  operator = op;
  await op.start();
  await op.waitForSync();

  await w.create('b1', { value: '1' });
  await eventually(async () => {
    if (!(await w.get('b1')).metadata?.finalizers?.includes(WIDGET_FINALIZER)) throw new Error('no finalizer');
    if (!op.handled.includes('b1')) throw new Error('not handled after the finalizer was added');
  }, WITHIN.reconcile);

  // A patch carrying a stale resourceVersion is a 409 that must surface.
  const meta = op.lastMeta.get('b1') as ResourceMeta;
  await w.patchSpec('b1', { value: '2' });
  await t.throwsAsync(op.setFinalizers({ ...meta, resourceVersion: '1' }, []), { message: /409/ });
  t.true((await w.get('b1')).metadata?.finalizers?.includes(WIDGET_FINALIZER), 'finalizer untouched by the failed patch');

  await w.delete('b1');
  await eventually(async () => {
    try {
      await w.get('b1');
    } catch (err) {
      if ((err as { code?: number }).code === 404) return;
      throw err;
    }
    throw new Error('still there');
  }, WITHIN.reconcile);
  // the object is gone only after the cleanup released its finalizer
  t.deepEqual(op.cleanups, ['b1']);

  await w.create('explodes', { value: 'x' });
  await eventually(async () => {
    if (!logLines.some((l) => l.includes('watch handler failed') && l.includes('handler exploded on purpose'))) throw new Error('not logged');
  }, WITHIN.reconcile);
  // The watch keeps going after a handler error.
  await w.create('b2', { value: '1' });
  await eventually(async () => {
    if (!op.handled.includes('b2')) throw new Error('b2 not handled');
  }, WITHIN.reconcile);
  t.true(op.handled.includes('b2'), 'handled after the failing handler');
});
