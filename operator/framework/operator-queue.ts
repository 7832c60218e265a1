// Pieces of AutopilotOperator (operator.ts) kept apart to keep it short: its
// options, its work queue wired to the log and the metrics, and the signal
// handlers.
import type { KubeConfig } from '@kubernetes/client-node';
import type { AdmissionWebhookHost } from './admission.js';
import type { BackoffPolicy } from './backoff.js';
import type { Clock } from './clock.js';
import { parseQueueKey } from './controller-spec.js';
import type { LeaderElectionOptions } from './leader-election.js';
import { errorMessage, type Logger } from './logger.js';
import type { OperatorMetrics } from './metrics.js';
import { type KeySlot, WorkQueue, type ProcessResult } from './work-queue.js';

export interface AutopilotOperatorOptions {
  kubeConfig: KubeConfig;
  logger: Logger;
  /** Event source; default "vault-autopilot". */
  component?: string;
  /** Reconciles in flight across objects (default 8). */
  concurrency?: number;
  /** Every object is re-enqueued this often (default 10 min). */
  resyncPeriodMs?: number;
  /** Failed reconcile retry (default 1 s .. 5 min). */
  backoff?: { baseMs: number; maxMs: number };
  /** Watch reconnect backoff (default 250 ms .. 5 s). */
  watchBackoff?: { baseMs: number; maxMs: number };
  /** How long stop() waits for reconciles in flight (default 30 s). */
  shutdownTimeoutMs?: number;
  clock?: Clock;
  webhookServer?: AdmissionWebhookHost;
  metrics?: OperatorMetrics;
  /**
   * Off by default. When set, only the replica holding this Lease runs
   * watches and reconciles; the others serve webhooks and wait. A leader that
   * loses the lease calls `onLost` (default: stop(), then exit 1 so the pod
   * restarts as a candidate).
   */
  leaderElection?: LeaderElectionOptions & { onLost?: () => void };
  /**
   * Install scope: watch only these namespaces (one list+watch each) instead
   * of the whole cluster. Unset or empty: all namespaces. A registration
   * naming its own namespace keeps it.
   */
  namespaces?: string[];
}

/** The operator's queue: failures logged with the object, reconcile counts/durations and queue depth per kind. */
export function operatorQueue(opts: {
  concurrency: number;
  backoff: BackoffPolicy;
  clock: Clock;
  logger: Logger;
  metrics: OperatorMetrics;
  /** The registered kinds: their depth is reported (0 included) so the series do not go stale. */
  kinds: () => Iterable<string>;
  process(key: string, slot: KeySlot): Promise<ProcessResult | void>;
}): WorkQueue {
  const { logger, metrics } = opts;
  const queue = new WorkQueue({
    concurrency: opts.concurrency,
    backoff: opts.backoff,
    clock: opts.clock,
    process: opts.process,
    onRetry: (key, error, attempt, delayMs) => {
      const { kind, namespace, name } = parseQueueKey(key);
      logger.error('reconcile failed, will retry', { controller: kind, namespace, name, attempt, retryInMs: delayMs, error: errorMessage(error) });
    },
    onProcessed: (key, durationMs, error) => {
      const { kind } = parseQueueKey(key);
      metrics.reconcileTotal.inc({ kind, result: error === undefined ? 'success' : 'error' });
      if (error !== undefined) metrics.reconcileErrors.inc({ kind });
      metrics.reconcileDuration.observe({ kind }, durationMs / 1000);
    },
  });
  metrics.queueDepth.onCollect(() => {
    const depth = new Map<string, number>([...opts.kinds()].map((k) => [k, 0]));
    for (const key of queue.pendingKeys()) {
      const { kind } = parseQueueKey(key);
      depth.set(kind, (depth.get(kind) ?? 0) + 1);
    }
    for (const [kind, n] of depth) metrics.queueDepth.set({ kind }, n);
  });
  metrics.inFlight.onCollect(() => metrics.inFlight.set(undefined, queue.inFlight));
  return queue;
}

/** SIGTERM/SIGINT -> stop() -> exit 0. Returns a function that removes the handlers. */
export function installSignalHandlers(stop: () => Promise<void>, logger: Logger, exit: (code: number) => void): () => void {
  const onSignal = (signal: NodeJS.Signals) => {
    logger.info('signal received, shutting down', { signal });
    stop().then(
      () => exit(0),
      (err: unknown) => {
        logger.error('error during shutdown', { error: errorMessage(err) });
        exit(0);
      },
    );
  };
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
  return () => {
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
  };
}
