import { randomBytes } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';
import type { CustomerState, DedupeClaim, DueTimer } from '../engine/types.js';
import type { RankedMetric } from '../policy/types.js';
import { PyramidError } from '../errors.js';
import type { Instrumentation } from '../instrumentation.js';
import { silentLogger, type Logger } from '../logger.js';
import {
  customerShard,
  customerShardKey,
  decodeCustomer,
  DEFAULT_CUSTOMER_SHARDS,
  DEFAULT_KEY_PREFIX,
  encodeCustomer,
  FORMAT_VERSION,
  META,
  metaKeyPattern,
  partitionKeys,
  partitionOfMetaKey,
  TIER_CUSTOMERS_PREFIX,
  TIER_PROFIT_PREFIX,
  TIER_REVENUE_PREFIX,
  type PartitionKeys,
} from './layout.js';
import { PackedArgs } from './packed-args.js';
import { decodeOutboxEntry, encodeOutboxEntry, outboxSeqOf, successorId, type OutboxEntry } from './outbox-codec.js';
import { fenceRefusal, layoutMismatch, toStateError } from './script-errors.js';
import { loadScript, runScript, type LuaScript } from './scripts.js';

/** Per tier: customers in it and the sums of their stored rolling monetary and profit (absent: 0). */
export type TierCounters = Map<string, { customers: number; revenueMinor: number; profitMinor?: number }>;

/** A partition's meta as stored (see META in layout.ts). */
export interface PartitionMeta {
  formatVersion: number | null;
  partitionCount: number | null;
  customerShards: number | null;
  policyVersion: string | null;
  policyHash: string | null;
  owner: string | null;
  commit: number;
  /** Last applied Kafka offset; null before the first. */
  lastOffset: number | null;
  /** Last applied offset of the co-partitioned balances partition; null before the first. */
  balanceLastOffset?: number | null;
  eventWatermark: number | null;
  outboxSeq: number;
  counters: TierCounters;
  /** The input topic's incarnation the state was built from (`<offset>@<timestamp>`); null when none is recorded. */
  topicIncarnation: string | null;
  /** `<sub-hash>:<HSCAN cursor>` of a policy switch's background re-evaluation; null when none is in progress. */
  reevaluationCursor: string | null;
  /** The version the partition last switched from; null when it never switched. */
  previousPolicyVersion: string | null;
  /** Relative tiers: the last epoch whose BOUNDARY re-evaluation is committed; 0 when none. */
  boundaryEpoch: number;
  /** Relative tiers: `<epoch>:<sub-hash>:<HSCAN cursor>` of a BOUNDARY re-evaluation in progress; null when none. */
  boundaryCursor: string | null;
  /** Relative tiers on the event clock: the latest boundary instant the partition reached; null when none. */
  barrierInstant: number | null;
}

/** What a claim hands the new owner: the fence for its commits and where the partition stands. */
export interface PartitionClaim extends PartitionMeta {
  owner: string;
}

/**
 * The fence a commit carries: the owner's token, the commit it last read or wrote, and the policy
 * content hash of the state it built on (meta `ph` as it last read or wrote it; a switching
 * commit names the policy it switches from here and sets the new one in {@link PartitionWrite.meta}).
 */
export interface CommitFence {
  owner: string;
  commit: number;
  policyHash: string;
}

/** Everything one commit writes to a partition, together. */
export interface PartitionWrite {
  lastOffset: number | null;
  /** The balances watermark; null leaves it as stored (none applied yet). */
  balanceLastOffset?: number | null;
  eventWatermark: number | null;
  outboxSeq: number;
  /** New absolute values of the tiers whose counters moved. */
  counters: TierCounters;
  customers: Iterable<[string, CustomerState]>;
  /** New timer per customer; null clears it. */
  timers: Iterable<[string, number | null]>;
  claims: readonly DedupeClaim[];
  outbox: readonly OutboxEntry[];
  /** Claims expiring at or before this instant are dropped; null keeps them. */
  pruneClaimsThrough: number | null;
  /** Further meta fields to set in the same commit (a policy switch: policy, cursor). */
  meta?: ReadonlyMap<string, string>;
  /**
   * Policies with relative tiers: each written customer's ranked values, or null when it is not
   * in the ranked population (kept in the partition's ranked sets by the same commit). Frequency
   * null: no tier has a frequency band, so the frequency set is not kept (the monetary set always
   * is: it counts the population).
   */
  ranked?: ReadonlyMap<string, { monetary: number; frequency: number | null } | null>;
}

