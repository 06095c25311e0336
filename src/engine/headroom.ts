import type { RfmSnapshot } from './aggregates.js';
import { relaxedBound } from './evaluate.js';
import type { CompiledPolicy, CompiledTier } from '../policy/types.js';

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
}

function monetaryRange(tier: CompiledTier, marginBps: number): { min: number | null; max: number | null } {
  let min: number | null = null;
  let max: number | null = null;
  for (const condition of tier.conditions) {
    if (condition.metric !== 'monetary') continue;
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

  let toNextTierUp: number | null = null;
  if (next !== undefined) {
    const { min, max } = monetaryRange(next, 0);
    if (min !== null) {
      const needed = Math.max(0, min - snapshot.monetary);
      toNextTierUp = max !== null && snapshot.monetary + needed > max ? null : needed;
    }
  }

  let toDowngrade: number | null = null;
  if (current !== undefined) {
    const { min } = monetaryRange(current, policy.hysteresis.downgradeMarginBps);
    if (min !== null) toDowngrade = Math.max(0, snapshot.monetary - min);
  }
  return { toNextTierUp, toDowngrade };
}
