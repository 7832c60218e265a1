// A tiny Prometheus text-format registry (counters, gauges, histograms with
// labels) — enough for /metrics without another dependency.

export type Labels = Record<string, string>;

function labelKey(labels: Labels | undefined): string {
  if (!labels) return '';
  return Object.keys(labels)
    .sort()
    .map((k) => `${k}=${JSON.stringify(String(labels[k]))}`)
    .join(',');
}

function escapeLabelValue(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

function renderLabels(labels: Labels | undefined, extra?: Labels): string {
  const all = { ...(labels ?? {}), ...(extra ?? {}) };
  const keys = Object.keys(all).sort();
  if (keys.length === 0) return '';
  return `{${keys.map((k) => `${k}="${escapeLabelValue(String(all[k]))}"`).join(',')}}`;
}

function formatNumber(v: number): string {
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  if (Number.isNaN(v)) return 'NaN';
  return String(v);
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;

abstract class Metric {
  constructor(
    readonly name: string,
    readonly help: string,
    readonly type: 'counter' | 'gauge' | 'histogram',
  ) {
    if (!METRIC_NAME.test(name)) throw new Error(`invalid metric name ${name}`);
  }
  abstract samples(): string[];
  render(): string {
    return [`# HELP ${this.name} ${this.help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}`, `# TYPE ${this.name} ${this.type}`, ...this.samples()].join('\n');
  }
}

export class Counter extends Metric {
  readonly #values = new Map<string, { labels: Labels | undefined; value: number }>();
  constructor(name: string, help: string) {
    super(name, help, 'counter');
  }
  inc(labels?: Labels, by = 1): void {
    if (by < 0) throw new Error('a counter only goes up');
    const key = labelKey(labels);
    const entry = this.#values.get(key) ?? { labels, value: 0 };
    entry.value += by;
    this.#values.set(key, entry);
  }
  get(labels?: Labels): number {
    return this.#values.get(labelKey(labels))?.value ?? 0;
  }
  samples(): string[] {
    return [...this.#values.values()].map((e) => `${this.name}${renderLabels(e.labels)} ${formatNumber(e.value)}`);
  }
}

export class Gauge extends Metric {
  readonly #values = new Map<string, { labels: Labels | undefined; value: number }>();
  #collect: (() => void) | undefined;
  constructor(name: string, help: string) {
    super(name, help, 'gauge');
  }
  set(labels: Labels | undefined, value: number): void {
    this.#values.set(labelKey(labels), { labels, value });
  }
  inc(labels?: Labels, by = 1): void {
    this.set(labels, this.get(labels) + by);
  }
  dec(labels?: Labels, by = 1): void {
    this.set(labels, this.get(labels) - by);
  }
  get(labels?: Labels): number {
    return this.#values.get(labelKey(labels))?.value ?? 0;
  }
  /** A callback run before each render, to sample values like queue depth. */
  onCollect(fn: () => void): void {
    const previous = this.#collect;
    this.#collect = () => {
      previous?.();
      fn();
    };
  }
  samples(): string[] {
    this.#collect?.();
    return [...this.#values.values()].map((e) => `${this.name}${renderLabels(e.labels)} ${formatNumber(e.value)}`);
  }
}

export const DEFAULT_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

export class Histogram extends Metric {
  readonly #series = new Map<string, { labels: Labels | undefined; counts: number[]; sum: number; count: number }>();
  readonly buckets: number[];
  constructor(name: string, help: string, buckets: number[] = DEFAULT_BUCKETS) {
    super(name, help, 'histogram');
    this.buckets = [...buckets].sort((a, b) => a - b);
  }
  observe(labels: Labels | undefined, value: number): void {
    const key = labelKey(labels);
    const s = this.#series.get(key) ?? { labels, counts: this.buckets.map(() => 0), sum: 0, count: 0 };
    this.buckets.forEach((le, i) => {
      if (value <= le) s.counts[i] = (s.counts[i] ?? 0) + 1;
    });
    s.sum += value;
    s.count += 1;
    this.#series.set(key, s);
  }
  /** Starts a timer; calling the result observes the elapsed seconds. */
  startTimer(labels?: Labels, now: () => number = () => performance.now()): () => number {
    const start = now();
    return () => {
      const seconds = (now() - start) / 1000;
      this.observe(labels, seconds);
      return seconds;
    };
  }
  count(labels?: Labels): number {
    return this.#series.get(labelKey(labels))?.count ?? 0;
  }
  samples(): string[] {
    const out: string[] = [];
    for (const s of this.#series.values()) {
      this.buckets.forEach((le, i) => out.push(`${this.name}_bucket${renderLabels(s.labels, { le: formatNumber(le) })} ${s.counts[i] ?? 0}`));
      out.push(`${this.name}_bucket${renderLabels(s.labels, { le: '+Inf' })} ${s.count}`);
      out.push(`${this.name}_sum${renderLabels(s.labels)} ${formatNumber(s.sum)}`);
      out.push(`${this.name}_count${renderLabels(s.labels)} ${s.count}`);
    }
    return out;
  }
}

export class MetricsRegistry {
  readonly #metrics = new Map<string, Metric>();

  counter(name: string, help: string): Counter {
    return this.#register(name, () => new Counter(name, help), Counter);
  }
  gauge(name: string, help: string): Gauge {
    return this.#register(name, () => new Gauge(name, help), Gauge);
  }
  histogram(name: string, help: string, buckets?: number[]): Histogram {
    return this.#register(name, () => new Histogram(name, help, buckets), Histogram);
  }

  /** The Prometheus text exposition (format 0.0.4). */
  render(): string {
    const parts = [...this.#metrics.values()].map((m) => m.render());
    return parts.length ? `${parts.join('\n')}\n` : '';
  }

  #register<M extends Metric>(name: string, make: () => M, type: abstract new (...args: never[]) => M): M {
    const existing = this.#metrics.get(name);
    if (existing) {
      if (!(existing instanceof type)) throw new Error(`metric ${name} already registered with another type`);
      return existing;
    }
    const m = make();
    this.#metrics.set(name, m);
    return m;
  }
}

/** The metrics every part of the operator records. */
export function createOperatorMetrics(registry: MetricsRegistry) {
  return {
    registry,
    reconcileTotal: registry.counter('vault_autopilot_reconcile_total', 'Reconciles by kind and result (success, error).'),
    reconcileErrors: registry.counter('vault_autopilot_reconcile_errors_total', 'Failed reconciles by kind.'),
    reconcileDuration: registry.histogram('vault_autopilot_reconcile_duration_seconds', 'Reconcile duration by kind.'),
    queueDepth: registry.gauge('vault_autopilot_queue_depth', 'Keys waiting in the work queue, by kind.'),
    inFlight: registry.gauge('vault_autopilot_reconciles_in_flight', 'Reconciles running now, by kind.'),
    watchErrors: registry.counter('vault_autopilot_watch_errors_total', 'Watch connection problems by resource.'),
    vaultRequests: registry.counter('vault_autopilot_vault_requests_total', 'Requests to Vault by method (and status class when known).'),
    webhookAdmissions: registry.counter('vault_autopilot_webhook_admissions_total', 'Admission reviews by path and result (allowed, denied, error).'),
    webhookLatency: registry.histogram('vault_autopilot_webhook_latency_seconds', 'Admission review latency by path.', [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]),
  };
}

export type OperatorMetrics = ReturnType<typeof createOperatorMetrics>;

/** The process-wide registry and metrics: other modules import `metrics` and record into it. */
export const defaultRegistry = new MetricsRegistry();
export const metrics: OperatorMetrics = createOperatorMetrics(defaultRegistry);
