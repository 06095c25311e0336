import { conditionHolds, type RfmSnapshot } from './aggregates.js';
import { bandHolds, inRankedPopulation, type RelativeBoundaries } from './boundaries.js';
import { ruleText } from '../policy/describe.js';
import { FALLBACK_RANK, INACTIVE_RANK, isMoneyMetric, type CompiledPolicy, type CompiledTier, type Condition } from '../policy/types.js';
import { relaxedBound } from './relax.js';

/** Direction of a tier change; NEW is the first classification of a customer. */
export type ChangeDirection = 'UP' | 'DOWN' | 'NEW';

/** The tier whose rule decided a change and that rule in words. */
export interface Boundary {
  tier: string;
  rule: string;
}

/** What the evaluator needs to know about the customer's current tier. */
export interface PriorTier {
  /** Current tier; null before the first classification. */
  tier: string | null;
  /** Start of a downgrade waiting out its grace period; null when none is waiting. */
  pendingDowngradeSince: number | null;
}

/** Outcome of {@link evaluateTier}. */
export interface TierDecision {
  /** The tier after hysteresis: what the customer is in from `now` on. */
  tier: string;
  /** The tier of the raw evaluation (inactivity, first matching tier, fallback). */
  rawTier: string;
  /** Value to store; null unless a downgrade is now waiting out its grace period. */
  pendingDowngradeSince: number | null;
  /** True when `tier` differs from the prior tier (always true on first classification). */
  changed: boolean;
  /** Set when `changed`. */
  direction: ChangeDirection | null;
  /**
   * Set when `changed`: the new tier on UP / NEW; on DOWN the old tier (whose rule stopped
   * holding), except a DOWN into the inactive tier, whose boundary is the inactive tier and its
   * "inactive: no purchase for …" rule (the old tier's conditions may still hold then).
   */
  boundary: Boundary | null;
  /** Why a lower raw tier did not take effect: the margin, the grace period, or neither. */
  heldBy: 'margin' | 'grace' | null;
}

/**
 * Rank of a tier name in the policy: `tiers[i].rank`, {@link FALLBACK_RANK} for the fallback,
 * {@link INACTIVE_RANK} for the inactive tier; null when the name is not a tier of this policy.
 */
export function rankOf(policy: CompiledPolicy, name: string): number | null {
  if (name === policy.inactiveTier) return INACTIVE_RANK;
  if (name === policy.fallbackTier) return FALLBACK_RANK;
  return policy.tiers.find((tier) => tier.name === name)?.rank ?? null;
}

/**
 * What a relative condition is evaluated against: the customer's id (the tie-break) and the
 * boundaries in force; with no boundaries yet (no epoch published) no relative condition holds.
 */
export interface RelativeContext {
  customerId: string;
  boundaries: RelativeBoundaries | null;
}

/** Whether all relative conditions of `tier` hold (true for an absolute tier). */
function relativeHolds(policy: CompiledPolicy, tier: CompiledTier, snapshot: RfmSnapshot, now: number, relative: RelativeContext | undefined, marginBps: number): boolean {
  const bands = tier.relative;
  if (bands === undefined || bands.length === 0) return true;
  const boundaries = relative?.boundaries ?? null;
  if (relative === undefined || boundaries === null || !inRankedPopulation(policy, snapshot, now)) return false;
  return bands.every((band) => bandHolds(boundaries, band, relative.customerId, snapshot, marginBps));
}

function tierMatches(policy: CompiledPolicy, tier: CompiledTier, snapshot: RfmSnapshot, now: number, relative: RelativeContext | undefined): boolean {
  return tier.conditions.every((condition) => conditionHolds(condition, snapshot)) && relativeHolds(policy, tier, snapshot, now, relative, 0);
}

/**
 * Raw evaluation at `now`, no hysteresis: the inactive tier when the customer bought before but
 * not within `inactivityMs` (`now − lastPurchaseAt >= inactivityMs`), else the first tier whose
 * conditions all hold, else the fallback tier.
 */
export function rawTier(policy: CompiledPolicy, snapshot: RfmSnapshot, now: number, relative?: RelativeContext): string {
  if (
    policy.inactivityMs !== null &&
    policy.inactiveTier !== null &&
    snapshot.lastPurchaseAt !== null &&
    now - snapshot.lastPurchaseAt >= policy.inactivityMs
  ) {
    return policy.inactiveTier;
  }
  return policy.tiers.find((tier) => tierMatches(policy, tier, snapshot, now, relative))?.name ?? policy.fallbackTier;
}

