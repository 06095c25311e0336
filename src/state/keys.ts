/**
 * Every Redis key pyramid writes is built here, so the layout can be read in one place.
 *
 * All keys of partition `p` of topic `t` carry the hash tag `{t:p}`: Redis Cluster hashes only
 * the tagged part, so one Lua call can touch the customer sub-hashes, the watermark, the due set,
 * the dedupe set and the outbox of a partition atomically, even on a cluster (DESIGN.md §3).
 *
 * Layout of partition `p` (base = `${prefix}:{${topic}:${p}}`):
 * - `base:meta`   hash: watermarks, policy version, partition count, customer shard count, counters
 * - `base:due`    sorted set: customerId -> due time
 * - `base:tx`     sorted set: transactionId -> evaluation time (dedupe)
 * - `base:outbox` stream of tier-change records
 * - `base:cs:<s>` for s in 0..S-1: the customers whose {@link customerShard} is s, one field per
 *   customer holding its packed state (src/state/customer-hash.ts). S sub-hashes instead of a
 *   hash per customer: a batch loads and saves its customers with one HMGET and one HSET per
 *   touched sub-hash instead of two calls per event; S of them instead of one per partition:
 *   no single unbounded key (moving a slot or deleting a huge key blocks Redis).
 */

/** The default first segment of every key; several deployments can share a Redis by changing it. */
export const DEFAULT_KEY_PREFIX = 'pyr';

/**
 * Customer sub-hashes per partition by default. Part of the state layout (stored in the partition
 * meta as `cs` and checked on every call): changing it for existing state needs a migration.
 */
export const DEFAULT_CUSTOMER_SHARDS = 64;

/** The keys of one topic partition. */
export interface PartitionKeys {
  /** Hash: offset / event-time watermarks, policy version, partition count, customer shard count, outbox sequence, counters. */
  meta: string;
  /** Sorted set: customerId -> next time its tier could change without a new event. */
  due: string;
  /** Sorted set: transactionId -> evaluation time it was applied at, for dedupe within the horizon. */
  tx: string;
  /** Stream of tier-change records waiting for the relay, with deterministic ids. */
  outbox: string;
  /**
   * Prefix of the customer sub-hashes: sub-hash `s` is `customerShardPrefix + s`. The Lua
   * scripts append the shard themselves (the timer path only learns a customer inside the script),
   * which is why the prefix, and not a list of keys, is handed to them.
   */
  customerShardPrefix: string;
  /** How many customer sub-hashes the partition has (S). */
  customerShards: number;
}

/** The keys of partition `partition` of `topic` under `prefix`, with `customerShards` customer sub-hashes. */
export function partitionKeys(prefix: string, topic: string, partition: number, customerShards = DEFAULT_CUSTOMER_SHARDS): PartitionKeys {
  const base = `${prefix}:{${topic}:${partition}}`;
  return {
    meta: `${base}:meta`,
    due: `${base}:due`,
    tx: `${base}:tx`,
    outbox: `${base}:outbox`,
    customerShardPrefix: `${base}:cs:`,
    customerShards,
  };
}

const MODULUS = 2147483647;

/**
 * The customer sub-hash of `customerId` among `shards`: h = (h * 31 + byte) mod (2^31 - 1) over
 * the id's UTF-8 bytes, then (h * 48271 mod (2^31 - 1)) mod shards. Every intermediate stays
 * below 2^47, exact in a double, so the Lua mirror (`shardOf` in includes/engine.lua) computes
 * the same number (test/state/customer-shard.int.test.ts). Lone surrogates count as U+FFFD, as
 * Node and ioredis encode them on the wire.
 */
export function customerShard(customerId: string, shards: number): number {
  let h = 0;
  for (let i = 0; i < customerId.length; i++) {
    let code = customerId.charCodeAt(i);
    if (code < 0x80) {
      h = (h * 31 + code) % MODULUS;
      continue;
    }
    if (code >= 0xd800 && code <= 0xdbff && i + 1 < customerId.length) {
      const low = customerId.charCodeAt(i + 1);
      if (low >= 0xdc00 && low <= 0xdfff) {
        code = 0x10000 + ((code - 0xd800) << 10) + (low - 0xdc00);
        i++;
      } else code = 0xfffd;
    } else if (code >= 0xd800 && code <= 0xdfff) code = 0xfffd;
    if (code < 0x800) {
      h = (h * 31 + (0xc0 | (code >> 6))) % MODULUS;
    } else {
      if (code < 0x10000) h = (h * 31 + (0xe0 | (code >> 12))) % MODULUS;
      else {
        h = (h * 31 + (0xf0 | (code >> 18))) % MODULUS;
        h = (h * 31 + (0x80 | ((code >> 12) & 0x3f))) % MODULUS;
      }
      h = (h * 31 + (0x80 | ((code >> 6) & 0x3f))) % MODULUS;
    }
    h = (h * 31 + (0x80 | (code & 0x3f))) % MODULUS;
  }
  // One multiplicative step before the modulo: 31^2 = 1 (mod 64), so h alone spreads ids that
  // differ in a few trailing digits badly over a power-of-two S (measured 124..2018 per sub-hash
  // for cust-000000..063999 over 64, 980..1015 with this step).
  return ((h * 48271) % MODULUS) % shards;
}

/** Customer sub-hash `shard` of a partition. */
export function customerShardKey(keys: PartitionKeys, shard: number): string {
  return keys.customerShardPrefix + shard;
}

/** The sub-hash holding customer `customerId` (field = the id) in one partition. */
export function customerKey(keys: PartitionKeys, customerId: string): string {
  return customerShardKey(keys, customerShard(customerId, keys.customerShards));
}
