import type { CompiledPolicy, Condition, Metric } from '../policy/types.js';
import { averageDailyBalance } from './balances.js';
import type { BalanceState, Bucket } from './types.js';

/**
 * The R/F/M view of a customer at one instant; also the `before` / `after` snapshot of a tier
 * change. `recencyMs` is `now − lastPurchaseAt`, null when the customer never purchased.
 */
export interface RfmSnapshot {
  monetary: number;
  frequency: number;
  recencyMs: number | null;
  lastPurchaseAt: number | null;
  /**
   * Average daily balance over the window (src/engine/balances.ts); 0 without balances. Optional
   * so snapshots built without balances (tests, older outbox entries) stay valid: absent means 0.
   */
  averageDailyBalance?: number;
  /** Summed transaction margin over the window; 0 when no transaction carries one. Absent means 0. */
  profit?: number;
}

/** Index of the oldest bucket that still counts at `now`. */
export function firstCountedBucket(policy: CompiledPolicy, now: number): number {
  return Math.floor(now / policy.bucketMs) - policy.windowMs / policy.bucketMs + 1;
}

/** The instant bucket `index` stops counting: `(index + windowBuckets) × bucketMs`. */
export function bucketExitTime(policy: CompiledPolicy, index: number): number {
  return (index + policy.windowMs / policy.bucketMs) * policy.bucketMs;
}

/** Monetary, frequency and profit of the buckets that count from bucket `firstCounted` on. */
export function windowTotals(buckets: readonly Bucket[], firstCounted: number): { monetary: number; frequency: number; profit: number } {
  let monetary = 0;
  let frequency = 0;
  let profit = 0;
  for (const bucket of buckets) {
    if (bucket.index < firstCounted) continue;
    monetary += bucket.monetary;
    frequency += bucket.frequency;
    profit += bucket.profit ?? 0;
  }
  return { monetary, frequency, profit };
}

/**
 * Sums the buckets that count at `now` (index >= floor(now / bucketMs) − windowBuckets + 1; there
 * is no upper bound, so a bucket ahead of `now` counts) into the R/F/M snapshot.
 */
export function rollingAggregates(
  policy: CompiledPolicy,
  buckets: readonly Bucket[],
  lastPurchaseAt: number | null,
  now: number,
  balances?: BalanceState,
): RfmSnapshot {
  const { monetary, frequency, profit } = windowTotals(buckets, firstCountedBucket(policy, now));
  return {
    monetary,
    frequency,
    recencyMs: lastPurchaseAt === null ? null : now - lastPurchaseAt,
    lastPurchaseAt,
    averageDailyBalance: averageDailyBalance(policy, balances, now),
    profit,
  };
}

/** The value a condition on `metric` tests. */
export function metricValue(metric: Metric, snapshot: RfmSnapshot): number | null {
  switch (metric) {
    case 'monetary':
      return snapshot.monetary;
    case 'frequency':
      return snapshot.frequency;
    case 'recencyMs':
      return snapshot.recencyMs;
    case 'averageDailyBalance':
      return snapshot.averageDailyBalance ?? 0;
    case 'profit':
      return snapshot.profit ?? 0;
  }
}

/**
 * Whether one condition holds for a snapshot. With no purchase ever, recency is +infinity: a
 * `gt`/`gte` recency condition holds and a `lt`/`lte` one fails.
 */
export function conditionHolds(condition: Condition, snapshot: RfmSnapshot): boolean {
  const actual = metricValue(condition.metric, snapshot);
  if (actual === null) return condition.op === 'gt' || condition.op === 'gte';
  switch (condition.op) {
    case 'gt':
      return actual > condition.value;
    case 'gte':
      return actual >= condition.value;
    case 'lt':
      return actual < condition.value;
    case 'lte':
      return actual <= condition.value;
  }
}
