import type { ClockMode } from '../engine/apply.js';
import type { RelativeBoundaries } from '../engine/boundaries.js';
import { evaluateCustomer, type CustomerEvaluation } from '../engine/inspect.js';
import type { CustomerState } from '../engine/types.js';
import { PyramidError } from '../errors.js';
import { policyContentHash } from '../policy/content-hash.js';
import type { CompiledPolicy } from '../policy/types.js';
import type { StoredBoundaries } from '../state/layout.js';
import type { RankingStore } from '../state/ranking.js';
import type { StateStore } from '../state/store.js';

/** A customer's stored state and its evaluation at `now` (the `inspect` command's answer). */
export interface CustomerInspection extends CustomerEvaluation {
  customerId: string;
  topic: string;
  partition: number;
  tier: string;
  tierSince: number | null;
  seq: number;
  pendingDowngradeSince: number | null;
  lastPurchaseAt: number | null;
  /**
   * When the partition's timer for this customer is set: at or before the due time it was
   * computed for (a timer may fire early, finding no change, never late); null when none.
   */
  timerAt: number | null;
  /** Signals emitted for the customer so far (its signal sequence). */
  signalSeq: number;
  /** When its last NEAR_UPGRADE was emitted (the cooldown runs from it); null when none. */
  nearUpgradeAt: number | null;
}

export interface InspectOptions {
  store: StateStore;
  policy: CompiledPolicy;
  clock: ClockMode;
  topic: string;
  customerId: string;
  /** Look only here; otherwise every partition of the store's partition count. */
  partition?: number;
  /** Evaluation time; default the wall clock (wall mode) or the partition's event-time watermark (event mode). */
  now?: number;
  /**
   * Relative tiers: the boundaries in force in a partition (on the wall clock the latest published
   * epoch, on the event clock the one the partition last re-evaluated); absent or null: none.
   */
  boundariesOf?: (partition: number) => Promise<RelativeBoundaries | null>;
}

/**
 * A customer as stored, evaluated at `now` by the engine without changing anything. Null when no
 * partition knows the customer.
 */
export async function inspectCustomer(options: InspectOptions): Promise<CustomerInspection | null> {
  const { store, topic, customerId } = options;
  let partitions: number[];
  if (options.partition !== undefined) partitions = [options.partition];
  else if (store.partitionCount !== undefined) partitions = Array.from({ length: store.partitionCount }, (_, i) => i);
  else throw new PyramidError('CONFIG_INVALID', 'inspect needs a partition or the store needs partitionCount');
  for (const partition of partitions) {
    const state: CustomerState | null = await store.readCustomer(topic, partition, customerId);
    if (state === null || state.tier === null) continue;
    let now = options.now;
    if (now === undefined) {
      if (options.clock === 'wall') now = Date.now();
      else now = (await store.readMeta(topic, partition))?.eventWatermark ?? 0;
    }
    return {
      customerId,
      topic,
      partition,
      tier: state.tier,
      tierSince: state.tierSince,
      seq: state.seq,
      pendingDowngradeSince: state.pendingDowngradeSince,
      lastPurchaseAt: state.lastPurchaseAt,
      timerAt: await store.readTimer(topic, partition, customerId),
      signalSeq: state.signalSeq,
      nearUpgradeAt: state.nearUpgradeAt,
      ...evaluateCustomer(options.policy, state, now, { customerId, boundaries: (await options.boundariesOf?.(partition)) ?? null }),
    };
  }
  return null;
}

/**
 * The relative boundaries a partition scores against, as the scorer holds them: on the wall clock
 * the latest published epoch; on the event clock the epoch the partition last re-evaluated (it
 * holds at the next instant until that instant's epoch is re-evaluated, so a newer epoch may be
 * published and not yet in force there). Null for an epoch published under another policy.
 */
export function boundariesInForce(options: { ranking: RankingStore; store: StateStore; policy: CompiledPolicy; clock: ClockMode; topic: string }): (partition: number) => Promise<RelativeBoundaries | null> {
  const { ranking, store, clock, topic } = options;
  const hash = policyContentHash(options.policy);
  const ofThisPolicy = (stored: StoredBoundaries | null): RelativeBoundaries | null => (stored !== null && stored.policyHash === hash ? stored.boundaries : null);
  return async (partition) => ofThisPolicy(clock === 'event' ? await ranking.readEpoch((await store.readMeta(topic, partition))?.boundaryEpoch ?? 0) : await ranking.readLatest());
}
