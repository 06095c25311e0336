import { bucketExitTime, firstCountedBucket } from './aggregates.js';
import { balanceDueTime } from './balances.js';
import type { CompiledPolicy } from '../policy/types.js';
import type { CustomerState } from './types.js';

/** The parts of a customer's state that decide when its tier can next change on its own. */
export type DueInputs = Pick<CustomerState, 'buckets' | 'lastPurchaseAt' | 'pendingDowngradeSince' | 'balances'>;

/**
 * The next instant, strictly after `now`, at which the customer's tier could change without a new
 * event; null when there is none. The minimum over the candidates that are > now:
 *  - the exit time of the oldest bucket that counts at `now`;
 *  - `lastPurchaseAt + inactivityMs` (when the policy has an inactivity rule);
 *  - for every recency condition value v of any tier: `lastPurchaseAt + v` and
 *    `lastPurchaseAt + v + 1` (the instants `lte`/`gt` and `lt`/`gte` flip);
 *  - `pendingDowngradeSince + downgradeGraceMs`;
 *  - the first bucket start at which the average daily balance, the window sliding on with no
 *    new snapshot, flips an averageDailyBalance condition of any tier (balances.ts).
 * Firing early is harmless (the timer re-evaluates and reschedules), so the candidates need not
 * be tight; they must never be late.
 */
export function nextDueTime(policy: CompiledPolicy, state: DueInputs, now: number): number | null {
  let due = Infinity;

  const first = firstCountedBucket(policy, now);
  // Buckets are ascending: the first that counts is the oldest.
  for (const bucket of state.buckets) {
    if (bucket.index < first) continue;
    const exit = bucketExitTime(policy, bucket.index);
    if (exit > now) due = exit;
    break;
  }

  const lastPurchaseAt = state.lastPurchaseAt;
  if (lastPurchaseAt !== null) {
    if (policy.inactivityMs !== null) {
      const t = lastPurchaseAt + policy.inactivityMs;
      if (t > now && t < due) due = t;
    }
    for (const value of recencyValues(policy)) {
      // The instants `lte`/`gt` and `lt`/`gte` recency conditions flip.
      const t = lastPurchaseAt + value;
      if (t > now && t < due) due = t;
      if (t + 1 > now && t + 1 < due) due = t + 1;
    }
  }

  if (state.pendingDowngradeSince !== null) {
    const t = state.pendingDowngradeSince + policy.hysteresis.downgradeGraceMs;
    if (t > now && t < due) due = t;
  }

  const balanceDue = balanceDueTime(policy, state.balances, now);
  if (balanceDue !== null && balanceDue < due) due = balanceDue;
  return due === Infinity ? null : due;
}

const RECENCY_VALUES = new WeakMap<CompiledPolicy, number[]>();

/** Every recency condition value of any tier, computed once per policy (this runs for every event). */
function recencyValues(policy: CompiledPolicy): number[] {
  let values = RECENCY_VALUES.get(policy);
  if (values === undefined) {
    values = policy.tiers.flatMap((tier) => tier.conditions.filter((c) => c.metric === 'recencyMs').map((c) => c.value));
    RECENCY_VALUES.set(policy, values);
  }
  return values;
}