/** What {@link StateStore.load} read. */
export interface LoadedState {
  customers: Map<string, CustomerState>;
  /** Stored claim expiry per transaction id that has one. */
  claims: Map<string, number>;
  /** Timers due at or before the asked instant, ascending. */
  timers: DueTimer[];
  /** Every stored timer at or before this instant is in `timers` (less than asked when the limit cut it). */
  timersKnownThrough: number;
}

/** What {@link StateStore.load} reads: customers, claims and (optionally) due timers. */
export interface LoadRequest {
  customers: readonly string[];
  transactionIds?: readonly string[];
  /** Read the timers due at or before this instant. */
  timersThrough?: number;
  /** At most this many timers (default {@link DEFAULT_TIMER_LIMIT}). */
  timerLimit?: number;
}

/** What a {@link StateStore} works with; everything but `redis` has a default. */
export interface StateStoreOptions {
  redis: Redis | Cluster;
  /** First segment of every key. Default `pyr`. */
  prefix?: string;
  /**
   * Partition count of the input topic: part of the state layout, stored by the first claim and
   * checked by every later one.
   */
  partitionCount?: number;
  /** Customer sub-hashes per partition (default {@link DEFAULT_CUSTOMER_SHARDS}); part of the layout. */
  customerShards?: number;
  logger?: Logger;
  instrumentation?: Instrumentation;
}

/** Timers one load reads at most: a backlog is worked through in bounded steps. */
export const DEFAULT_TIMER_LIMIT = 2000;

const SCRIPTS = {
  claim: loadScript('claimPartition-1.lua'),
  commit: loadScript('commitPartition-4.lua'),
  recordIncarnation: loadScript('recordIncarnation-1.lua'),
};

const FORMAT = String(FORMAT_VERSION);
const optionalNumber = (value: string | undefined | null): number | null => (value === undefined || value === null || value === '' ? null : Number(value));

/** A ZRANGE ... WITHSCORES reply of the timer set as timers. */
function toTimers(flat: string[]): DueTimer[] {
  const timers: DueTimer[] = [];
  for (let i = 0; i + 1 < flat.length; i += 2) timers.push({ customerId: flat[i] as string, at: Number(flat[i + 1]) });
  return timers;
}

/** The meta hash's field/value list as a {@link PartitionMeta}. */
function parseMeta(fields: Record<string, string>): PartitionMeta {
  const counters: TierCounters = new Map();
  for (const [field, value] of Object.entries(fields)) {
    const customers = field.startsWith(TIER_CUSTOMERS_PREFIX);
    const profit = field.startsWith(TIER_PROFIT_PREFIX);
    if (!customers && !profit && !field.startsWith(TIER_REVENUE_PREFIX)) continue;
    const tier = field.slice(2);
    const entry = counters.get(tier) ?? { customers: 0, revenueMinor: 0 };
    if (customers) entry.customers = Number(value);
    else if (profit) entry.profitMinor = Number(value);
    else entry.revenueMinor = Number(value);
    counters.set(tier, entry);
  }
  return {
    formatVersion: optionalNumber(fields[META.formatVersion]),
    partitionCount: optionalNumber(fields[META.partitionCount]),
    customerShards: optionalNumber(fields[META.customerShards]),
    policyVersion: fields[META.policyVersion] ?? null,
    policyHash: fields[META.policyHash] ?? null,
    owner: fields[META.owner] ?? null,
    commit: optionalNumber(fields[META.commit]) ?? 0,
    lastOffset: optionalNumber(fields[META.lastOffset]),
    balanceLastOffset: optionalNumber(fields[META.balanceLastOffset]),
    eventWatermark: optionalNumber(fields[META.eventWatermark]),
    outboxSeq: optionalNumber(fields[META.outboxSeq]) ?? 0,
    counters,
    topicIncarnation: fields[META.topicIncarnation] ?? null,
    reevaluationCursor: fields[META.reevaluationCursor] || null,
    previousPolicyVersion: fields[META.previousPolicyVersion] ?? null,
    boundaryEpoch: optionalNumber(fields[META.boundaryEpoch]) ?? 0,
    boundaryCursor: fields[META.boundaryCursor] || null,
    barrierInstant: optionalNumber(fields[META.barrierInstant]),
  };
}

