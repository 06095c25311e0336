import type { RfmSnapshot } from './aggregates.js';
import { findCut, type RelativeBoundaries } from './boundaries.js';
import { evaluateTier, type Boundary, type ChangeDirection, type TierDecision } from './evaluate.js';
import { headroom, type Headroom } from './headroom.js';
import type { CompiledPolicy } from '../policy/types.js';

/**
 * What caused an evaluation: TRANSACTION / REFUND / TIME; BOUNDARY (a new epoch of relative
 * boundaries moved a cut); POLICY (a newly applied policy re-evaluated the customer); BALANCE (an
 * account balance snapshot).
 */
export type ChangeCause = 'TRANSACTION' | 'REFUND' | 'TIME' | 'BOUNDARY' | 'POLICY' | 'BALANCE';

/** The tier-related part of a customer's stored state. */
export interface CustomerTierState {
  /** Null before the first classification. */
  tier: string | null;
  tierSince: number | null;
  pendingDowngradeSince: number | null;
  /** Per-customer change sequence; 0 before the first change. */
  seq: number;
}

/** A tier change as appended to the outbox and published downstream. */
export interface TierChange {
  /** `${customerId}:${seq}`: deterministic, so a replay re-emits the same id. */
  eventId: string;
  customerId: string;
  previousTier: string | null;
  newTier: string;
  direction: ChangeDirection;
  cause: ChangeCause;
  /** The causing transaction; null for TIME (and the reserved causes). */
  transactionId: string | null;
  /** The `now` of the evaluation that made the change (epoch ms). */
  effectiveAt: number;
  policyVersion: string;
  /** Cause POLICY: the version the partition switched from (the old policy); null for every other cause. */
  previousPolicyVersion: string | null;
  before: RfmSnapshot;
  after: RfmSnapshot;
  boundary: Boundary;
  /** Headroom of the new tier against the `after` snapshot. */
  headroom: Headroom;
  /** Under a policy with relative tiers: the boundaries the change was evaluated against. */
  relative?: RelativeChange;
}

/**
 * The relative side of a change: the epoch of the boundaries in force, and the cut of the
 * boundary tier's first relative band (its `to` share: the tier's lower edge) with that cut's
 * value before and after. `valueBefore` is the cut's value in the previous epoch on a BOUNDARY
 * change, else the same as `valueAfter`; a value is null when the cut has no customer (rank 0),
 * and the cut fields are null when the boundary tier has no relative band (fallback, inactive).
 */
export interface RelativeChange {
  epoch: number | null;
  previousEpoch: number | null;
  metric: 'monetary' | 'frequency' | null;
  shareBps: number | null;
  valueBefore: number | null;
  valueAfter: number | null;
}

/** Input of {@link decideTierChange}. */
export interface TierChangeInput {
  policy: CompiledPolicy;
  customerId: string;
  state: CustomerTierState;
  /** The snapshot before the causing event was applied (caller's choice for TIME). */
  before: RfmSnapshot;
  /** The snapshot at `now` after the event was applied; the evaluation uses it. */
  after: RfmSnapshot;
  now: number;
  cause: ChangeCause;
  transactionId: string | null;
  /** Cause POLICY: the version switched from, carried into the change; ignored for other causes. */
  previousPolicyVersion?: string | null;
  /** The relative boundaries in force (policies with relative tiers); absent or null: none yet. */
  boundaries?: RelativeBoundaries | null;
  /** On a BOUNDARY evaluation: the boundaries of the epoch before (null when there was none). */
  previousBoundaries?: RelativeBoundaries | null;
}

/** Outcome of {@link decideTierChange}. */
export interface TierChangeOutcome {
  /** The tier state to store (unchanged fields copied). */
  state: CustomerTierState;
  /** The change record, or null when the tier did not change. */
  change: TierChange | null;
  decision: TierDecision;
}

/**
 * Evaluates the tier at `now` ({@link evaluateTier} on `after`) and, when it changed, advances the
 * state (seq + 1, tierSince = now, pending cleared) and builds the change record. Without a
 * change only `pendingDowngradeSince` may move.
 */
export function decideTierChange(input: TierChangeInput): TierChangeOutcome {
  const { policy, state, now } = input;
  const relative = policy.ranking === undefined ? undefined : { customerId: input.customerId, boundaries: input.boundaries ?? null };
  const decision = evaluateTier(policy, input.after, state, now, relative);
  if (!decision.changed || decision.direction === null || decision.boundary === null) {
    // A literal of the tier fields, not a spread of `state` (a whole customer, for the engine):
    // most evaluations change nothing, and the copy was one of the engine's costs per event.
    return { state: { tier: state.tier, tierSince: state.tierSince, pendingDowngradeSince: decision.pendingDowngradeSince, seq: state.seq }, change: null, decision };
  }
  const seq = state.seq + 1;
  const change: TierChange = {
    eventId: `${input.customerId}:${seq}`,
    customerId: input.customerId,
    previousTier: state.tier,
    newTier: decision.tier,
    direction: decision.direction,
    cause: input.cause,
    transactionId: input.cause === 'TIME' ? null : input.transactionId,
    effectiveAt: now,
    policyVersion: policy.version,
    previousPolicyVersion: input.cause === 'POLICY' ? (input.previousPolicyVersion ?? null) : null,
    before: input.before,
    after: input.after,
    boundary: decision.boundary,
    headroom: headroom(policy, decision.tier, input.after, relative),
  };
  if (relative !== undefined) change.relative = relativeChange(policy, decision.boundary.tier, input);
  return {
    state: { tier: decision.tier, tierSince: now, pendingDowngradeSince: null, seq },
    change,
    decision,
  };
}

function relativeChange(policy: CompiledPolicy, boundaryTier: string, input: TierChangeInput): RelativeChange {
  const current = input.boundaries ?? null;
  const previous = input.cause === 'BOUNDARY' ? (input.previousBoundaries ?? null) : current;
  const band = policy.tiers.find((tier) => tier.name === boundaryTier)?.relative?.[0];
  const valueIn = (b: RelativeBoundaries | null): number | null =>
    band === undefined || b === null ? null : (findCut(b, band.metric, band.toBps)?.key?.value ?? null);
  return {
    epoch: current?.epoch ?? null,
    previousEpoch: input.cause === 'BOUNDARY' ? (previous?.epoch ?? null) : (current?.epoch ?? null),
    metric: band?.metric ?? null,
    shareBps: band?.toBps ?? null,
    valueBefore: valueIn(previous),
    valueAfter: valueIn(current),
  };
}
