/**
 * The compiled tier policy: what the loader produces from a policy file and what the engine
 * (src/engine) evaluates. Everything is in integer minor units and integer milliseconds, so no
 * evaluation depends on rounding. Plain data: it is hashed (content-hash.ts) to tell policies apart.
 */

/**
 * A metric a tier condition can test. `recencyMs` is now − last purchase time;
 * `averageDailyBalance` the time-weighted average of the accounts' balance sum over the window;
 * `profit` the transactions' summed margin over the window.
 */
export type Metric = 'monetary' | 'frequency' | 'recencyMs' | 'averageDailyBalance' | 'profit';

/** Metrics in minor units of the policy currency: the downgrade margin relaxes their lower bounds. */
export function isMoneyMetric(metric: Metric): boolean {
  return metric === 'monetary' || metric === 'averageDailyBalance' || metric === 'profit';
}

export type Comparison = 'gt' | 'gte' | 'lt' | 'lte';

export interface Condition {
  metric: Metric;
  op: Comparison;
  /** Minor units for monetary, averageDailyBalance and profit, a count for frequency, milliseconds for recencyMs. */
  value: number;
}

/** A metric customers can be ranked by (a relative condition). */
export type RankedMetric = 'monetary' | 'frequency';

/**
 * A relative condition: the customer's rank by `metric` in the ranked population lies in the band
 * of shares from `fromBps` (exclusive) to `toBps` (inclusive), in basis points of the population
 * (100 = 1 %). With N ranked customers the band holds the ranks
 * `floor(fromBps × N / 10000) + 1 .. floor(toBps × N / 10000)`; "top 1 %" is 0..100.
 * Rank 1 is the largest value; ties are broken by customer id ascending (src/engine/boundaries.ts).
 */
export interface ShareBand {
  metric: RankedMetric;
  fromBps: number;
  toBps: number;
}

/**
 * Who is ranked for the relative conditions. `active-purchasers`: customers with at least one
 * purchase counted in the window who are not in the inactive tier by the inactivity rule.
 */
export type RankedPopulation = 'active-purchasers';

export interface Ranking {
  population: RankedPopulation;
  /**
   * `ranking.every`, ms: the boundaries are recomputed at the aligned instants k × every (epoch
   * ms): in event clock at each such event-time instant once every partition has passed it (a
   * barrier), in wall clock at the first coordinator tick past each. Absent: wall clock only,
   * every PYRAMID_RANKING_INTERVAL.
   */
  everyMs?: number;
}

export interface CompiledTier {
  name: string;
  /**
   * Larger is more valuable. Decides the direction of a change (UP / DOWN) and which changes are
   * downgrades subject to hysteresis. The inactive tier has the lowest rank of all.
   *
   * The loader derives ranks from order: `tiers[i].rank = tiers.length - i + 1`, so the first tier
   * ranks highest and the last tier ranks 2; the fallback tier ranks {@link FALLBACK_RANK} (1) and
   * the inactive tier {@link INACTIVE_RANK} (0). Those two are not in `tiers`, so the engine
   * looks their rank up by name via these constants.
   */
  rank: number;
  /** All must hold (AND). An empty list always matches. */
  conditions: Condition[];
  /**
   * Relative conditions; all must hold, together with `conditions`. Absent or empty: an
   * absolute tier. Optional so hand-built policies in tests stay valid.
   */
  relative?: ShareBand[];
}

export interface Hysteresis {
  /** A downgrade takes effect only after the lower tier has been the evaluated tier this long. */
  downgradeGraceMs: number;
  /**
   * While in a tier, its lower money bounds (gt/gte of monetary, averageDailyBalance and profit)
   * are relaxed by this fraction, in basis
   * points (1000 = 10 %): relaxed = floor(value × (10000 − marginBps) / 10000).
   */
  downgradeMarginBps: number;
}

export interface CompiledPolicy {
  /** Free-form version string from the file; carried on every tier-change event. */
  version: string;
  name: string;
  /** ISO 4217 code. */
  currency: string;
  /** Decimal places of the currency's minor unit (CNY 2, JPY 0, KWD 3). */
  minorUnitDigits: number;
  windowMs: number;
  bucketMs: number;
  /** A customer who bought before but not within this long is in `inactiveTier`; null: no rule. */
  inactivityMs: number | null;
  inactiveTier: string | null;
  /** Ordered: first match wins. */
  tiers: CompiledTier[];
  /** Assigned when no tier matches (and the inactivity rule does not apply). */
  fallbackTier: string;
  hysteresis: Hysteresis;
  /** Set exactly when some tier has relative conditions: who is ranked. */
  ranking?: Ranking;
  /**
   * Boundary rule text per tier name (every entry of `tiers`, the fallback and the inactive tier),
   * e.g. `vip` -> "monetary > 58900.00 CNY", `inactive` -> "inactive: no purchase for 180d".
   * Set by the loader so both evaluators put the same text into change records verbatim; optional
   * only so hand-built policies in tests stay valid (the TS evaluator derives it when absent).
   */
  rules?: Record<string, string>;
  /**
   * Which signals (src/engine/signals.ts) the policy asks for; absent: none. Optional so a policy
   * without `signals` compiles (and hashes) exactly as before signals existed.
   */
  signals?: SignalSettings;
}

/**
 * How close to the next tier's monetary threshold counts as near: a fixed amount (minor units),
 * or a share of that threshold in basis points (1000 = 10 %: within floor(threshold × bps / 10000)).
 */
export type NearUpgradeDistance = { amountMinor: number } | { thresholdBps: number };

/** The signal settings of a policy (file field `signals`). */
export interface SignalSettings {
  /** NEAR_UPGRADE: emitted when the spend still missing to the next tier is within `within`; null: never. */
  nearUpgrade: { within: NearUpgradeDistance; cooldownMs: number } | null;
  /** DOWNGRADE_PENDING (and DOWNGRADE_CANCELLED) when a downgrade starts (stops) waiting out its grace. */
  downgradePending: boolean;
}

/** Rank of {@link CompiledPolicy.fallbackTier}: below every entry of `tiers`. */
export const FALLBACK_RANK = 1;

/** Rank of {@link CompiledPolicy.inactiveTier}: the lowest of all. */
export const INACTIVE_RANK = 0;
