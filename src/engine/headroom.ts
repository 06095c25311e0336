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

/**
 * How far a customer in tier `tier` is from the next tier up by spend; null when
 * {@link Headroom.toNextTierUp} is null (top tier, inactive, no monetary lower bound, or an upper
 * bound that extra spend would overshoot).
 */
export function upgradeDistance(policy: CompiledPolicy, tier: string, snapshot: RfmSnapshot): UpgradeDistance | null {
  const next = nextTierUp(policy, tier);
  if (next === undefined) return null;
  const { min, max } = monetaryRange(next, 0);
  if (min === null) return null;
  const missing = Math.max(0, min - snapshot.monetary);
  if (max !== null && snapshot.monetary + missing > max) return null;
  return { tier: next.name, threshold: min, missing };
}

/**
 * Extra spend that makes the current tier's monetary lower bound, as relaxed by the margin, hold
 * again: `max(0, minimumAllowed − monetary)`, the mirror of {@link Headroom.toDowngrade} (one of
 * the two is always 0). What a customer waiting out a downgrade grace can spend to stay; 0 when
 * monetary is not what fails. Null when the tier has no monetary lower bound.
 */
export function spendToStay(policy: CompiledPolicy, tier: string, snapshot: RfmSnapshot): number | null {
  const min = currentFloor(policy, tier);
  return min === null ? null : Math.max(0, min - snapshot.monetary);
}

function currentFloor(policy: CompiledPolicy, tier: string): number | null {
  const current = policy.tiers.find((candidate) => candidate.name === tier);
  return current === undefined ? null : monetaryRange(current, policy.hysteresis.downgradeMarginBps).min;
}

/** Headroom of a customer in tier `tier` with the given snapshot (see {@link Headroom}). */
export function headroom(policy: CompiledPolicy, tier: string, snapshot: RfmSnapshot): Headroom {
  const min = currentFloor(policy, tier);
  return {
    toNextTierUp: upgradeDistance(policy, tier, snapshot)?.missing ?? null,
    toDowngrade: min === null ? null : Math.max(0, snapshot.monetary - min),
  };
}
