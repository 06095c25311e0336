import { firstCountedBucket, windowTotals } from '../engine/aggregates.js';
import type { ClockMode } from '../engine/apply.js';
import { rankOf } from '../engine/evaluate.js';
import type { InstrumentationEvents } from '../instrumentation.js';
import type { CompiledPolicy } from '../policy/types.js';
import type { StateStore } from '../state/store.js';

export type PyramidCensus = InstrumentationEvents['pyramid.census'];

export interface CensusOptions {
  store: StateStore;
  policy: CompiledPolicy;
  topic: string;
  clock: ClockMode;
  /** Partitions of the input topic to count. */
  partitions(): Promise<number[]> | number[];
  /** Wall clock, epoch ms; tests pass their own. */
  now?: () => number;
  /**
   * Pause after every 1000 customers of a scan (default 0). A scorer sets a few ms so a scan of a
   * large state spreads out instead of holding its event loop and Redis in one burst.
   */
  pauseBetweenRoundsMs?: number;
  /**
   * `counters` (default): read each partition's per-tier counters, which every commit moves with
   * the customers it writes (a few fields per partition). `scan`: count every customer
   * (O(customers); a cross-check).
   */
  method?: 'counters' | 'scan';
}

/** The HSCAN COUNT hint, and how many customers are counted between pauses. */
const SCAN_COUNT = 1000;

/**
 * Counts customers and rolling revenue per tier from the Redis state. Revenue is what the tiers
 * are built on: net spend in the rolling window.
 *
 * By default from the per-tier counters in each partition meta: O(partitions), exact as of each
 * customer's last evaluation (a window bucket or an inactivity horizon passed but not yet fired by
 * the sweeper shows up once it fires, within a sweep interval).
 *
 * `scan` reads every stored customer (HSCAN, cursor based, never blocking Redis like KEYS),
 * summing the window at the partition's clock (wall clock, or the event-time watermark in event
 * mode): O(customers).
 */
export function createCensus(options: CensusOptions): { census(): Promise<PyramidCensus> } {
  const { store, policy, topic } = options;
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
    const meta = await store.readMeta(topic, partition);
    if (meta === null) return;
    if (options.method !== 'scan') {
      for (const [tier, counted] of meta.counters) add(totals, tier, counted.customers, counted.revenueMinor);
      return;
    }
    let clock = now();
    if (options.clock === 'event') {
      if (meta.eventWatermark === null) return;
      clock = meta.eventWatermark;
    }
    const firstCounted = firstCountedBucket(policy, clock);
    let counted = 0;
    for await (const { state } of store.scanCustomers(topic, partition, { count: SCAN_COUNT })) {
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
