import type { CompiledPolicy, Condition } from '../policy/types.js';
import type { Bucket } from './types.js';

/**
 * The R/F/M view of a customer at one instant; also the `before` / `after` snapshot of a tier
 * change. `recencyMs` is `now − lastPurchaseAt`, null when the customer never purchased.
 */
export interface RfmSnapshot {
  monetary: number;
  frequency: number;
  recencyMs: number | null;
  lastPurchaseAt: number | null;
}

/** Index of the oldest bucket that still counts at `now`. */
export function firstCountedBucket(policy: CompiledPolicy, now: number): number {
  return Math.floor(now / policy.bucketMs) - policy.windowMs / policy.bucketMs + 1;
}

/** The instant bucket `index` stops counting: `(index + windowBuckets) × bucketMs`. */
export function bucketExitTime(policy: CompiledPolicy, index: number): number {
  return (index + policy.windowMs / policy.bucketMs) * policy.bucketMs;
}

/** Monetary and frequency of the buckets that count from bucket `firstCounted` on. */
export function windowTotals(buckets: readonly Bucket[], firstCounted: number): { monetary: number; frequency: number } {
  let monetary = 0;
  let frequency = 0;
  for (const bucket of buckets) {
    if (bucket.index < firstCounted) continue;
    monetary += bucket.monetary;
    frequency += bucket.frequency;
  }
  return { monetary, frequency };
}

/**
 * Sums the buckets that count at `now` (index >= floor(now / bucketMs) − windowBuckets + 1; there
 * is no upper bound, so a bucket ahead of `now` counts) into the R/F/M snapshot.
 */
export function rollingAggregates(policy: CompiledPolicy, buckets: readonly Bucket[], lastPurchaseAt: number | null, now: number): RfmSnapshot {
  const { monetary, frequency } = windowTotals(buckets, firstCountedBucket(policy, now));
  return { monetary, frequency, recencyMs: lastPurchaseAt === null ? null : now - lastPurchaseAt, lastPurchaseAt };
}

/**
 * Whether one condition holds for a snapshot. With no purchase ever, recency is +infinity: a
 * `gt`/`gte` recency condition holds and a `lt`/`lte` one fails.
 */
export function conditionHolds(condition: Condition, snapshot: RfmSnapshot): boolean {
  const actual =
    condition.metric === 'monetary'
      ? snapshot.monetary
      : condition.metric === 'frequency'
        ? snapshot.frequency
        : snapshot.recencyMs;
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
