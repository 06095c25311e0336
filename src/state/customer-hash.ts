/**
 * The layout of a customer hash, for readers outside the Lua engine (inspect, census). The engine
 * (includes/engine.lua) is the only writer; read the hash through these names and this decoder so
 * a layout change stays inside src/state.
 *
 * Fields: h older buckets and n the newest bucket, each "index:monetary:frequency" (h a
 * comma-separated ascending list); m, f totals over all stored buckets; l lastPurchaseAt; t tier;
 * s seq; ts tierSince; pd pendingDowngradeSince; d due time. Stored buckets may include some that
 * no longer count at a given time: the engine drops them only when it next evaluates the customer.
 */
export const CUSTOMER_HASH_FIELDS = {
  tier: 't',
  olderBuckets: 'h',
  newestBucket: 'n',
  lastPurchaseAt: 'l',
  seq: 's',
  tierSince: 'ts',
  pendingDowngradeSince: 'pd',
  dueAt: 'd',
} as const;

/** One stored bucket: index = floor(eventTime / bucketMs). */
export interface StoredBucket {
  index: number;
  monetary: number;
  frequency: number;
}

/** The stored buckets of a customer, ascending, from the raw `h` and `n` field values. */
export function decodeBuckets(older: string | null | undefined, newest: string | null | undefined): StoredBucket[] {
  const buckets: StoredBucket[] = [];
  for (const text of [older, newest]) {
    for (const part of (text ?? '').split(',')) {
      if (part === '') continue;
      const [index = 0, monetary = 0, frequency = 0] = part.split(':').map(Number);
      buckets.push({ index, monetary, frequency });
    }
  }
  return buckets;
}

/** Monetary and frequency of the stored buckets that count from bucket `firstCounted` on. */
export function windowTotals(buckets: readonly StoredBucket[], firstCounted: number): { monetary: number; frequency: number } {
  let monetary = 0;
  let frequency = 0;
  for (const b of buckets) {
    if (b.index < firstCounted) continue;
    monetary += b.monetary;
    frequency += b.frequency;
  }
  return { monetary, frequency };
}