/**
 * The Redis state store, Kafka Streams style: narrow (load, commit, claim, read the outbox), with
 * no scoring rules in it (those are src/engine). Every write to a partition is one atomic,
 * fenced commit ({@link StateStore.commit}); the layout is src/state/layout.ts.
 *
 * Needs Redis >= 7.0: the scripts start with a `#!lua` shebang, which makes Redis refuse any
 * access outside the partition's hash slot, on a cluster and on a single node alike.
 */
export class StateStore {
  readonly redis: Redis | Cluster;
  readonly prefix: string;
  readonly partitionCount: number | undefined;
  readonly customerShards: number;
  private readonly logger: Logger;
  private readonly instrumentation: Instrumentation | undefined;

  constructor(options: StateStoreOptions) {
    this.redis = options.redis;
    this.prefix = options.prefix ?? DEFAULT_KEY_PREFIX;
    this.partitionCount = options.partitionCount;
    this.customerShards = options.customerShards ?? DEFAULT_CUSTOMER_SHARDS;
    if (!Number.isInteger(this.customerShards) || this.customerShards < 1) {
      throw new PyramidError('CONFIG_INVALID', `customerShards must be a positive integer, got ${this.customerShards}`);
    }
    this.logger = options.logger ?? silentLogger;
    this.instrumentation = options.instrumentation;
  }

  /** The keys of one partition under this store's prefix. */
  keys(topic: string, partition: number): PartitionKeys {
    return partitionKeys(this.prefix, topic, partition, this.customerShards);
  }

  /**
   * Claims a partition for a new owner: checks the stored layout (format version, partition
   * count, sub-hash count) and policy (version and content hash) against this scorer's, then sets
   * a fresh owner token, which fences every commit of any earlier owner (a zombie).
   *
   * @throws PyramidError STATE_LAYOUT_MISMATCH naming the field that differs (nothing written).
   */
  async claim(topic: string, partition: number, policy: { version: string; hash: string }): Promise<PartitionClaim> {
    if (this.partitionCount === undefined) throw new PyramidError('CONFIG_INVALID', 'claiming a partition needs the store to know the partition count');
    const owner = randomBytes(12).toString('hex');
    const expected = [FORMAT, String(this.partitionCount), String(this.customerShards), policy.version, policy.hash];
    const reply = await this.run(SCRIPTS.claim, [this.keys(topic, partition).meta], [...expected, owner]);
    if (!Array.isArray(reply)) throw new PyramidError('STATE_SCRIPT_FAILED', `claim returned ${typeof reply}`);
    if (reply[0] !== 0) {
      const field = String(reply[1]);
      const index = [META.formatVersion, META.partitionCount, META.customerShards, META.policyVersion, META.policyHash].indexOf(field as never);
      throw layoutMismatch(topic, partition, field, String(reply[2] ?? ''), expected[index] ?? '');
    }
    const flat = (reply[1] as unknown[]).map(String);
    const fields: Record<string, string> = {};
    for (let i = 0; i + 1 < flat.length; i += 2) fields[flat[i] as string] = flat[i + 1] as string;
    return { ...parseMeta(fields), owner };
  }

