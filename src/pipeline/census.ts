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
  /**
   * Also check the 80/20/30 rule (PyramidCensus.profitConcentration): every customer's rolling
   * profit is read (a scan, O(customers), the profits held in memory to rank them). Computed at
   * most once per this many ms and carried into the censuses between (0: every census); absent:
   * never.
   */
  profitConcentrationEveryMs?: number;
}

/** The HSCAN COUNT hint, and how many customers are counted between pauses. */
const SCAN_COUNT = 1000;

/**
 * Counts customers, rolling revenue and rolling profit per tier from the Redis state. Revenue is
 * what the tiers are built on: net spend in the rolling window; profit is the transactions'
 * summed margin in it.
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

  type Totals = Map<string, { customers: number; revenueMinor: number; profitMinor: number }>;
  const add = (totals: Totals, tier: string, customers: number, revenueMinor: number, profitMinor: number): void => {
    const entry = totals.get(tier) ?? { customers: 0, revenueMinor: 0, profitMinor: 0 };
    entry.customers += customers;
    entry.revenueMinor += revenueMinor;
    entry.profitMinor += profitMinor;
    totals.set(tier, entry);
  };

  /** The partition's clock: the wall clock, or its event-time watermark (null: it applied nothing). */
  const clockOf = (eventWatermark: number | null): number | null => (options.clock === 'event' ? eventWatermark : now());

  /** Every classified customer of a partition with its rolling totals at the partition's clock. */
  async function* scanPartition(partition: number, eventWatermark: number | null): AsyncGenerator<{ tier: string; monetary: number; profit: number }> {
    const clock = clockOf(eventWatermark);
    if (clock === null) return;
    const firstCounted = firstCountedBucket(policy, clock);
    let counted = 0;
    for await (const { state } of store.scanCustomers(topic, partition, { count: SCAN_COUNT })) {
      if (state.tier === null) continue;
      const { monetary, profit } = windowTotals(state.buckets, firstCounted);
      yield { tier: state.tier, monetary, profit };
      if (pause > 0 && ++counted % SCAN_COUNT === 0) await new Promise((r) => setTimeout(r, pause));
    }
  }

  let concentration: PyramidCensus['profitConcentration'];

  async function census(): Promise<PyramidCensus> {
    const totals: Totals = new Map();
    for (const name of tierNames) totals.set(name, { customers: 0, revenueMinor: 0, profitMinor: 0 });
    const every = options.profitConcentrationEveryMs;
    const rank = every !== undefined && (concentration === undefined || now() - concentration.at >= every);
    const profits: number[] = [];
    for (const partition of await options.partitions()) {
      const meta = await store.readMeta(topic, partition);
      if (meta === null) continue;
      if (options.method !== 'scan') {
        for (const [tier, counted] of meta.counters) add(totals, tier, counted.customers, counted.revenueMinor, counted.profitMinor ?? 0);
      }
      if (options.method !== 'scan' && !rank) continue;
      for await (const customer of scanPartition(partition, meta.eventWatermark)) {
        if (options.method === 'scan') add(totals, customer.tier, 1, customer.monetary, customer.profit);
        if (rank) profits.push(customer.profit);
      }
    }
    if (rank) concentration = profitConcentration(profits, now());
    return {
      currency: policy.currency,
      minorUnitDigits: policy.minorUnitDigits,
      tiers: [...totals].map(([tier, t]) => ({ tier, rank: rankOf(policy, tier) ?? -1, customers: t.customers, revenueMinor: t.revenueMinor, profitMinor: t.profitMinor })),
      ...(concentration === undefined ? {} : { profitConcentration: concentration }),
    };
  }

  return { census };
}

/**
 * The 80/20/30 figures of a population's profits: ranked from most to least profitable, the top
 * floor(0.2 N) customers' profit and the bottom floor(0.3 N) customers' profit (negative when
 * they consume profit), next to the total. `at`: when it was computed.
 */
export function profitConcentration(profits: readonly number[], at: number): NonNullable<PyramidCensus['profitConcentration']> {
  const ranked = Float64Array.from(profits).sort().reverse();
  const top20Customers = Math.floor(ranked.length * 0.2);
  const bottom30Customers = Math.floor(ranked.length * 0.3);
  let total = 0;
  let top = 0;
  let bottom = 0;
  ranked.forEach((profit, i) => {
    total += profit;
    if (i < top20Customers) top += profit;
    if (i >= ranked.length - bottom30Customers) bottom += profit;
  });
  return { customers: ranked.length, totalProfitMinor: total, top20Customers, top20ProfitMinor: top, bottom30Customers, bottom30ProfitMinor: bottom, at };
}
