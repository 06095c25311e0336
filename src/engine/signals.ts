import type { RfmSnapshot } from './aggregates.js';
import type { ChangeCause } from './change.js';
import type { TierDecision } from './evaluate.js';
import { spendToStay, upgradeDistance } from './headroom.js';
import type { CompiledPolicy, NearUpgradeDistance } from '../policy/types.js';

/**
 * NEAR_UPGRADE: the spend still missing to the next tier is within the policy's distance.
 * DOWNGRADE_PENDING: a downgrade started waiting out its grace period.
 * DOWNGRADE_CANCELLED: a waiting downgrade stopped waiting without a tier change (the customer
 * qualifies for the tier again), so whoever announced "downgraded on <date>" can take it back.
 */
export type SignalType = 'NEAR_UPGRADE' | 'DOWNGRADE_PENDING' | 'DOWNGRADE_CANCELLED';

/** A signal as appended to the outbox and published on the signals topic (schemas/signal-v1.avsc). */
export interface Signal {
  /** `${customerId}:s:${signalSeq}`: deterministic, so a replay re-emits the same id. */
  signalId: string;
  customerId: string;
  type: SignalType;
  /** The customer's tier at `effectiveAt` (after the evaluation that emitted the signal). */
  tier: string;
  /** NEAR_UPGRADE: the next tier up; DOWNGRADE_PENDING: the tier the downgrade would move to; CANCELLED: null. */
  targetTier: string | null;
  /** What caused the evaluation that emitted it. */
  cause: ChangeCause;
  /** The causing transaction; null for TIME (and POLICY). */
  transactionId: string | null;
  /** The `now` of that evaluation (epoch ms). */
  effectiveAt: number;
  policyVersion: string;
  /** R/F/M at `effectiveAt`. */
  rfm: RfmSnapshot;
  /** NEAR_UPGRADE: the spend still missing to `targetTier` (headroom.toNextTierUp); else null. */
  spendToUpgrade: number | null;
  /** DOWNGRADE_PENDING: when the downgrade takes effect unless avoided; CANCELLED: when it would have; else null. */
  takesEffectAt: number | null;
  /** DOWNGRADE_PENDING: the spend that makes the tier's (margin-relaxed) monetary bound hold again; else null. */
  spendToStay: number | null;
}

/** The signal-related part of a customer's stored state. */
export interface CustomerSignalState {
  /** Per-customer signal sequence; 0 before the first signal. */
  signalSeq: number;
  /** When the customer's last NEAR_UPGRADE was emitted (its cooldown runs from here); null: never. */
  nearUpgradeAt: number | null;
}

/** Input of {@link decideSignals}: one evaluation of one customer, after its tier decision. */
export interface SignalInput {
  policy: CompiledPolicy;
  customerId: string;
  state: CustomerSignalState;
  /** The pending-downgrade start before the evaluation. */
  priorPendingDowngradeSince: number | null;
  decision: TierDecision;
  /** The snapshot the tier was decided on. */
  snapshot: RfmSnapshot;
  now: number;
  cause: ChangeCause;
  transactionId: string | null;
}

/** Outcome of {@link decideSignals}. */
export interface SignalOutcome {
  state: CustomerSignalState;
  /** In the order emitted: a downgrade signal before a NEAR_UPGRADE. */
  signals: Signal[];
  /**
   * While the customer is near an upgrade but its NEAR_UPGRADE cooldown runs: the instant the
   * cooldown ends (> now), when the customer must be evaluated again; null otherwise.
   */
  due: number | null;
}

/** The most spend that still counts as near, for a next tier whose threshold is `threshold`. */
function allowance(within: NearUpgradeDistance, threshold: number): number {
  return 'amountMinor' in within ? within.amountMinor : Math.floor((threshold * within.thresholdBps) / 10_000);
}

/**
 * The signals of one evaluation, per the policy's `signals` (none without it):
 *  - DOWNGRADE_PENDING when the evaluation set `pendingDowngradeSince` (it was null): the
 *    downgrade takes effect at pendingDowngradeSince + grace; `spendToStay` is
 *    {@link spendToStay} of the current tier.
 *  - DOWNGRADE_CANCELLED when it cleared `pendingDowngradeSince` without a tier change (a tier
 *    change says for itself what happened to the pending downgrade).
 *  - NEAR_UPGRADE when `missing` = {@link upgradeDistance} of the tier after the evaluation is
 *    > 0 (spend is what is lacking) and <= the policy's distance (an amount, or
 *    floor(threshold × bps / 10000)), and no NEAR_UPGRADE was emitted within the cooldown
 *    (now − nearUpgradeAt >= cooldown). While near and cooling down, `due` asks for an evaluation
 *    when the cooldown ends, so a customer who stays near hears again exactly one cooldown later.
 * Each signal takes the next signal sequence number. Pure.
 */
export function decideSignals(input: SignalInput): SignalOutcome {
  const settings = input.policy.signals;
  if (settings === undefined) return { state: input.state, signals: [], due: null };
  const { policy, decision, snapshot, now } = input;
  let { signalSeq, nearUpgradeAt } = input.state;
  const signals: Signal[] = [];
  const emit = (type: SignalType, fields: Pick<Signal, 'targetTier' | 'spendToUpgrade' | 'takesEffectAt' | 'spendToStay'>): void => {
    signalSeq += 1;
    // In the contract's field order (schemas/signal-v1.avsc).
    signals.push({
      signalId: `${input.customerId}:s:${signalSeq}`,
      customerId: input.customerId,
      type,
      tier: decision.tier,
      targetTier: fields.targetTier,
      cause: input.cause,
      transactionId: input.cause === 'TIME' ? null : input.transactionId,
      effectiveAt: now,
      policyVersion: policy.version,
      // The contract's R/F/M (schemas/signal-v1.avsc): monetary, frequency and recency only.
      rfm: { monetary: snapshot.monetary, frequency: snapshot.frequency, recencyMs: snapshot.recencyMs, lastPurchaseAt: snapshot.lastPurchaseAt },
      spendToUpgrade: fields.spendToUpgrade,
      takesEffectAt: fields.takesEffectAt,
      spendToStay: fields.spendToStay,
    });
  };

  if (settings.downgradePending) {
    const graceMs = policy.hysteresis.downgradeGraceMs;
    const prior = input.priorPendingDowngradeSince;
    if (prior === null && decision.pendingDowngradeSince !== null) {
      emit('DOWNGRADE_PENDING', {
        targetTier: decision.rawTier,
        spendToUpgrade: null,
        takesEffectAt: decision.pendingDowngradeSince + graceMs,
        spendToStay: spendToStay(policy, decision.tier, snapshot),
      });
    } else if (prior !== null && decision.pendingDowngradeSince === null && !decision.changed) {
      emit('DOWNGRADE_CANCELLED', { targetTier: null, spendToUpgrade: null, takesEffectAt: prior + graceMs, spendToStay: null });
    }
  }

  let due: number | null = null;
  const near = settings.nearUpgrade;
  if (near !== null) {
    const distance = upgradeDistance(policy, decision.tier, snapshot);
    if (distance !== null && distance.missing > 0 && distance.missing <= allowance(near.within, distance.threshold)) {
      if (nearUpgradeAt === null || now - nearUpgradeAt >= near.cooldownMs) {
        emit('NEAR_UPGRADE', { targetTier: distance.tier, spendToUpgrade: distance.missing, takesEffectAt: null, spendToStay: null });
        nearUpgradeAt = now;
      }
      due = nearUpgradeAt + near.cooldownMs;
    }
  }
  return { state: { signalSeq, nearUpgradeAt }, signals, due };
}
