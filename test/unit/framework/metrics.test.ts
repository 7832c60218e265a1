import test from 'ava';
import { MetricsRegistry, createOperatorMetrics } from '../../../operator/framework/metrics.js';

test('counters render with sorted, escaped labels and accumulate per label set', (t) => {
  const r = new MetricsRegistry();
  const c = r.counter('x_total', 'Things.');
  c.inc({ kind: 'Vault', result: 'ok' });
  c.inc({ result: 'ok', kind: 'Vault' }, 2);
  c.inc({ kind: 'a"b\\c\nd' });
  t.is(c.get({ kind: 'Vault', result: 'ok' }), 3);
  t.is(
    r.render(),
    ['# HELP x_total Things.', '# TYPE x_total counter', 'x_total{kind="Vault",result="ok"} 3', 'x_total{kind="a\\"b\\\\c\\nd"} 1', ''].join('\n'),
  );
  t.throws(() => c.inc(undefined, -1));
});

test('gauges set/inc/dec and sample through onCollect at render time', (t) => {
  const r = new MetricsRegistry();
  const g = r.gauge('depth', 'Queue depth.');
  let depth = 4;
  g.onCollect(() => g.set(undefined, depth));
  t.regex(r.render(), /^depth 4$/m);
  depth = 7;
  t.regex(r.render(), /^depth 7$/m);
  const h = r.gauge('h', 'x');
  h.inc({ a: '1' });
  h.inc({ a: '1' });
  h.dec({ a: '1' });
  t.is(h.get({ a: '1' }), 1);
});

test('histograms have cumulative buckets, +Inf, sum and count', (t) => {
  const r = new MetricsRegistry();
  const h = r.histogram('d_seconds', 'Durations.', [0.1, 1]);
  h.observe({ kind: 'K' }, 0.05);
  h.observe({ kind: 'K' }, 0.5);
  h.observe({ kind: 'K' }, 5);
  const text = r.render();
  t.regex(text, /^d_seconds_bucket\{kind="K",le="0.1"\} 1$/m);
  t.regex(text, /^d_seconds_bucket\{kind="K",le="1"\} 2$/m);
  t.regex(text, /^d_seconds_bucket\{kind="K",le="\+Inf"\} 3$/m);
  t.regex(text, /^d_seconds_sum\{kind="K"\} 5.55$/m);
  t.regex(text, /^d_seconds_count\{kind="K"\} 3$/m);
  t.is(h.count({ kind: 'K' }), 3);
});

test('startTimer observes elapsed seconds from an injectable clock', (t) => {
  const r = new MetricsRegistry();
  const h = r.histogram('t_seconds', 'x', [1, 2]);
  let now = 1000;
  const stop = h.startTimer({ p: '/mutate' }, () => now);
  now = 2500;
  t.is(stop(), 1.5);
  t.regex(r.render(), /t_seconds_bucket\{le="2",p="\/mutate"\} 1/);
});

test('registering a name twice returns the same metric; another type is an error; bad names are rejected', (t) => {
  const r = new MetricsRegistry();
  t.is(r.counter('a', 'x'), r.counter('a', 'x'));
  t.throws(() => r.gauge('a', 'x'));
  t.throws(() => r.counter('bad-name', 'x'));
});

test('the operator metric set exposes the hooks other modules use', (t) => {
  const m = createOperatorMetrics(new MetricsRegistry());
  m.vaultRequests.inc({ method: 'GET' });
  m.webhookAdmissions.inc({ path: '/mutate-pods', result: 'allowed' });
  m.webhookLatency.observe({ path: '/mutate-pods' }, 0.002);
  const text = m.registry.render();
  t.regex(text, /vault_autopilot_vault_requests_total\{method="GET"\} 1/);
  t.regex(text, /vault_autopilot_webhook_admissions_total\{path="\/mutate-pods",result="allowed"\} 1/);
  t.regex(text, /vault_autopilot_webhook_latency_seconds_count\{path="\/mutate-pods"\} 1/);
});
