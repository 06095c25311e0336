import { firstCountedBucket, type RfmSnapshot } from './aggregates.js';
import { relaxedBound } from './relax.js';
import type { CustomerState } from './types.js';
import type { CompiledPolicy, RankedMetric, ShareBand } from '../policy/types.js';

/**
 * Relative (share-of-customers) tiers: the ranking rule, the exact boundary of every rank cut a
 * policy uses, and the test of one customer against given boundaries.
 *
 * The ranking is a total order: value descending, then customer id ascending (JavaScript string
 * order, i.e. UTF-16 code units; for ASCII ids that is byte order). A band's cut at share s of N
 * ranked customers is rank floor(s × N) (s in basis points: floor(bps × N / 10000), exact in
 * integers), and its boundary is the rank key (value, customer id) of the customer at that rank.
 * Because the boundary carries the tie-break key, a customer is at or above the cut exactly when a
 * full sort puts them at rank <= floor(s × N): "in the top s" needs no rank of its own.
 */

/** Where a customer stands in the ranking by one metric. */
export interface RankKey {
  value: number;
  customerId: string;
}

/** One cut a policy ranks by: the first floor(bps × N / 10000) ranked customers by `metric`. */
export interface RankCut {
  metric: RankedMetric;
  bps: number;
}

/** A cut's boundary for one population. */
export interface CutBoundary extends RankCut {
  /** floor(bps × population / 10000): how many ranked customers are at or above the cut. */
  rank: number;
  /** Rank key of the customer at `rank`; null when `rank` is 0 (nobody is above the cut). */
  key: RankKey | null;
}

/** The boundaries of every cut of a policy, as one epoch published them. */
export interface RelativeBoundaries {
  /** Publication number, from 1; each epoch is computed once and never changes. */
  epoch: number;
  /** The instant whose state the boundaries were computed from (epoch ms). */
  at: number;
  /** N: customers in the ranked population at `at`. */
  population: number;
  /** One entry per {@link policyCuts} entry, in that order. */
  cuts: CutBoundary[];
}

/** A ranked customer's values, as the boundary computation reads them. */
export interface RankedCustomer {
  customerId: string;
  monetary: number;
  frequency: number;
}

/** Negative when `a` ranks before (above) `b`, positive after, 0 for the same key. */
export function compareRank(a: RankKey, b: RankKey): number {
  if (a.value !== b.value) return a.value > b.value ? -1 : 1;
  return a.customerId < b.customerId ? -1 : a.customerId > b.customerId ? 1 : 0;
}

/** floor(bps × population / 10000): exact while bps × population < 2^53 (N below 9 × 10^11). */
export function cutRank(bps: number, population: number): number {
  return Math.floor((bps * population) / 10_000);
}

const CUTS = new WeakMap<CompiledPolicy, RankCut[]>();

/**
 * Every cut the policy's relative conditions use (each band's `to`, and its `from` unless 0 %),
 * sorted by metric then share, no duplicates; empty for an absolute policy.
 */
export function policyCuts(policy: CompiledPolicy): RankCut[] {
  let cuts = CUTS.get(policy);
  if (cuts === undefined) {
    const seen = new Map<string, RankCut>();
    for (const tier of policy.tiers) {
      for (const band of tier.relative ?? []) {
        for (const bps of [band.fromBps, band.toBps]) {
          if (bps > 0) seen.set(`${band.metric}:${bps}`, { metric: band.metric, bps });
        }
      }
    }
    cuts = [...seen.values()].sort((a, b) => (a.metric === b.metric ? a.bps - b.bps : a.metric < b.metric ? -1 : 1));
    CUTS.set(policy, cuts);
  }
  return cuts;
}

/**
 * Whether the customer is in the policy's ranked population at `now` (the `active-purchasers`
 * population: a purchase counted in the window, and not inactive by the inactivity rule).
 */
export function inRankedPopulation(policy: CompiledPolicy, snapshot: RfmSnapshot, now: number): boolean {
  return isRanked(policy, snapshot.frequency, snapshot.lastPurchaseAt, now);
}

function isRanked(policy: CompiledPolicy, frequency: number, lastPurchaseAt: number | null, now: number): boolean {
  if (frequency < 1) return false;
  return !(policy.inactivityMs !== null && lastPurchaseAt !== null && now - lastPurchaseAt >= policy.inactivityMs);
}

/**
 * A stored customer's ranked values at `now` (monetary and frequency over the window), or null
 * when the customer is not in the ranked population then. What the commit keeps in the
 * partition's ranked sets, so the coordinator needs no scan of the customers.
 */
export function rankedValues(policy: CompiledPolicy, state: CustomerState, now: number): { monetary: number; frequency: number } | null {
  // Runs for every customer a relative policy's commit writes: no intermediate objects.
  const first = firstCountedBucket(policy, now);
  let monetary = 0;
  let frequency = 0;
  for (const bucket of state.buckets) {
    if (bucket.index < first) continue;
    monetary += bucket.monetary;
    frequency += bucket.frequency;
  }
  return isRanked(policy, frequency, state.lastPurchaseAt, now) ? { monetary, frequency } : null;
}

/**
 * The key at rank `rank` given `above` (how many ranked customers have a larger value than the
 * rank's value) and `tiedIds` (the ids of every customer with exactly that value, any order).
 */
export function keyAtRank(rank: number, value: number, above: number, tiedIds: readonly string[]): RankKey {
  const sorted = [...tiedIds].sort();
  const customerId = sorted[rank - above - 1];
  if (customerId === undefined) throw new RangeError(`keyAtRank: rank ${rank} is not among the ${sorted.length} customers at value ${value} after ${above} above it`);
  return { value, customerId };
}

