import { bucketExitTime, firstCountedBucket } from './aggregates.js';
import type { CompiledPolicy } from '../policy/types.js';
import type { CustomerState } from './types.js';

/** The parts of a customer's state that decide when its tier can next change on its own. */
export type DueInputs = Pick<CustomerState, 'buckets' | 'lastPurchaseAt' | 'pendingDowngradeSince'>;

/**
 * The next instant, strictly after `now`, at which the customer's tier could change without a new
 * event; null when there is none. The minimum over the candidates that are > now:
 *  - the exit time of the oldest bucket that counts at `now`;
 *  - `lastPurchaseAt + inactivityMs` (when the policy has an inactivity rule);
 *  - for every recency condition value v of any tier: `lastPurchaseAt + v` and
 *    `lastPurchaseAt + v + 1` (the instants `lte`/`gt` and `lt`/`gte` flip);
 *  - `pendingDowngradeSince + downgradeGraceMs`.
 * Firing early is harmless (the timer re-evaluates and reschedules), so the candidates need not
 * be tight; they must never be late.
 */
export function nextDueTime(policy: CompiledPolicy, state: DueInputs, now: number): number | null {
  let due = Infinity;
  const consider = (instant: number): void => {
    if (instant > now && instant < due) due = instant;
  };

  const first = firstCountedBucket(policy, now);
  // Buckets are ascending: the first that counts is the oldest.
  const oldest = state.buckets.find((bucket) => bucket.index >= first);
  if (oldest !== undefined) consider(bucketExitTime(policy, oldest.index));

  if (state.lastPurchaseAt !== null) {
    if (policy.inactivityMs !== null) consider(state.lastPurchaseAt + policy.inactivityMs);
    for (const tier of policy.tiers) {
      for (const condition of tier.conditions) {
        if (condition.metric !== 'recencyMs') continue;
        consider(state.lastPurchaseAt + condition.value);
        consider(state.lastPurchaseAt + condition.value + 1);
      }
    }
  }

  if (state.pendingDowngradeSince !== null) {
    consider(state.pendingDowngradeSince + policy.hysteresis.downgradeGraceMs);
  }
  return due === Infinity ? null : due;
}
