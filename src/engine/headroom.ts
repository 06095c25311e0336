import type { RfmSnapshot } from './aggregates.js';
import { findCut } from './boundaries.js';
import type { RelativeContext } from './evaluate.js';
import { relaxedBound } from './relax.js';
import type { CompiledPolicy, CompiledTier, Metric } from '../policy/types.js';

/** How far a customer is from the neighbouring boundaries, in minor units. */
export interface Headroom {
  /**
   * Extra spend that would make the raw evaluation reach the next higher-ranked tier, assuming no
   * other condition of that tier fails: `max(0, lowerBound − monetary)` where the lower bound is
   * the tightest of its monetary `gt v` (v + 1) / `gte v` (v). Null at the top, when the next tier
   * is the fallback (from the inactive tier), has no monetary lower bound, or its
   * monetary upper bound (`lt`/`lte`) cannot be met by adding spend. A relative monetary band
   * counts with the boundaries in force, as if they did not move (see monetaryRange).
   */
  toNextTierUp: number | null;
  /**
   * How much monetary can fall while the current tier's monetary lower bound still holds, using
   * the bound as relaxed by the hysteresis margin (the bound that actually triggers a downgrade
   * while in the tier): `max(0, monetary − minimumAllowed)`. Null when the current tier has no
   * monetary lower bound (fallback, inactive, or no gt/gte monetary condition).
   */
  toDowngrade: number | null;
  /**
   * The same as {@link Headroom.toNextTierUp} for the average daily balance: how much higher the
   * average daily balance must be to reach the next higher-ranked tier (its averageDailyBalance
   * lower bound); null when that tier has none, or at the top.
   */
  averageDailyBalanceToNextTierUp?: number | null;
  /**
   * The same as {@link Headroom.toDowngrade} for the average daily balance: how far it can fall
   * while the current tier's averageDailyBalance lower bound, as relaxed by the margin, holds;
   * null when the tier has none.
   */
  averageDailyBalanceToDowngrade?: number | null;
}

/**
 * The range of `metric` a tier admits; null when a relative monetary band of it admits nobody now
 * (no boundaries yet, or a cut of rank 0). A band's `to` cut (key K) is a lower bound: K.value
 * when the customer's id sorts at or before K's, else K.value + 1 (relaxed by the margin to
 * floor(K.value × (10000 − margin) / 10000) for any id); its `from` cut (key F) an upper bound:
 * F.value when the id sorts after F's, else F.value − 1.
 */
function metricRange(
  tier: CompiledTier,
  metric: Metric,
  marginBps: number,
  relative: RelativeContext | undefined,
): { min: number | null; max: number | null } | null {
  let min: number | null = null;
  let max: number | null = null;
  for (const band of tier.relative ?? []) {
    if (band.metric !== metric) continue;
    const boundaries = relative?.boundaries ?? null;
    if (relative === undefined || boundaries === null) return null;
    const id = relative.customerId;
    const to = findCut(boundaries, 'monetary', band.toBps)?.key ?? null;
    if (to === null) return null;
    const lower = marginBps > 0 ? relaxedBound(to.value, marginBps) : id <= to.customerId ? to.value : to.value + 1;
    min = Math.max(min ?? -Infinity, lower);
    const from = band.fromBps === 0 ? null : (findCut(boundaries, 'monetary', band.fromBps)?.key ?? null);
    if (from !== null) max = Math.min(max ?? Infinity, id > from.customerId ? from.value : from.value - 1);
  }
  for (const condition of tier.conditions) {
    if (condition.metric !== metric) continue;
    const bound = condition.op === 'gt' || condition.op === 'gte' ? relaxedBound(condition.value, marginBps) : condition.value;
    switch (condition.op) {
      case 'gt':
        min = Math.max(min ?? -Infinity, bound + 1);
        break;
      case 'gte':
        min = Math.max(min ?? -Infinity, bound);
        break;
      case 'lt':
        max = Math.min(max ?? Infinity, bound - 1);
        break;
      case 'lte':
        max = Math.min(max ?? Infinity, bound);
        break;
    }
  }
  return { min, max };
}

