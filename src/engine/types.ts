
/** One rolling bucket of a customer: index = floor(eventTime / bucketMs). */
export interface Bucket {
  index: number;
  /** Net spend in the bucket, minor units (refunds subtract). */
  monetary: number;
  /** Purchases in the bucket. */
  frequency: number;
}

/**
 * Everything the engine knows about one customer between events. Plain data: the state layer
 * stores it (src/state/layout.ts) and the scorer caches it, and the engine never mutates a
 * state it was given (it returns new ones).
 */
export interface CustomerState {
  /**
   * Ascending by index, no two with the same index. May hold buckets that no longer count at a
   * later instant: the engine drops them when it next evaluates the customer.
   */
  buckets: Bucket[];
  /** Max event time of any purchase ever applied (also outside the window); null when none. */
  lastPurchaseAt: number | null;
  /** Null only before the first classification. */
  tier: string | null;
  tierSince: number | null;
  /** Start of a downgrade waiting out its grace period; null when none is waiting. */
  pendingDowngradeSince: number | null;
  /** Per-customer change sequence; 0 before the first change. Event ids are `${id}:${seq}`. */
  seq: number;
  /**
   * When the partition's timer for this customer fires: at or before the exact next due time
   * (a timer may fire early, finding no change, never late); null when none is set.
   */
  timerAt: number | null;
  /** Per-customer signal sequence; 0 before the first signal. Signal ids are `${id}:s:${signalSeq}`. */
  signalSeq: number;
  /** When the customer's last NEAR_UPGRADE was emitted (its cooldown runs from here); null: never. */
  nearUpgradeAt: number | null;
}

/** One transaction as the engine applies it (already decoded and validated). */
export interface EngineRecord {
  /** Kafka offset of the record in its partition. */
  offset: number;
  transactionId: string;
  customerId: string;
  kind: 'purchase' | 'refund';
  /** Positive integer, minor units of the policy currency. */
  amountMinor: number;
  /** Epoch ms. */
  eventTime: number;
}

/** A partition timer: customer `customerId` is due at `at`. */
export interface DueTimer {
  customerId: string;
  at: number;
}

/** What one engine call did with its records and timers. */
export interface EngineCounts {
  /** Records applied inside the window. */
  applied: number;
  /** transactionId whose original still counts: ignored. */
  duplicate: number;
  /**
   * Records older than the window at their evaluation time: they add nothing to monetary or
   * frequency, but a purchase still records the customer and its last purchase time.
   */
  late: number;
  /** Offset at or below the partition watermark: applied before (replay). */
  stale: number;
  /** Tier changes emitted (timer-driven ones included). */
  changes: number;
  /** Signals emitted (NEAR_UPGRADE, DOWNGRADE_PENDING, DOWNGRADE_CANCELLED). */
  signals: number;
  /** Timers fired. */
  timersFired: number;
  /**
   * Dedupe claims given an expiry earlier than their transaction's bucket leaving the window,
   * because a shorter dedupe horizon was opted into: a copy arriving after that is counted again.
   */
  claimsShortened: number;
}

/** A transaction id claimed by an applied record, until `expiresAt`. */
export interface DedupeClaim {
  transactionId: string;
  expiresAt: number;
}

