import type { Cluster, Redis } from 'ioredis';
import type { Instrumentation } from '../instrumentation.js';
import { silentLogger, type Logger } from '../logger.js';
import type { CompiledPolicy } from '../policy/types.js';
import { PyramidError } from '../errors.js';
import { decodeBuckets } from './customer-hash.js';
import { customerShard, customerShardKey, DEFAULT_CUSTOMER_SHARDS, DEFAULT_KEY_PREFIX, partitionKeys, type PartitionKeys } from './keys.js';
import { decodeOutboxEntry, successorId } from './outbox-codec.js';
import { checkScriptReply, toStateError } from './script-errors.js';
import { toScriptPolicy } from './script-policy.js';
import { loadScript, runScript, type LuaScript } from './scripts.js';
import type { BatchCounts, CustomerInspection, MatchedRule, OutboxEntry, SweepResult, TransactionRecord } from './types.js';

/** Which clock evaluates a partition: the wall clock (live) or its event-time watermark (replay). */
export type ClockMode = 'event' | 'wall';

/** What a {@link StateStore} works with; everything but `redis`, `policy` and `clock` has a default. */
export interface StateStoreOptions {
  redis: Redis | Cluster;
  policy: CompiledPolicy;
  /** `wall`: the caller passes now; `event`: the partition's event-time watermark is the clock. */
  clock: ClockMode;
  /** A transactionId seen again within this long (ms of the clock) is counted once. Default 7 days. */
  dedupeHorizonMs?: number;
  /** First segment of every key. Default `pyr`. */
  prefix?: string;
  /**
   * Partition count of the input topic. Stored in each partition's meta and checked on every call
   * (the count is part of the state layout), and used by `inspect` to find a customer.
   */
  partitionCount?: number;
  /**
   * Customer sub-hashes per partition (default {@link DEFAULT_CUSTOMER_SHARDS}). Part of the state
   * layout like the partition count: stored in each partition's meta and checked on every call.
   */
  customerShards?: number;
  logger?: Logger;
  instrumentation?: Instrumentation;
}

/** Most timers one sweepPartition call fires, so a backlog never blocks Redis for long. */
export const DEFAULT_SWEEP_LIMIT = 500;
const DEFAULT_DEDUPE_HORIZON_MS = 7 * 86_400_000;

const SCRIPTS = {
  apply: loadScript('applyPartitionBatch-4.lua'),
  sweep: loadScript('sweepPartition-3.lua'),
  inspect: loadScript('inspectCustomer-3.lua'),
};

/**
 * The Redis state engine. Every state change of a partition happens in one Lua call that moves
 * the offset watermark together with the state, so replays (crash, rebalance, zombie consumer)
 * re-apply nothing (DESIGN.md §3). The evaluation mirrors src/policy exactly
 * (test/state/policy-agreement.int.test.ts).
 *
 * Layout (keys.ts): a partition's customers are packed into `customerShards` sub-hashes (field =
 * customer id), so a batch loads and saves them with one HMGET and one HSET per touched
 * sub-hash; read them outside the engine with `scanCustomers` (customer-hash.ts).
 *
 * Needs Redis >= 7.0: the scripts start with a `#!lua` shebang, which makes Redis refuse any
 * access outside the partition's hash slot, on a cluster and on a single node alike.
 *
 * Clock modes: in `event` mode timers fire as the partition's event-time watermark passes them
 * (inside applyPartitionBatch); in `wall` mode a record's own customer's timers fire before the
 * record applies and everything else waits for {@link StateStore.sweepPartition}.
 */
export class StateStore {
  private readonly redis: Redis | Cluster;
  private readonly policyJson: string;
  private readonly policy: CompiledPolicy;
  private readonly clock: ClockMode;
  private readonly horizonMs: number;
  private readonly prefix: string;
  private readonly partitionCount: number | undefined;
  private readonly customerShards: number;
  private readonly logger: Logger;
  private readonly instrumentation: Instrumentation | undefined;

