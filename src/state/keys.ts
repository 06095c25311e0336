/**
 * Every Redis key pyramid writes is built here, so the layout can be read in one place.
 *
 * All keys of partition `p` of topic `t` carry the hash tag `{t:p}`: Redis Cluster hashes only
 * the tagged part, so one Lua call can touch the customer hashes, the watermark, the due set, the
 * dedupe set and the outbox of a partition atomically, even on a cluster (DESIGN.md §3).
 */

/** The default first segment of every key; several deployments can share a Redis by changing it. */
export const DEFAULT_KEY_PREFIX = 'pyr';

/** The keys of one topic partition. */
export interface PartitionKeys {
  /** Hash: offset / event-time watermarks, policy version, partition count, outbox sequence, counters. */
  meta: string;
  /** Sorted set: customerId -> next time its tier could change without a new event. */
  due: string;
  /** Sorted set: transactionId -> evaluation time it was applied at, for dedupe within the horizon. */
  tx: string;
  /** Stream of tier-change records waiting for the relay, with deterministic ids. */
  outbox: string;
  /**
   * Prefix of the customer hashes: the key of customer `id` is `customerPrefix + id`. The Lua
   * scripts append the id themselves (customers are only known inside the script), which is why
   * the prefix, and not a list of keys, is handed to them.
   */
  customerPrefix: string;
}

/** The keys of partition `partition` of `topic` under `prefix`. */
export function partitionKeys(prefix: string, topic: string, partition: number): PartitionKeys {
  const base = `${prefix}:{${topic}:${partition}}`;
  return {
    meta: `${base}:meta`,
    due: `${base}:due`,
    tx: `${base}:tx`,
    outbox: `${base}:outbox`,
    customerPrefix: `${base}:c:`,
  };
}

/** The hash of one customer in one partition. */
export function customerKey(keys: PartitionKeys, customerId: string): string {
  return keys.customerPrefix + customerId;
}
