import type { CompiledPolicy, Condition } from './types.js';

/** One rolling bucket: net monetary (minor units; refunds subtract) and purchase count. */
export interface BucketTotals {
  m: number;
  f: number;
}

/** A customer's buckets by bucket index (`floor(eventTime / bucketMs)`). */
export type BucketMap = ReadonlyMap<number, BucketTotals>;

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

/**
 * Sums the buckets that count at `now` (index >= floor(now / bucketMs) − windowBuckets + 1; there
 * is no upper bound, so a bucket ahead of `now` counts) into the R/F/M snapshot.
 */
export function rollingAggregates(
  policy: CompiledPolicy,
  buckets: BucketMap,
  lastPurchaseAt: number | null,
  now: number,
): RfmSnapshot {
  const first = firstCountedBucket(policy, now);
  let monetary = 0;
  let frequency = 0;
  for (const [index, totals] of buckets) {
    if (index < first) continue;
    monetary += totals.m;
    frequency += totals.f;
  }
  return {
    monetary,
    frequency,
    recencyMs: lastPurchaseAt === null ? null : now - lastPurchaseAt,
    lastPurchaseAt,
  };
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
