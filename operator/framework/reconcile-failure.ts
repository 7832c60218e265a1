// The one reconcile contract of every controller here. An expected state (bad
// input, waiting for another object, sealed, refused) is reported on the
// object: condition updates in its status, or a Warning Event where the object
// has no status of ours (ServiceAccounts). Only a transient failure (an API,
// Vault or KMS error) is thrown to the framework, which logs it and retries
// with backoff.
import type { ConditionUpdate } from './conditions.js';

/**
 * An expected state that ends a reconcile early: the condition updates that
 * say it, and whether (and when) to look again. A phase deep inside a
 * controller throws it to reach the controller's single exit, which writes the
 * conditions and RETURNS: it never reaches the framework.
 */
export class ExpectedState extends Error {
  constructor(
    readonly updates: ConditionUpdate[],
    message: string,
    readonly retry: boolean,
    /** Sooner than the controller's own recheck period (a pod that just started). */
    readonly retryAfterMs?: number,
  ) {
    super(message);
    this.name = 'ExpectedState';
  }
}

/**
 * A transient failure the controller has already reported on the object
 * (condition and/or Warning Event), thrown to the framework to be retried
 * with backoff. Its message names the reason and is safe to log.
 */
export class ReportedFailure extends Error {
  constructor(
    readonly reason: string,
    message: string,
  ) {
    super(`${reason}: ${message}`);
    this.name = 'ReportedFailure';
  }
}
