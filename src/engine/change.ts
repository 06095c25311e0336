import type { RfmSnapshot } from './aggregates.js';
import { evaluateTier, type Boundary, type ChangeDirection, type TierDecision } from './evaluate.js';
import { headroom, type Headroom } from './headroom.js';
import type { CompiledPolicy } from '../policy/types.js';

/**
 * What caused an evaluation: TRANSACTION / REFUND / TIME. BOUNDARY (relative boundaries moved) and
 * POLICY (the policy changed) are part of the event contract (schemas/) but not produced yet.
 */
export type ChangeCause = 'TRANSACTION' | 'REFUND' | 'TIME' | 'BOUNDARY' | 'POLICY';

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
  before: RfmSnapshot;
  after: RfmSnapshot;
  boundary: Boundary;
  /** Headroom of the new tier against the `after` snapshot. */
  headroom: Headroom;
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
  const decision = evaluateTier(policy, input.after, state, now);
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
    before: input.before,
    after: input.after,
    boundary: decision.boundary,
    headroom: headroom(policy, decision.tier, input.after),
  };
  return {
    state: { tier: decision.tier, tierSince: now, pendingDowngradeSince: null, seq },
    change,
    decision,
  };
}
