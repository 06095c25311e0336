import type { Cluster, Redis } from 'ioredis';
import type { InstrumentationEvents } from '../instrumentation.js';
import { firstCountedBucket } from '../policy/aggregates.js';
import { rankOf } from '../policy/evaluate.js';
import type { CompiledPolicy } from '../policy/types.js';
import { scanCustomers, windowTotals } from '../state/customer-hash.js';
import type { ClockMode, StateStore } from '../state/store.js';

export type PyramidCensus = InstrumentationEvents['pyramid.census'];

export interface CensusOptions {
  redis: Redis | Cluster;
  store: StateStore;
  policy: CompiledPolicy;
  topic: string;
  clock: ClockMode;
  /** Partitions of the input topic to count. */
  partitions(): Promise<number[]> | number[];
  /** Wall clock, epoch ms; tests pass their own. */
  now?: () => number;
  /**
   * Pause after every 1000 customers (default 0). A scorer sets a few ms so a census of a large
   * state spreads out instead of holding its event loop and Redis in one burst (latency spikes).
   */
  pauseBetweenRoundsMs?: number;
  /**
   * `counters` (default): read each partition's per-tier counters, which the engine keeps in the
   * partition meta (a few fields per partition), and count customers only for a partition written
   * before counters existed. `scan`: count every customer (O(customers); a cross-check).
   */
  method?: 'counters' | 'scan';
}

/** The SCAN / HSCAN COUNT hint, and how many customers are counted between pauses. */
const SCAN_COUNT = 1000;

/**
 * Counts customers and rolling revenue per tier from the Redis state. Revenue is what the tiers
 * are built on: net spend in the rolling window.
 *
 * By default from the per-tier counters the Lua engine moves with every customer it writes
 * ('n:<tier>' and 'r:<tier>' in the partition meta): O(partitions), exact as of each customer's
 * last evaluation (a window bucket or an inactivity horizon passed but not yet fired by the
 * sweeper shows up once it fires, within a sweep interval).
 *
 * `scan` (and any partition without counters) reads every stored customer through src/state's
 * `scanCustomers` (HSCAN, cursor based, never blocking Redis like KEYS; the one decoder of the
 * layout), summing the window at the partition's clock (wall clock, or the event-time watermark
 * in event mode): O(customers).
 */
export function createCensus(options: CensusOptions): { census(): Promise<PyramidCensus> } {
  const { redis, store, policy, topic } = options;
  const now = options.now ?? Date.now;
  const pause = options.pauseBetweenRoundsMs ?? 0;

  const tierNames = [...policy.tiers.map((tier) => tier.name), policy.fallbackTier, ...(policy.inactiveTier === null ? [] : [policy.inactiveTier])];

  type Totals = Map<string, { customers: number; revenueMinor: number }>;
  const add = (totals: Totals, tier: string, customers: number, revenueMinor: number): void => {
    const entry = totals.get(tier) ?? { customers: 0, revenueMinor: 0 };
    entry.customers += customers;
    entry.revenueMinor += revenueMinor;
    totals.set(tier, entry);
  };

  async function countPartition(partition: number, totals: Totals): Promise<void> {
    const keys = store.keys(topic, partition);
    const counters = options.method === 'scan' ? null : await store.readTierCounters(topic, partition);
    if (counters !== null) {
      for (const [tier, counted] of counters) add(totals, tier, counted.customers, counted.revenueMinor);
      return;
    }
    let clock = now();
    if (options.clock === 'event') {
      const watermark = await store.readWatermark(topic, partition);
      if (watermark.eventTime === null) return;
      clock = watermark.eventTime;
    }
    const firstCounted = firstCountedBucket(policy, clock);
    let counted = 0;
    for await (const { state } of scanCustomers(redis, keys, { count: SCAN_COUNT })) {
      if (state.tier === null) continue;
      add(totals, state.tier, 1, windowTotals(state.buckets, firstCounted).monetary);
      if (pause > 0 && ++counted % SCAN_COUNT === 0) await new Promise((r) => setTimeout(r, pause));
    }
  }

  return {
    async census() {
      const totals: Totals = new Map();
      for (const name of tierNames) totals.set(name, { customers: 0, revenueMinor: 0 });
      for (const partition of await options.partitions()) await countPartition(partition, totals);
      return {
        currency: policy.currency,
        minorUnitDigits: policy.minorUnitDigits,
        tiers: [...totals].map(([tier, t]) => ({ tier, rank: rankOf(policy, tier) ?? -1, customers: t.customers, revenueMinor: t.revenueMinor })),
      };
    },
  };
}

/**
 * The partitions of `topic` that have state under the store's prefix, found from their meta
 * keys (so `report` and `inspect` need Redis only, not Kafka).
 */
export async function partitionsWithState(redis: Redis | Cluster, store: StateStore, topic: string): Promise<number[]> {
  const sample = store.keys(topic, 0).meta;
  const [before, after] = sample.split(`{${topic}:0}`) as [string, string];
  const found = new Set<number>();
  let cursor = '0';
  do {
    const [nextCursor, keys] = await redis.scan(cursor, 'MATCH', `${before}{${topic}:*}${after}`, 'COUNT', SCAN_COUNT);
    cursor = nextCursor;
    for (const key of keys) {
      const match = /\{.*:(\d+)\}/.exec(key);
      if (match?.[1] !== undefined) found.add(Number(match[1]));
    }
  } while (cursor !== '0');
  return [...found].sort((a, b) => a - b);
}