  /**
   * Refuses, before any partition is claimed, state that this scorer cannot continue: a partition
   * of another format version, partition count, sub-hash count or policy (version or content), or
   * state for a partition beyond the topic's partition count (the topic was re-created smaller).
   * With `acceptOtherPolicyVersions` (a policy in force is stored for the prefix and is this
   * scorer's) a partition on another policy version passes: it switches at its first commit; one
   * on this version must still have this content.
   *
   * @throws PyramidError STATE_LAYOUT_MISMATCH naming the partition, the field and both values.
   */
  async checkLayout(topic: string, policy: { version: string; hash: string }, options: { acceptOtherPolicyVersions?: boolean } = {}): Promise<void> {
    if (this.partitionCount === undefined) throw new PyramidError('CONFIG_INVALID', 'checking the layout needs the store to know the partition count');
    const expected: Record<string, string> = {
      [META.formatVersion]: FORMAT,
      [META.partitionCount]: String(this.partitionCount),
      [META.customerShards]: String(this.customerShards),
      [META.policyVersion]: policy.version,
      [META.policyHash]: policy.hash,
    };
    const partitions = new Set([...Array.from({ length: this.partitionCount }, (_, i) => i), ...(await this.partitionsWithState(topic))]);
    for (const partition of [...partitions].sort((a, b) => a - b)) {
      let stored: (string | null)[];
      try {
        stored = await this.redis.hmget(this.keys(topic, partition).meta, ...Object.keys(expected));
      } catch (err) {
        throw toStateError('checkLayout', err);
      }
      if (stored.every((value) => value === null)) {
        if (partition >= this.partitionCount) {
          throw layoutMismatch(topic, partition, META.partitionCount, '', String(this.partitionCount));
        }
        continue;
      }
      const policyAt = Object.keys(expected).indexOf(META.policyVersion);
      const otherVersion = options.acceptOtherPolicyVersions === true && (stored[policyAt] ?? '') !== policy.version;
      Object.entries(expected).forEach(([field, value], i) => {
        if (otherVersion && (field === META.policyVersion || field === META.policyHash)) return;
        const found = stored[i] ?? '';
        if (found !== value) throw layoutMismatch(topic, partition, field, found, value);
      });
    }
  }

  /**
   * Records the input topic's incarnation in a partition's meta (see META.topicIncarnation), once
   * a claim created or checked it. Returns false when the partition has no state of this format
   * (it vanished after the claim): nothing is written then.
   */
  async recordIncarnation(topic: string, partition: number, incarnation: string): Promise<boolean> {
    return (await this.run(SCRIPTS.recordIncarnation, [this.keys(topic, partition).meta], [FORMAT, incarnation])) === 1;
  }

  /** A partition's meta; null when the partition has no state. */
  async readMeta(topic: string, partition: number): Promise<PartitionMeta | null> {
    let fields: Record<string, string>;
    try {
      fields = await this.redis.hgetall(this.keys(topic, partition).meta);
    } catch (err) {
      throw toStateError('readMeta', err);
    }
    return Object.keys(fields).length === 0 ? null : parseMeta(fields);
  }

  /**
   * Reads, in one round trip, the stored state of `customers`, the dedupe claims of
   * `transactionIds` and the timers due at or before `timersThrough`.
   */
  async load(topic: string, partition: number, request: LoadRequest): Promise<LoadedState> {
    const keys = this.keys(topic, partition);
    const pipeline = this.redis.pipeline();
    const byShard = new Map<number, string[]>();
    for (const id of request.customers) {
      const shard = customerShard(id, this.customerShards);
      const ids = byShard.get(shard);
      if (ids === undefined) byShard.set(shard, [id]);
      else ids.push(id);
    }
    const shardOrder = [...byShard.entries()];
    for (const [shard, ids] of shardOrder) pipeline.hmget(customerShardKey(keys, shard), ...ids);
    const txIds = request.transactionIds ?? [];
    if (txIds.length > 0) pipeline.zmscore(keys.tx, ...txIds);
    const limit = request.timerLimit ?? DEFAULT_TIMER_LIMIT;
    const through = request.timersThrough;
    if (through !== undefined) pipeline.zrange(keys.due, '-inf', String(through), 'BYSCORE', 'LIMIT', 0, limit, 'WITHSCORES');
    let replies: [Error | null, unknown][];
    try {
      replies = (await pipeline.exec()) ?? [];
    } catch (err) {
      throw toStateError('load', err);
    }
    const reply = (i: number): unknown => {
      const [err, value] = replies[i] ?? [new Error('no reply'), null];
      if (err) throw toStateError('load', err);
      return value;
    };
    const customers = new Map<string, CustomerState>();
    shardOrder.forEach(([, ids], i) => {
      const values = reply(i) as (string | null)[];
      ids.forEach((id, k) => {
        const value = values[k];
        if (value !== null && value !== undefined) customers.set(id, decodeCustomer(value));
      });
    });
    let next = shardOrder.length;
    const claims = new Map<string, number>();
    if (txIds.length > 0) {
      const scores = reply(next++) as (string | null)[];
      txIds.forEach((id, k) => {
        const score = scores[k];
        if (score !== null && score !== undefined) claims.set(id, Number(score));
      });
    }
    let timers: DueTimer[] = [];
    let timersKnownThrough = -Infinity;
    if (through !== undefined) {
      timers = toTimers(reply(next) as string[]);
      timersKnownThrough = through;
      const last = timers[timers.length - 1];
      if (timers.length >= limit && last !== undefined) {
        // A full page may have cut its last instant short; many customers share an instant (a
        // day's bucket leaves the window at midnight), so read that instant whole: then every
        // timer up to it is known.
        try {
          const rest = toTimers(await this.redis.zrange(keys.due, String(last.at), String(last.at), 'BYSCORE', 'WITHSCORES'));
          timers = [...timers.filter((t) => t.at < last.at), ...rest];
        } catch (err) {
          throw toStateError('load', err);
        }
        timersKnownThrough = last.at;
      }
    }
    return { customers, claims, timers, timersKnownThrough };
  }

