import type { CompiledPolicy } from '../policy/types.js';
import { firstCountedBucket, rollingAggregates, type RfmSnapshot } from './aggregates.js';
import { decideTierChange, type TierChangeOutcome } from './change.js';
import type { RelativeBoundaries } from './boundaries.js';
import type { CustomerState } from './types.js';

/** What re-evaluating one stored customer under a policy gives: the outcome and its figures. */
export interface PolicyReevaluation extends TierChangeOutcome {
  /** R/F/M at the evaluation instant (the change's before and after alike). */
  snapshot: RfmSnapshot;
}

/**
 * A stored customer evaluated under `policy` at `now` with cause POLICY, the way its next
 * evaluation under that policy would see it: hysteresis included (a customer whose tier still
 * holds within the downgrade margin stays; a downgrade starts its grace period), a stored tier
 * the policy does not name is a NEW classification. Under the policy the customer was last
 * evaluated with, at an instant no timer of theirs is due by, it finds no change: so evaluating
 * a customer twice during one policy switch never yields a second POLICY change. `pyramid policy
 * diff` and the scorers' switch both call this, so the preview and the events agree.
 *
 * A policy with relative tiers is evaluated against `boundaries` (null: none, so no relative
 * condition holds). Pure; `state` is not modified.
 */
export function reevaluateUnderPolicy(
  policy: CompiledPolicy,
  customerId: string,
  state: CustomerState,
  now: number,
  boundaries: RelativeBoundaries | null = null,
): PolicyReevaluation {
  const first = firstCountedBucket(policy, now);
  const buckets = state.buckets.filter((bucket) => bucket.index >= first);
  const snapshot = rollingAggregates(policy, buckets, state.lastPurchaseAt, now, state.balances);
  const outcome = decideTierChange({ policy, customerId, state, before: snapshot, after: snapshot, now, cause: 'POLICY', transactionId: null, boundaries });
  return { ...outcome, snapshot };
}
