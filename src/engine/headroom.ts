import type { RfmSnapshot } from './aggregates.js';
import { findCut } from './boundaries.js';
import { relaxedBound, type RelativeContext } from './evaluate.js';
import type { CompiledPolicy, CompiledTier } from '../policy/types.js';

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
}

/**
 * The monetary range a tier admits; null when a relative monetary band of it admits nobody now
 * (no boundaries yet, or a cut of rank 0). A band's `to` cut (key K) is a lower bound: K.value
 * when the customer's id sorts at or before K's, else K.value + 1 (relaxed by the margin to
 * floor(K.value × (10000 − margin) / 10000) for any id); its `from` cut (key F) an upper bound:
 * F.value when the id sorts after F's, else F.value − 1.
 */
function monetaryRange(
  tier: CompiledTier,
  marginBps: number,
  relative: RelativeContext | undefined,
): { min: number | null; max: number | null } | null {
  let min: number | null = null;
  let max: number | null = null;
  for (const band of tier.relative ?? []) {
    if (band.metric !== 'monetary') continue;
    const boundaries = relative?.boundaries ?? null;
    if (relative === undefined || boundaries === null) return null;
    const id = relative.customerId;
    const to = findCut(boundaries, 'monetary', band.toBps)?.key ?? null;
    if (to === null) return null;
    const lower = marginBps > 0 ? Math.floor((to.value * (10_000 - marginBps)) / 10_000) : id <= to.customerId ? to.value : to.value + 1;
    min = Math.max(min ?? -Infinity, lower);
    const from = band.fromBps === 0 ? null : (findCut(boundaries, 'monetary', band.fromBps)?.key ?? null);
    if (from !== null) max = Math.min(max ?? Infinity, id > from.customerId ? from.value : from.value - 1);
  }
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
export function headroom(policy: CompiledPolicy, tier: string, snapshot: RfmSnapshot, relative?: RelativeContext): Headroom {
  const index = policy.tiers.findIndex((candidate) => candidate.name === tier);
  const current = index >= 0 ? policy.tiers[index] : undefined;
  // The fallback's next tier up is the last listed tier; a listed tier's is the one before it.
  const next =
    tier === policy.fallbackTier ? policy.tiers[policy.tiers.length - 1] : index > 0 ? policy.tiers[index - 1] : undefined;

  let toNextTierUp: number | null = null;
  if (next !== undefined) {
    const { min, max } = monetaryRange(next, 0, relative) ?? { min: null, max: null };
    if (min !== null) {
      const needed = Math.max(0, min - snapshot.monetary);
      toNextTierUp = max !== null && snapshot.monetary + needed > max ? null : needed;
    }
  }

  let toDowngrade: number | null = null;
  if (current !== undefined) {
    const { min } = monetaryRange(current, policy.hysteresis.downgradeMarginBps, relative) ?? { min: null };
    if (min !== null) toDowngrade = Math.max(0, snapshot.monetary - min);
  }
  return { toNextTierUp, toDowngrade };
}