  /**
   * Writes one chunk's state atomically: customers, timers, claims, outbox entries, counters,
   * position and the next commit number. Refused, writing nothing, unless the partition is still
   * of this format, owned by `fence.owner`, at commit `fence.commit` and on policy `fence.policyHash`.
   *
   * @throws PyramidError STATE_FENCED (not retriable: the caller must re-read the partition),
   *   REDIS_UNAVAILABLE (retriable, but whether it was applied is unknown: re-read too).
   */
  async commit(topic: string, partition: number, fence: CommitFence, write: PartitionWrite): Promise<void> {
    const keys = this.keys(topic, partition);
    const firstSeq = write.outbox.length === 0 ? 0 : outboxSeqOf(write.outbox[0]?.id ?? '');
    // Encoded for the wire as they are added (packed-args.ts): a chunk carries thousands.
    const args = new PackedArgs();
    for (const value of [FORMAT, fence.owner, fence.commit, keys.customerShardPrefix, write.pruneClaimsThrough ?? '', firstSeq, fence.policyHash]) args.push(value);
    const metaAt = args.reserve();
    let metaFields = 1;
    args.push(META.outboxSeq);
    args.push(write.outboxSeq);
    const field = (name: string, value: string | number): void => {
      args.push(name);
      args.push(value);
      metaFields += 1;
    };
    if (write.lastOffset !== null) field(META.lastOffset, write.lastOffset);
    if (write.balanceLastOffset != null) field(META.balanceLastOffset, write.balanceLastOffset);
    if (write.eventWatermark !== null) field(META.eventWatermark, write.eventWatermark);
    for (const [name, value] of write.meta ?? []) field(name, value);
    for (const [tier, counted] of write.counters) {
      field(TIER_CUSTOMERS_PREFIX + tier, counted.customers);
      field(TIER_REVENUE_PREFIX + tier, counted.revenueMinor);
      if (counted.profitMinor !== undefined) field(TIER_PROFIT_PREFIX + tier, counted.profitMinor);
    }
    args.fill(metaAt, metaFields);

    // Customers grouped by sub-hash, so the script writes each sub-hash with one HSET.
    const byShard = new Map<number, string[]>();
    for (const [id, state] of write.customers) {
      const shard = customerShard(id, this.customerShards);
      let group = byShard.get(shard);
      if (group === undefined) byShard.set(shard, (group = []));
      group.push(id, encodeCustomer(state));
    }
    args.push(byShard.size);
    for (const [shard, group] of byShard) {
      args.push(shard);
      args.push(group.length / 2);
      for (const value of group) args.push(value);
    }

    const setAt = args.reserve();
    let set = 0;
    const cleared: string[] = [];
    for (const [id, at] of write.timers) {
      if (at === null) {
        cleared.push(id);
      } else {
        args.push(at);
        args.push(id);
        set += 1;
      }
    }
    args.fill(setAt, set);
    args.push(cleared.length);
    for (const id of cleared) args.push(id);
    args.push(write.claims.length);
    for (const claim of write.claims) {
      args.push(claim.expiresAt);
      args.push(claim.transactionId);
    }
    args.push(write.outbox.length);
    write.outbox.forEach((entry, i) => {
      if (outboxSeqOf(entry.id) !== firstSeq + i) throw new PyramidError('STATE_SCRIPT_FAILED', `outbox ids of one commit must count up from 0-${firstSeq}; got ${entry.id}`);
      const [kind, record] = encodeOutboxEntry(entry);
      args.push(kind);
      args.push(record);
    });
    if (write.ranked !== undefined && write.ranked.size > 0) {
      args.push(write.ranked.size);
      args.push(keys.ranked.monetary);
      args.push(keys.ranked.frequency);
      for (const [id, values] of write.ranked) {
        args.push(id);
        args.push(values?.monetary ?? '');
        args.push(values?.frequency ?? '');
      }
    }

    // Ordered: the next chunk's load is sent before this reply comes, and must run after it.
    const reply = await this.run(SCRIPTS.commit, [keys.meta, keys.due, keys.tx, keys.outbox], args, { ordered: true });
    if (!Array.isArray(reply) || reply[0] !== 0) {
      if (Array.isArray(reply) && reply[0] === -1) throw fenceRefusal(topic, partition, reply, { formatVersion: FORMAT, ...fence });
      throw new PyramidError('STATE_SCRIPT_FAILED', `commit returned ${JSON.stringify(reply)}`);
    }
  }