  constructor(options: StateStoreOptions) {
    this.redis = options.redis;
    this.policy = options.policy;
    this.policyJson = JSON.stringify(toScriptPolicy(options.policy));
    this.clock = options.clock;
    this.horizonMs = options.dedupeHorizonMs ?? DEFAULT_DEDUPE_HORIZON_MS;
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
   * Apply a batch of one partition's records (in offset order) in one atomic Lua call. `now` is
   * the wall clock in wall mode (default Date.now()) and ignored in event mode.
   *
   * `requireApplied`: the call applies nothing and throws STATE_WATERMARK_BEHIND unless the
   * partition's watermark is at or past this offset. It makes it safe to send the chunks of one
   * batch without awaiting each: chunk k+1 requires chunk k's last offset, so a chunk whose
   * predecessor failed (a dropped connection, say) refuses instead of skipping ahead.
   */
  async applyPartitionBatch(
    topic: string,
    partition: number,
    records: readonly TransactionRecord[],
    now?: number,
    options: { requireApplied?: number | string } = {},
  ): Promise<BatchCounts> {
    const keys = this.keys(topic, partition);
    const args: (string | number)[] = [
      this.policyJson,
      keys.customerShardPrefix,
      this.clock,
      this.clock === 'wall' ? (now ?? Date.now()) : '',
      this.horizonMs,
      this.partitionCount ?? '',
      this.customerShards,
      options.requireApplied === undefined ? '' : String(options.requireApplied),
    ];
    // The sub-hash of each record's customer is computed here, so the script hashes no ids.
    for (const r of records) {
      const shard = customerShard(r.customerId, this.customerShards);
      args.push(String(r.offset), r.transactionId, r.customerId, shard, r.kind === 'purchase' ? 'p' : 'r', r.amountMinor, r.eventTime);
    }
    const reply = await this.run(SCRIPTS.apply, [keys.meta, keys.due, keys.tx, keys.outbox], args);
    const [applied = 0, duplicate = 0, late = 0, stale = 0, changes = 0, timersFired = 0] = reply;
    return { applied, duplicate, late, stale, changes, timersFired };
  }

  /** Fire the partition's timers due at or before `now`, at most `limit` per call. */
  async sweepPartition(topic: string, partition: number, now: number, limit = DEFAULT_SWEEP_LIMIT): Promise<SweepResult> {
    const keys = this.keys(topic, partition);
    const args = [this.policyJson, keys.customerShardPrefix, now, limit, this.partitionCount ?? '', this.customerShards];
    const [timersFired = 0, changes = 0, more = 0] = await this.run(SCRIPTS.sweep, [keys.meta, keys.due, keys.outbox], args);
    return { timersFired, changes, more: more === 1 };
  }

  /**
   * A customer's state and evaluation. Without `partition`, looks in every partition of the topic
   * (needs `partitionCount`). `now` defaults to the wall clock in wall mode and to the partition's
   * event-time watermark in event mode. Null when the customer is unknown.
   */
  async inspect(topic: string, customerId: string, options: { partition?: number; now?: number } = {}): Promise<CustomerInspection | null> {
    let partitions: number[];
    if (options.partition !== undefined) partitions = [options.partition];
    else if (this.partitionCount !== undefined) partitions = Array.from({ length: this.partitionCount }, (_, i) => i);
    else throw new PyramidError('CONFIG_INVALID', 'inspect needs a partition or the store needs partitionCount');
    const now = options.now ?? (this.clock === 'wall' ? Date.now() : undefined);
    for (const partition of partitions) {
      const keys = this.keys(topic, partition);
      const shardKey = customerShardKey(keys, customerShard(customerId, this.customerShards));
      const args = [this.policyJson, keys.customerShardPrefix, customerId, now ?? '', this.customerShards];
      const reply = await this.runRaw(SCRIPTS.inspect, [keys.meta, keys.due, shardKey], args);
      if (Array.isArray(reply) && reply.length > 0) return this.toInspection(topic, partition, customerId, reply.map(String));
    }
    return null;
  }

  /**
   * The partition's watermarks: the last applied Kafka offset (null before the first apply) and
   * the event-time watermark (null before the first applied event). The pipeline seeks to
   * `offset + 1` on assignment and measures lag against it.
   */
  async readWatermark(topic: string, partition: number): Promise<{ offset: number | null; eventTime: number | null }> {
    try {
      const [wo, ew] = await this.redis.hmget(this.keys(topic, partition).meta, 'wo', 'ew');
      return { offset: wo == null || wo === '' || Number(wo) < 0 ? null : Number(wo), eventTime: ew == null || ew === '' ? null : Number(ew) };
    } catch (err) {
      throw toStateError('readWatermark', err);
    }
  }

  /**
   * The partition's per-tier counters, which the scripts move with every customer they write:
   * per tier, customers and the sum of their stored rolling monetary. Null for a partition
   * written before the counters existed (no 'cv' in its meta): count its customers instead.
   */
  async readTierCounters(topic: string, partition: number): Promise<Map<string, { customers: number; revenueMinor: number }> | null> {
    let meta: Record<string, string>;
    try {
      meta = await this.redis.hgetall(this.keys(topic, partition).meta);
    } catch (err) {
      throw toStateError('readTierCounters', err);
    }
    if (meta.cv !== '1') return null;
    const counters = new Map<string, { customers: number; revenueMinor: number }>();
    for (const [field, value] of Object.entries(meta)) {
      const kind = field.slice(0, 2);
      if (kind !== 'n:' && kind !== 'r:') continue;
      const tier = field.slice(2);
      const entry = counters.get(tier) ?? { customers: 0, revenueMinor: 0 };
      if (kind === 'n:') entry.customers = Number(value);
      else entry.revenueMinor = Number(value);
      counters.set(tier, entry);
    }
    return counters;
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

  private async run(script: LuaScript, keys: string[], args: (string | number)[]): Promise<number[]> {
    return checkScriptReply(script.name, await this.runRaw(script, keys, args));
  }

  private async runRaw(script: LuaScript, keys: string[], args: (string | number)[]): Promise<unknown> {
    const started = performance.now();
    try {
      const reply = await runScript(this.redis, script, keys, args);
      if (Array.isArray(reply) && typeof reply[0] === 'number' && reply[0] < 0) checkScriptReply(script.name, reply);
      this.instrumentation?.emit('state.script', { script: script.name, seconds: (performance.now() - started) / 1000, ok: true });
      return reply;
    } catch (err) {
      this.instrumentation?.emit('state.script', { script: script.name, seconds: (performance.now() - started) / 1000, ok: false });
      const error = toStateError(script.name, err);
      this.logger.error({ err: error, script: script.name, key: keys[0] }, 'state script failed');
      throw error;
    }
  }

  private toInspection(topic: string, partition: number, customerId: string, r: string[]): CustomerInspection {
    const num = (i: number): number => Number(r[i]);
    const opt = (i: number): number | null => (r[i] === '' || r[i] === undefined ? null : Number(r[i]));
    const ruleCode = num(11);
    let rule: MatchedRule;
    if (ruleCode === 0) rule = { kind: 'inactive' };
    else if (ruleCode < 0) rule = { kind: 'fallback' };
    else rule = { kind: 'tier', tier: this.policy.tiers[ruleCode - 1]?.name ?? '' };
    const now = num(0);
    const lastPurchaseAt = opt(5);
    return {
      customerId,
      topic,
      partition,
      now,
      tier: r[1] ?? '',
      tierSince: num(2),
      seq: num(3),
      pendingDowngradeSince: opt(4),
      lastPurchaseAt,
      buckets: decodeBuckets(r[6], r[7]),
      monetary: num(8),
      frequency: num(9),
      recencyMs: lastPurchaseAt === null ? null : now - lastPurchaseAt,
      rawTier: r[10] ?? '',
      rule,
      dueAt: opt(12),
      headroom: { toNextTierUp: opt(13), toDowngrade: opt(14) },
      timerAt: opt(15),
    };
  }
}
