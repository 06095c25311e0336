import type { RfmSnapshot } from './aggregates.js';
import { relaxedBound } from './relax.js';
import type { CompiledPolicy, CompiledTier, Metric } from '../policy/types.js';

/** How far a customer is from the neighbouring boundaries, in minor units. */
export interface Headroom {
  /**
   * Extra spend that would make the raw evaluation reach the next higher-ranked tier, assuming no
   * other condition of that tier fails: `max(0, lowerBound − monetary)` where the lower bound is
   * the tightest of its monetary `gt v` (v + 1) / `gte v` (v). Null at the top, when the next tier
   * is the fallback (from the inactive tier), has no monetary lower bound, or its
   * monetary upper bound (`lt`/`lte`) cannot be met by adding spend.
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

function metricRange(tier: CompiledTier, metric: Metric, marginBps: number): { min: number | null; max: number | null } {
  let min: number | null = null;
  let max: number | null = null;
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

/** Headroom of a customer in tier `tier` with the given snapshot (see {@link Headroom}). */
export function headroom(policy: CompiledPolicy, tier: string, snapshot: RfmSnapshot): Headroom {
  const index = policy.tiers.findIndex((candidate) => candidate.name === tier);
  const current = index >= 0 ? policy.tiers[index] : undefined;
  // The fallback's next tier up is the last listed tier; a listed tier's is the one before it.
  const next =
    tier === policy.fallbackTier ? policy.tiers[policy.tiers.length - 1] : index > 0 ? policy.tiers[index - 1] : undefined;

  const up = (metric: Metric, actual: number): number | null => {
    if (next === undefined) return null;
    const { min, max } = metricRange(next, metric, 0);
    if (min === null) return null;
    const needed = Math.max(0, min - actual);
    return max !== null && actual + needed > max ? null : needed;
  };
  const down = (metric: Metric, actual: number): number | null => {
    if (current === undefined) return null;
    const { min } = metricRange(current, metric, policy.hysteresis.downgradeMarginBps);
    return min === null ? null : Math.max(0, actual - min);
  };
  return {
    toNextTierUp: up('monetary', snapshot.monetary),
    toDowngrade: down('monetary', snapshot.monetary),
    averageDailyBalanceToNextTierUp: up('averageDailyBalance', snapshot.averageDailyBalance ?? 0),
    averageDailyBalanceToDowngrade: down('averageDailyBalance', snapshot.averageDailyBalance ?? 0),
  };
}