  /** One stored customer, or null when the partition does not know it. */
  async readCustomer(topic: string, partition: number, customerId: string): Promise<CustomerState | null> {
    const keys = this.keys(topic, partition);
    try {
      const value = await this.redis.hget(customerShardKey(keys, customerShard(customerId, this.customerShards)), customerId);
      return value === null ? null : decodeCustomer(value);
    } catch (err) {
      throw toStateError('readCustomer', err);
    }
  }

  /** When customer `customerId`'s timer fires, as the partition's timer set holds it; null when none. */
  async readTimer(topic: string, partition: number, customerId: string): Promise<number | null> {
    try {
      const score = await this.redis.zscore(this.keys(topic, partition).due, customerId);
      return score === null ? null : Number(score);
    } catch (err) {
      throw toStateError('readTimer', err);
    }
  }

  /**
   * Per partition, how many customers its ranked set of `metric` holds with a value at or
   * above `min` (all of them for -Infinity). One command per partition, all sent at once
   * (separate commands, not a pipeline: on a cluster the partitions live in different slots).
   */
  async rankedCountAtLeast(topic: string, partitions: readonly number[], metric: RankedMetric, min: number): Promise<number[]> {
    const low = min === -Infinity ? '-inf' : String(min);
    return this.eachPartition('rankedCount', partitions, (p) => this.redis.zcount(this.keys(topic, p).ranked[metric], low, '+inf'));
  }

  /** The smallest and largest value in the partitions' ranked sets of `metric`; null when all are empty. */
  async rankedRange(topic: string, partitions: readonly number[], metric: RankedMetric): Promise<{ min: number; max: number } | null> {
    const ends = await this.eachPartition('rankedRange', partitions, async (p) => {
      const key = this.keys(topic, p).ranked[metric];
      return [...(await this.redis.zrange(key, 0, 0, 'WITHSCORES')), ...(await this.redis.zrange(key, -1, -1, 'WITHSCORES'))];
    });
    const scores = ends.flatMap((reply) => reply.filter((_, i) => i % 2 === 1).map(Number));
    return scores.length === 0 ? null : { min: Math.min(...scores), max: Math.max(...scores) };
  }

  /** The ids of every customer whose ranked value of `metric` is exactly `value`, over the partitions. */
  async rankedWithValue(topic: string, partitions: readonly number[], metric: RankedMetric, value: number): Promise<string[]> {
    return (await this.eachPartition('rankedWithValue', partitions, (p) => this.redis.zrangebyscore(this.keys(topic, p).ranked[metric], value, value))).flat();
  }

  private async eachPartition<T>(operation: string, partitions: readonly number[], read: (partition: number) => Promise<T>): Promise<T[]> {
    try {
      return await Promise.all(partitions.map(read));
    } catch (err) {
      throw toStateError(operation, err);
    }
  }


