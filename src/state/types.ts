import type { TierChange } from '../policy/change.js';
import type { StoredBucket } from './customer-hash.js';

/** One transaction as the state engine applies it (already decoded and validated). */
export interface TransactionRecord {
  /** Kafka offset of the record in its partition; kafkajs hands these over as strings. */
  offset: number | string;
  transactionId: string;
  customerId: string;
  kind: 'purchase' | 'refund';
  /** Positive integer, minor units of the policy currency. */
  amountMinor: number;
  /** Epoch ms. */
  eventTime: number;
}

/** What one applyPartitionBatch call did; the pipeline turns these into metrics. */
export interface BatchCounts {
  applied: number;
  /** transactionId already applied within the dedupe horizon. */
  duplicate: number;
  /** Too old for the window at its evaluation time: dropped. */
  late: number;
  /** Offset at or below the partition watermark: already applied before (replay). */
  stale: number;
  /** Tier-change records appended to the outbox (including timer-driven ones). */
  changes: number;
  /** Due timers fired on the way. */
  timersFired: number;
}

/** What one sweepPartition call did. */
export interface SweepResult {
  timersFired: number;
  changes: number;
  /** True when timers due at or before `now` remain (the call stopped at its limit). */
  more: boolean;
}

/**
 * A tier change as the outbox holds it: the policy module's TierChange, field for field
 * schemas/tier-change-v1.avsc.
 */
export type TierChangeRecord = TierChange;

/** One outbox entry: the stream id (the relay's cursor) and the change. */
export interface OutboxEntry {
  id: string;
  change: TierChangeRecord;
}

/** Which rule decided a raw evaluation. */
export type MatchedRule = { kind: 'inactive' } | { kind: 'fallback' } | { kind: 'tier'; tier: string };

/** A customer's stored state and its evaluation at `now` (the `inspect` command's answer). */
export interface CustomerInspection {
  customerId: string;
  topic: string;
  partition: number;
  /** The evaluation time: the given `now`, else wall clock (wall mode) or the partition's event-time watermark. */
  now: number;
  tier: string;
  tierSince: number;
  seq: number;
  pendingDowngradeSince: number | null;
  lastPurchaseAt: number | null;
  /** Stored buckets, ascending, including any not yet pruned that no longer count at `now`. */
  buckets: StoredBucket[];
  monetary: number;
  frequency: number;
  recencyMs: number | null;
  /** The raw evaluation at `now` (no hysteresis): may differ from `tier` until a timer fires. */
  rawTier: string;
  rule: MatchedRule;
  /** Next time after `now` the tier could change with no new event; null when none. */
  dueAt: number | null;
  /**
   * When the partition's timer for this customer is set: at or before the due time it was
   * computed for (a timer may fire early, finding no change, never late); null when none.
   */
  timerAt: number | null;
  headroom: { toNextTierUp: number | null; toDowngrade: number | null };
}
