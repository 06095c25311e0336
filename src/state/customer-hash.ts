import type { Cluster, Redis } from 'ioredis';
import { PyramidError } from '../errors.js';
import { customerShardKey, type PartitionKeys } from './keys.js';

/**
 * The stored form of a customer, for readers outside the Lua engine (inspect, census, tests). The
 * engine (includes/engine.lua) is the only writer; read customers through this module so a layout
 * change stays inside src/state.
 *
 * Customers of a partition live in S sub-hashes (keys.ts), field = customerId, value = one packed
 * string `m|f|l|s|ts|pd|d|n|h|t`: m, f totals over all stored buckets; l lastPurchaseAt; s seq;
 * ts tierSince; pd pendingDowngradeSince; d due time; n the newest bucket and h the older ones,
 * each "index:monetary:frequency" (h a comma-separated ascending list); t the tier (last, so any
 * character may occur in it). Optional numbers are empty when absent. Stored buckets may include
 * some that no longer count at a given time: the engine drops them only when it next evaluates
 * the customer.
 */

/** One stored bucket: index = floor(eventTime / bucketMs). */
export interface StoredBucket {
  index: number;
  monetary: number;
  frequency: number;
}

/** A customer's state as stored (nothing evaluated: see StateStore.inspect for that). */
export interface StoredCustomer {
  /** Null only before the first classification (never for a stored customer written by the engine). */
  tier: string | null;
  tierSince: number | null;
  seq: number;
  pendingDowngradeSince: number | null;
  lastPurchaseAt: number | null;
  /** Stored buckets, ascending (may include some that no longer count). */
  buckets: StoredBucket[];
  /** Monetary and frequency summed over all stored buckets. */
  monetary: number;
  frequency: number;
  /** The engine's copy of the customer's due-set score; null when no timer is set. */
  dueAt: number | null;
}

/** The stored buckets of a customer, ascending, from the raw older (`h`) and newest (`n`) bucket texts. */
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

/**
 * A customer's packed value (the field value in its sub-hash) decoded.
 *
 * @throws PyramidError `STATE_SCRIPT_FAILED` when the value is not in this layout; the message
 *   gives its length, never its content (a customer's amounts and tier).
 */
export function decodeCustomer(packed: string): StoredCustomer {
  // The tier is last and may itself contain '|': split off the nine fields before it.
  const parts: string[] = [];
  let from = 0;
  for (let i = 0; i < 9; i++) {
    const bar = packed.indexOf('|', from);
    if (bar < 0) throw new PyramidError('STATE_SCRIPT_FAILED', `not a packed customer value (${packed.length} characters, ${i} of 10 fields)`);
    parts.push(packed.slice(from, bar));
    from = bar + 1;
  }
  const [m = '', f = '', l = '', s = '', ts = '', pd = '', d = '', n = '', h = ''] = parts;
  const tier = packed.slice(from);
  const opt = (text: string): number | null => (text === '' ? null : Number(text));
  return {
    tier: tier === '' ? null : tier,
    tierSince: opt(ts),
    seq: Number(s),
    pendingDowngradeSince: opt(pd),
    lastPurchaseAt: opt(l),
    buckets: decodeBuckets(h, n),
    monetary: Number(m),
    frequency: Number(f),
    dueAt: opt(d),
  };
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

/**
 * Every stored customer of one partition, each once, sub-hash by sub-hash with HSCAN (cursor
 * based, never blocking Redis for long). The sub-hash count is read from the partition meta, the
 * layout the state was written with (falling back to `keys.customerShards` for a partition without
 * state). `count` is the HSCAN COUNT hint (default 1000). A customer written while the scan runs
 * may or may not be seen, as with any SCAN.
 */
export async function* scanCustomers(
  redis: Redis | Cluster,
  keys: PartitionKeys,
  options: { count?: number } = {},
): AsyncGenerator<{ customerId: string; state: StoredCustomer }> {
  const count = options.count ?? 1000;
  const stored = await redis.hget(keys.meta, 'cs');
  const shards = stored === null ? keys.customerShards : Number(stored);
  for (let shard = 0; shard < shards; shard++) {
    const key = customerShardKey(keys, shard);
    // HSCAN may return an entry twice while the hash is rehashed: remember what this sub-hash gave.
    const seen = new Set<string>();
    let cursor = '0';
    do {
      const [next, flat] = await redis.hscan(key, cursor, 'COUNT', count);
      cursor = next;
      for (let i = 0; i + 1 < flat.length; i += 2) {
        const customerId = flat[i] as string;
        if (seen.has(customerId)) continue;
        seen.add(customerId);
        yield { customerId, state: decodeCustomer(flat[i + 1] as string) };
      }
    } while (cursor !== '0');
  }
}