/** The value a customer is ranked by. */
export function rankedValue(metric: RankedMetric, values: { monetary: number; frequency: number }): number {
  return metric === 'monetary' ? values.monetary : values.frequency;
}

/**
 * The key at each of `ranks` (1-based, ascending, each in 1..N) of `customers` ranked by `metric`,
 * without sorting the ids of the whole population: the values are sorted as doubles, the value at
 * each rank read off, and only the ids tied at that value are sorted.
 */
function keysAtRanks(metric: RankedMetric, customers: readonly RankedCustomer[], ranks: readonly number[]): Map<number, RankKey> {
  const values = new Float64Array(customers.length);
  for (let i = 0; i < customers.length; i++) values[i] = rankedValue(metric, customers[i] as RankedCustomer);
  values.sort(); // ascending; rank r (descending) is index N - r
  const n = values.length;
  // value at rank r, and how many customers rank above every customer with that value
  const wanted = new Map<number, { value: number; above: number }>();
  for (const rank of ranks) {
    const value = values[n - rank] as number;
    let lo = n - rank;
    let hi = n; // first index holding a value > value
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((values[mid] as number) > value) hi = mid;
      else lo = mid + 1;
    }
    wanted.set(rank, { value, above: n - lo });
  }
  const tied = new Map<number, string[]>();
  for (const { value } of wanted.values()) tied.set(value, []);
  for (const customer of customers) tied.get(rankedValue(metric, customer))?.push(customer.customerId);
  for (const ids of tied.values()) ids.sort();
  const keys = new Map<number, RankKey>();
  for (const [rank, { value, above }] of wanted) {
    keys.set(rank, { value, customerId: (tied.get(value) as string[])[rank - above - 1] as string });
  }
  return keys;
}

/**
 * The exact boundaries of every cut of `policy` over `customers`, the whole ranked population
 * (every partition's members, each once; see {@link inRankedPopulation}). The result is what a
 * full sort of the population gives: the key at rank floor(bps × N / 10000) of each cut.
 *
 * @throws RangeError when a customer id appears twice (a population must rank each customer once).
 */
export function computeBoundaries(policy: CompiledPolicy, customers: readonly RankedCustomer[], epoch: number, at: number): RelativeBoundaries {
  const population = customers.length;
  const cuts = policyCuts(policy);
  const keysByMetric = new Map<RankedMetric, Map<number, RankKey>>();
  for (const metric of ['monetary', 'frequency'] as const) {
    const ranks = [...new Set(cuts.filter((cut) => cut.metric === metric).map((cut) => cutRank(cut.bps, population)))].filter((r) => r > 0);
    if (ranks.length > 0) keysByMetric.set(metric, keysAtRanks(metric, customers, ranks));
  }
  if (cuts.length > 0 && new Set(customers.map((c) => c.customerId)).size !== population) {
    throw new RangeError('computeBoundaries: a customer id appears more than once in the ranked population');
  }
  return {
    epoch,
    at,
    population,
    cuts: cuts.map((cut) => {
      const rank = cutRank(cut.bps, population);
      return { ...cut, rank, key: rank === 0 ? null : (keysByMetric.get(cut.metric)?.get(rank) ?? null) };
    }),
  };
}

const CUT_INDEX = new WeakMap<RelativeBoundaries, Record<RankedMetric, Map<number, CutBoundary>>>();

/** The boundary of one cut; undefined when the boundaries do not have it (another policy's). */
export function findCut(boundaries: RelativeBoundaries, metric: RankedMetric, bps: number): CutBoundary | undefined {
  // Looked up for every evaluation: indexed once per epoch.
  let index = CUT_INDEX.get(boundaries);
  if (index === undefined) {
    index = { monetary: new Map(), frequency: new Map() };
    for (const cut of boundaries.cuts) index[cut.metric].set(cut.bps, cut);
    CUT_INDEX.set(boundaries, index);
  }
  return index[metric].get(bps);
}

/** Whether `key` ranks at or above the cut (bps 0: nobody is). */
export function atOrAboveCut(boundaries: RelativeBoundaries, metric: RankedMetric, bps: number, key: RankKey): boolean {
  if (bps === 0) return false;
  const cut = findCut(boundaries, metric, bps);
  return cut !== undefined && cut.key !== null && compareRank(key, cut.key) <= 0;
}

/**
 * Whether a ranked customer's band holds: at or above its `to` cut and not at or above its
 * `from` cut. The caller checks population membership first ({@link inRankedPopulation}).
 * `relaxedTo`: the hysteresis margin in basis points relaxing a monetary `to` cut's value to
 * floor(value × (10000 − margin) / 10000) while the customer is in the tier (then any customer
 * id at that value holds); the `from` cut is never relaxed, as a monetary `lt`/`lte` is not.
 */
export function bandHolds(
  boundaries: RelativeBoundaries,
  band: ShareBand,
  customerId: string,
  values: { monetary: number; frequency: number },
  relaxedTo = 0,
): boolean {
  const key = { value: rankedValue(band.metric, values), customerId };
  if (atOrAboveCut(boundaries, band.metric, band.fromBps, key)) return false;
  if (relaxedTo > 0 && band.metric === 'monetary') {
    const cut = findCut(boundaries, band.metric, band.toBps);
    if (cut?.key != null && key.value >= relaxedBound(cut.key.value, relaxedTo)) return true;
  }
  return atOrAboveCut(boundaries, band.metric, band.toBps, key);
}