/** The next tier up from a customer's tier and the spend still missing to reach it. */
export interface UpgradeDistance {
  /** The next higher-ranked tier. */
  tier: string;
  /** Its monetary lower bound as an inclusive minimum: `gt v` gives v + 1, `gte v` gives v. */
  threshold: number;
  /** `max(0, threshold − monetary)`: {@link Headroom.toNextTierUp}. */
  missing: number;
}

function nextTierUp(policy: CompiledPolicy, tier: string): CompiledTier | undefined {
  // The fallback's next tier up is the last listed tier; a listed tier's is the one before it.
  if (tier === policy.fallbackTier) return policy.tiers[policy.tiers.length - 1];
  const index = policy.tiers.findIndex((candidate) => candidate.name === tier);
  return index > 0 ? policy.tiers[index - 1] : undefined;
}

/** The next tier up's lower bound of `metric` and how much is missing to it (see {@link upgradeDistance}). */
function distanceUp(policy: CompiledPolicy, tier: string, metric: Metric, actual: number, relative: RelativeContext | undefined): UpgradeDistance | null {
  const next = nextTierUp(policy, tier);
  if (next === undefined) return null;
  const { min, max } = metricRange(next, metric, 0, relative) ?? { min: null, max: null };
  if (min === null) return null;
  const missing = Math.max(0, min - actual);
  if (max !== null && actual + missing > max) return null;
  return { tier: next.name, threshold: min, missing };
}

/**
 * How far a customer in tier `tier` is from the next tier up by spend; null when
 * {@link Headroom.toNextTierUp} is null (top tier, inactive, no monetary lower bound, or an upper
 * bound that extra spend would overshoot).
 */
export function upgradeDistance(policy: CompiledPolicy, tier: string, snapshot: RfmSnapshot, relative?: RelativeContext): UpgradeDistance | null {
  return distanceUp(policy, tier, 'monetary', snapshot.monetary, relative);
}

/**
 * Extra spend that makes the current tier's monetary lower bound, as relaxed by the margin, hold
 * again: `max(0, minimumAllowed − monetary)`, the mirror of {@link Headroom.toDowngrade} (one of
 * the two is always 0). What a customer waiting out a downgrade grace can spend to stay; 0 when
 * monetary is not what fails. Null when the tier has no monetary lower bound.
 */
export function spendToStay(policy: CompiledPolicy, tier: string, snapshot: RfmSnapshot, relative?: RelativeContext): number | null {
  const min = currentFloor(policy, tier, 'monetary', relative);
  return min === null ? null : Math.max(0, min - snapshot.monetary);
}

/** The current tier's lower bound of `metric`, relaxed by the downgrade margin; null: none. */
function currentFloor(policy: CompiledPolicy, tier: string, metric: Metric, relative: RelativeContext | undefined): number | null {
  const current = policy.tiers.find((candidate) => candidate.name === tier);
  return current === undefined ? null : (metricRange(current, metric, policy.hysteresis.downgradeMarginBps, relative)?.min ?? null);
}

/** Headroom of a customer in tier `tier` with the given snapshot (see {@link Headroom}). */
export function headroom(policy: CompiledPolicy, tier: string, snapshot: RfmSnapshot, relative?: RelativeContext): Headroom {
  const down = (metric: Metric, actual: number): number | null => {
    const min = currentFloor(policy, tier, metric, relative);
    return min === null ? null : Math.max(0, actual - min);
  };
  const balance = snapshot.averageDailyBalance ?? 0;
  return {
    toNextTierUp: upgradeDistance(policy, tier, snapshot, relative)?.missing ?? null,
    toDowngrade: down('monetary', snapshot.monetary),
    averageDailyBalanceToNextTierUp: distanceUp(policy, tier, 'averageDailyBalance', balance, relative)?.missing ?? null,
    averageDailyBalanceToDowngrade: down('averageDailyBalance', balance),
  };
}
