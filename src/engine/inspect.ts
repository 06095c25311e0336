import type { CompiledPolicy } from '../policy/types.js';
import { firstCountedBucket, rollingAggregates } from './aggregates.js';
import { nextDueTime } from './due.js';
import { rawTier, type RelativeContext } from './evaluate.js';
import { headroom, type Headroom } from './headroom.js';
import type { Bucket, CustomerState } from './types.js';

/** Which rule decided a raw evaluation. */
export type MatchedRule = { kind: 'inactive' } | { kind: 'fallback' } | { kind: 'tier'; tier: string };

/** A stored customer evaluated at one instant, without changing it (the `inspect` command). */
export interface CustomerEvaluation {
  now: number;
  /** Buckets that count at `now`, ascending. */
  buckets: Bucket[];
  monetary: number;
  frequency: number;
  recencyMs: number | null;
  /** Average daily balance over the window at `now` (0 without balances). */
  averageDailyBalance: number;
  /** Summed transaction margin over the window at `now`. */
  profit: number;
  /** The raw evaluation at `now` (no hysteresis): may differ from the stored tier until a timer fires. */
  rawTier: string;
  rule: MatchedRule;
  /** Next time after `now` the tier could change with no new event; null when none. */
  dueAt: number | null;
  /** Headroom of the stored tier at `now`. */
  headroom: Headroom;
}

/**
 * Evaluates a stored customer at `now`: what `inspect` shows next to the stored state. A policy
 * with relative tiers needs `relative` (the customer id and the boundaries in force) to place the
 * customer in one of them.
 */
export function evaluateCustomer(policy: CompiledPolicy, state: CustomerState, now: number, relative?: RelativeContext): CustomerEvaluation {
  const first = firstCountedBucket(policy, now);
  const buckets = state.buckets.filter((bucket) => bucket.index >= first);
  const snapshot = rollingAggregates(policy, buckets, state.lastPurchaseAt, now, state.balances);
  const raw = rawTier(policy, snapshot, now, relative);
  let rule: MatchedRule;
  if (raw === policy.inactiveTier && policy.inactivityMs !== null && state.lastPurchaseAt !== null && now - state.lastPurchaseAt >= policy.inactivityMs) {
    rule = { kind: 'inactive' };
  } else if (policy.tiers.some((tier) => tier.name === raw)) {
    rule = { kind: 'tier', tier: raw };
  } else {
    rule = { kind: 'fallback' };
  }
  return {
    now,
    buckets,
    monetary: snapshot.monetary,
    frequency: snapshot.frequency,
    recencyMs: snapshot.recencyMs,
    averageDailyBalance: snapshot.averageDailyBalance ?? 0,
    profit: snapshot.profit ?? 0,
    rawTier: raw,
    rule,
    dueAt: nextDueTime(policy, { ...state, buckets }, now),
    headroom: headroom(policy, state.tier ?? raw, snapshot, relative),
  };
}