function relaxCondition(condition: Condition, marginBps: number): Condition {
  if (!isMoneyMetric(condition.metric) || (condition.op !== 'gt' && condition.op !== 'gte')) return condition;
  return { ...condition, value: relaxedBound(condition.value, marginBps) };
}

function holdsWithMargin(policy: CompiledPolicy, tier: CompiledTier, snapshot: RfmSnapshot, now: number, relative: RelativeContext | undefined): boolean {
  const marginBps = policy.hysteresis.downgradeMarginBps;
  return (
    tier.conditions.every((condition) => conditionHolds(relaxCondition(condition, marginBps), snapshot)) &&
    relativeHolds(policy, tier, snapshot, now, relative, marginBps)
  );
}

/**
 * Decides the customer's tier at `now` per the scoring contract (docs/ARCHITECTURE.md, "Scoring
 * contract"); test/engine/reference-model.ts models the same contract independently.
 *
 * Inputs: the compiled policy; the R/F/M `snapshot` at `now` (see `rollingAggregates`); the
 * `prior` tier and pending-downgrade start; `now` in epoch ms (all integers); for a policy with
 * relative tiers, the customer id and the boundaries in force (see {@link RelativeContext}).
 *
 * Steps:
 *  1. raw tier E = {@link rawTier}.
 *  2. prior tier null, or not a tier name of this policy (the policy changed): result E, no
 *     hysteresis, pending null, `changed` true, direction NEW.
 *  3. margin: with current tier C, if rank(E) < rank(C), E is not the inactive tier, C is an entry
 *     of `tiers`, and every condition of C holds with each money (monetary, averageDailyBalance,
 *     profit) gt/gte value relaxed by {@link relaxedBound} (and a relative monetary band's `to`
 *     cut value relaxed the same way, see bandHolds), the candidate is C, else E.
 *  4. grace (downgradeGraceMs > 0): if rank(candidate) < rank(C) and candidate is not the inactive
 *     tier: with no pending downgrade, pending = now and stay in C; when now − pending >= grace,
 *     take the candidate and clear pending; otherwise stay in C. In every other case (including
 *     grace 0 and a move into the inactive tier) pending is cleared and the candidate is taken.
 *  5. `changed` = result != C; direction UP when rank rises, else DOWN; boundary per
 *     {@link TierDecision.boundary}, rule text from `policy.rules` (derived when absent).
 *
 * Pure and allocation-light; no I/O, no clock.
 */
export function evaluateTier(policy: CompiledPolicy, snapshot: RfmSnapshot, prior: PriorTier, now: number, relative?: RelativeContext): TierDecision {
  const raw = rawTier(policy, snapshot, now, relative);
  const current = prior.tier;
  const currentRank = current === null ? null : rankOf(policy, current);
  if (current === null || currentRank === null) {
    return {
      tier: raw,
      rawTier: raw,
      pendingDowngradeSince: null,
      changed: true,
      direction: 'NEW',
      boundary: { tier: raw, rule: ruleText(policy, raw) },
      heldBy: null,
    };
  }

  const rawRank = rankOf(policy, raw) ?? INACTIVE_RANK;
  let candidate = raw;
  let heldBy: TierDecision['heldBy'] = null;
  if (rawRank < currentRank && raw !== policy.inactiveTier) {
    const currentTier = policy.tiers.find((tier) => tier.name === current);
    if (currentTier !== undefined && holdsWithMargin(policy, currentTier, snapshot, now, relative)) {
      candidate = current;
      heldBy = 'margin';
    }
  }

  const candidateRank = candidate === raw ? rawRank : currentRank;
  let tier = candidate;
  let pending: number | null = null;
  const graceMs = policy.hysteresis.downgradeGraceMs;
  if (graceMs > 0 && candidateRank < currentRank && candidate !== policy.inactiveTier) {
    if (prior.pendingDowngradeSince === null) {
      tier = current;
      pending = now;
      heldBy = 'grace';
    } else if (now - prior.pendingDowngradeSince >= graceMs) {
      tier = candidate;
    } else {
      tier = current;
      pending = prior.pendingDowngradeSince;
      heldBy = 'grace';
    }
  }

  if (tier === current) {
    return { tier, rawTier: raw, pendingDowngradeSince: pending, changed: false, direction: null, boundary: null, heldBy };
  }
  const up = (rankOf(policy, tier) ?? INACTIVE_RANK) > currentRank;
  const boundaryTier = up || tier === policy.inactiveTier ? tier : current;
  return {
    tier,
    rawTier: raw,
    pendingDowngradeSince: null,
    changed: true,
    direction: up ? 'UP' : 'DOWN',
    boundary: { tier: boundaryTier, rule: ruleText(policy, boundaryTier) },
    heldBy: null,
  };
}
