import type { ClockMode } from '../engine/apply.js';
import type { RelativeBoundaries } from '../engine/boundaries.js';
import { evaluateCustomer, type CustomerEvaluation } from '../engine/inspect.js';
import type { CustomerState } from '../engine/types.js';
import { PyramidError } from '../errors.js';
import type { CompiledPolicy } from '../policy/types.js';
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
  /** Relative tiers: the boundaries in force (the latest published epoch); null or absent: none. */
  boundaries?: RelativeBoundaries | null;
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
      ...evaluateCustomer(options.policy, state, now, { customerId, boundaries: options.boundaries ?? null }),
    };
  }
  return null;
}
