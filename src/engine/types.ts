
/** One rolling bucket of a customer: index = floor(eventTime / bucketMs). */
export interface Bucket {
  index: number;
  /** Net spend in the bucket, minor units (refunds subtract). */
  monetary: number;
  /** Purchases in the bucket. */
  frequency: number;
  /** Net margin of the bucket's transactions, minor units (signed); absent means 0. */
  profit?: number;
}

/** One account of a customer as its latest applied balance snapshot left it. */
export interface AccountBalance {
  accountId: string;
  /** Signed minor units of the policy currency. */
  balanceMinor: number;
  /** asOf of the snapshot: later snapshots of the account only. */
  asOf: number;
}

/**
 * A bucket of the balance integral (src/engine/balances.ts): only buckets in which a snapshot
 * changed the balance sum are stored.
 */
export interface BalanceBucket {
  index: number;
  /**
   * Σ over the bucket's snapshots of (the change they made to the balance sum) × (ms from the
   * bucket's start to their asOf): the bucket's integral of the sum is `endSum × B − offsetWeight`
   * (balance-milliseconds, B the bucket length). 0 when the bucket's change happened at its start
   * (an end-of-day snapshot at midnight), which keeps the stored value short.
   */
  offsetWeight: bigint;
  /** The balance sum at the bucket's end (carried into the buckets after it). */
  endSum: number;
}

/** A customer's balances: every account's latest snapshot and the integral buckets in the window. */
export interface BalanceState {
  /** The balance sum in effect before the first stored bucket (the carry of buckets that left the window). */
  baseSum: number;
  /** Ascending by accountId. */
  accounts: AccountBalance[];
  /** Ascending by index. */
  buckets: BalanceBucket[];
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
  /** Balances from the balances topic; absent for a customer without any snapshot. */
  balances?: BalanceState;
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
  /** The transaction's margin, signed minor units (transaction v3); absent means 0. */
  profitMinor?: number;
}

/** One account balance snapshot as the engine applies it (already decoded and validated). */
export interface BalanceRecord {
  kind: 'balance';
  /** Kafka offset of the record in its partition of the balances topic. */
  offset: number;
  customerId: string;
  accountId: string;
  /** Signed minor units of the policy currency. */
  balanceMinor: number;
  /** The snapshot's asOf, epoch ms: its event time. */
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