  /**
   * Every stored customer of one partition, each once, sub-hash by sub-hash with HSCAN (cursor
   * based, never blocking Redis for long). `count` is the HSCAN COUNT hint (default 1000). A
   * customer written while the scan runs may or may not be seen, as with any SCAN.
   */
  async *scanCustomers(topic: string, partition: number, options: { count?: number } = {}): AsyncGenerator<{ customerId: string; state: CustomerState }> {
    const keys = this.keys(topic, partition);
    const count = options.count ?? 1000;
    for (let shard = 0; shard < keys.customerShards; shard++) {
      const key = customerShardKey(keys, shard);
      // HSCAN may return an entry twice while the hash is rehashed: remember what this sub-hash gave.
      const seen = new Set<string>();
      let cursor = '0';
      do {
        const [next, flat] = await this.redis.hscan(key, cursor, 'COUNT', count);
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

  /**
   * One HSCAN page of customer sub-hash `shard` of a partition: the customer ids and the cursor
   * of the next page ('0' when the sub-hash is done). The step of a policy switch's background
   * re-evaluation, which keeps the cursor in the partition meta.
   */
  async scanCustomerIds(topic: string, partition: number, shard: number, cursor: string, count: number): Promise<{ next: string; customerIds: string[] }> {
    try {
      const [next, flat] = await this.redis.hscan(customerShardKey(this.keys(topic, partition), shard), cursor, 'COUNT', count);
      const customerIds: string[] = [];
      for (let i = 0; i + 1 < flat.length; i += 2) customerIds.push(flat[i] as string);
      return { next, customerIds };
    } catch (err) {
      throw toStateError('scanCustomerIds', err);
    }
  }

  /**
   * The partitions of `topic` that have state under this prefix, found from their meta keys
   * (SCAN, never KEYS), so `report` and `inspect` need Redis only, not Kafka.
   */
  async partitionsWithState(topic: string): Promise<number[]> {
    const found = new Set<number>();
    let cursor = '0';
    do {
      const [next, keys] = await this.redis.scan(cursor, 'MATCH', metaKeyPattern(this.prefix, topic), 'COUNT', 1000);
      cursor = next;
      for (const key of keys) {
        const partition = partitionOfMetaKey(key);
        if (partition !== null) found.add(partition);
      }
    } while (cursor !== '0');
    return [...found].sort((a, b) => a - b);
  }

  /** Outbox entries of a partition after `afterId` (exclusive; '-' or omitted: from the start). */
  async readOutbox(topic: string, partition: number, afterId = '-', count = 500): Promise<OutboxEntry[]> {
    const start = afterId === '-' ? '-' : `(${afterId}`;
    try {
      const entries = await this.redis.xrange(this.keys(topic, partition).outbox, start, '+', 'COUNT', count);
      return entries.map(([id, fields]) => decodeOutboxEntry(id, fields));
    } catch (err) {
      throw toStateError('readOutbox', err);
    }
  }

  /**
   * Drop outbox entries up to and including `ackedId` once the relay has published them; returns
   * how many went and how many remain (one round trip for both).
   */
  async trimOutbox(topic: string, partition: number, ackedId: string): Promise<{ trimmed: number; remaining: number }> {
    const key = this.keys(topic, partition).outbox;
    try {
      const replies = await this.redis.multi().xtrim(key, 'MINID', successorId(ackedId)).xlen(key).exec();
      const [trimmed, remaining] = (replies ?? []).map(([err, value]) => {
        if (err) throw err;
        return Number(value);
      });
      return { trimmed: trimmed ?? 0, remaining: remaining ?? 0 };
    } catch (err) {
      throw toStateError('trimOutbox', err);
    }
  }

  /** Entries waiting in a partition's outbox. */
  async outboxLength(topic: string, partition: number): Promise<number> {
    try {
      return await this.redis.xlen(this.keys(topic, partition).outbox);
    } catch (err) {
      throw toStateError('outboxLength', err);
    }
  }

  private async run(script: LuaScript, keys: string[], args: (string | number)[] | PackedArgs, options: { ordered?: boolean } = {}): Promise<unknown> {
    const started = performance.now();
    try {
      const reply = await runScript(this.redis, script, keys, args, options);
      this.instrumentation?.emit('state.script', { script: script.name, seconds: (performance.now() - started) / 1000, ok: true });
      return reply;
    } catch (err) {
      this.instrumentation?.emit('state.script', { script: script.name, seconds: (performance.now() - started) / 1000, ok: false });
      const error = toStateError(script.name, err);
      this.logger.error({ err: error, script: script.name, key: keys[0] }, 'state script failed');
      throw error;
    }
  }
}
