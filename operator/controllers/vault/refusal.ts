// A trust decision (trust.ts) that says no ends the reconcile: Ready=False
// with the decision's reason and message, and one Warning Event `Refused`
// when that message is new (not on every resync).
import { ExpectedState } from '../../framework/index.js';
import { VaultConditionType, VaultEventReason } from '../../api/vault.js';
import { type VaultPhaseContext } from './phase-context.js';
import type { Decision } from './trust.js';

type Refusal = Extract<Decision, { ok: false }>;

/** Emits the Event once per new message; returns the stop to throw. Not retried: a spec or Secret change re-triggers. */
export async function refusedStop(p: Pick<VaultPhaseContext, 'vault' | 'ctx'>, decision: Refusal): Promise<ExpectedState> {
  const previous = p.vault.status?.conditions?.find((c) => c.type === VaultConditionType.Ready);
  if (previous?.message !== decision.message) await p.ctx.event('Warning', VaultEventReason.Refused, decision.message);
  return new ExpectedState([{ type: VaultConditionType.Ready, status: 'False', reason: decision.reason, message: decision.message }], decision.message, false);
}

/** A refusal that does not stop the reconcile (an Event only), once per Vault and message while the process runs (one entry per Vault). */
const warned = new Map<string, string>();
export async function refusedWarning(p: Pick<VaultPhaseContext, 'vault' | 'ctx'>, decision: Refusal): Promise<void> {
  const key = p.vault.metadata?.uid ?? `${p.vault.metadata?.namespace}/${p.vault.metadata?.name}`;
  if (warned.get(key) === decision.message) return;
  warned.set(key, decision.message);
  await p.ctx.event('Warning', VaultEventReason.Refused, decision.message);
}

