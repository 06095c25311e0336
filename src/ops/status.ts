import type { Instrumentation, InstrumentationEvents } from '../instrumentation.js';
import { buildInfo, type BuildInfo } from './build-info.js';
import { partitionKey } from '../kafka/types.js';

export type RecordOutcome = InstrumentationEvents['consumer.records']['outcome'];

/** The latest census, as the `pyramid.census` event carried it, plus when it arrived. */
export type PyramidStatus = InstrumentationEvents['pyramid.census'] & { receivedAt: number };

/** One owned input partition. Lag fields are null until the first `consumer.lag` report. */
export interface PartitionStatus {
  topic: string;
  partition: number;
  lagMessages: number | null;
  lagSeconds: number | null;
  /** Records that left the pipeline per second, averaged over the throughput window. */
  throughputPerSecond: number;
  /** Since start, same values as `pyramid_consumer_records_processed_total`. */
  processed: Record<RecordOutcome, number>;
  outboxPending: number | null;
  /**
   * The policy the partition scores with and, while a switch is pending or its background
   * re-evaluation runs, the version it is switching from (else null), with the re-evaluation's
   * progress (customer sub-hashes `done` of `of`; done = of when none runs). Null until the
   * partition is claimed.
   */
  policy: { version: string; switchingFrom: string | null; done: number; of: number } | null;
}

/** One entry of the latest-changes list; no customer id (see `tier.change`). */
export type TierChangeEntry = InstrumentationEvents['tier.change'] & { at: number };

/** Everything the status page shows, as served on /status.json. */
export interface StatusSnapshot {
  build: BuildInfo;
  /** Epoch ms. */
  generatedAt: number;
  startedAt: number;
  pyramid: PyramidStatus | null;
  /** Sorted by topic, then partition. */
  partitions: PartitionStatus[];
  /** Newest first. */
  latestChanges: TierChangeEntry[];
  /** Since start, same values as `pyramid_consumer_dlq_records_total` summed over topics. */
  dlq: { reason: string; count: number }[];
  totals: { processed: Record<RecordOutcome, number>; tierChanges: number; dlq: number };
  /** Relative tiers: the epoch of boundaries this scorer evaluates against; null when none (or no relative tiers). */
  ranking: InstrumentationEvents['ranking.boundaries'] | null;
  /**
   * Relative tiers on the event clock, on the instance holding the coordinator lease: the
   * boundary instant its barrier waits for and the partitions that have not reached it; null
   * elsewhere.
   */
  barrier: InstrumentationEvents['ranking.barrier'] | null;
}

/** Supplies the status page. The ops server depends on this, not on how it is computed. */
export interface StatusProvider {
  snapshot(): StatusSnapshot | Promise<StatusSnapshot>;
}

export interface StatusTrackerOptions {
  /** How many latest tier changes to keep; default 50. */
  changesCapacity?: number;
  /** Throughput averaging window in whole seconds; default 10. */
  throughputWindowSeconds?: number;
  /** Clock, epoch ms; tests pass their own. */
  now?: () => number;
}

interface PartitionState {
  status: PartitionStatus;
  /** Per-second outcome counts, oldest first: [epoch second, count]. */
  recent: [number, number][];
}

function zeroOutcomes(): Record<RecordOutcome, number> {
  return { scored: 0, duplicate: 0, late: 0, dlq: 0, stale: 0 };
}

/**
 * A `StatusProvider` fed only by instrumentation events, so the page shows exactly what the
 * metrics count. Keeps a bounded ring of the latest tier changes.
 */
export function createStatusTracker(instrumentation: Instrumentation, options: StatusTrackerOptions = {}): StatusProvider & { close(): void } {
  const capacity = options.changesCapacity ?? 50;
  const windowSeconds = options.throughputWindowSeconds ?? 10;
  const now = options.now ?? Date.now;
  const startedAt = now();
  const partitions = new Map<string, PartitionState>();
  // The latest changes, oldest first once full: written in place at `next`, so a burst of changes
  // costs no array shifting (an unshift per change moved the whole list each time).
  const changes: TierChangeEntry[] = [];
  let next = 0;
  const dlq = new Map<string, number>();
  const totals = { processed: zeroOutcomes(), tierChanges: 0, dlq: 0 };
  let pyramid: PyramidStatus | null = null;
  let ranking: StatusSnapshot['ranking'] = null;
  let barrier: StatusSnapshot['barrier'] = null;

  const partitionState = (topic: string, partition: number): PartitionState => {
    const key = partitionKey(topic, partition);
    let state = partitions.get(key);
    if (!state) {
      state = {
        status: { topic, partition, lagMessages: null, lagSeconds: null, throughputPerSecond: 0, processed: zeroOutcomes(), outboxPending: null, policy: null },
        recent: [],
      };
      partitions.set(key, state);
    }
    return state;
  };

  // Keeps the seconds that can still fall in the window, so memory stays bounded under any load.
  const trim = (state: PartitionState, second: number): void => {
    while (state.recent.length > 0 && (state.recent[0]?.[0] ?? second) <= second - windowSeconds - 1) state.recent.shift();
  };

  const off = [
    instrumentation.on('consumer.records', (e) => {
      const state = partitionState(e.topic, e.partition);
      state.status.processed[e.outcome] += e.count;
      totals.processed[e.outcome] += e.count;
      const second = Math.floor(now() / 1000);
      const last = state.recent[state.recent.length - 1];
      if (last && last[0] === second) last[1] += e.count;
      else state.recent.push([second, e.count]);
      trim(state, second);
    }),
    instrumentation.on('consumer.lag', (e) => {
      const state = partitionState(e.topic, e.partition);
      state.status.lagMessages = e.messages;
      state.status.lagSeconds = e.seconds;
    }),
    instrumentation.on('outbox.pending', (e) => {
      partitionState(e.topic, e.partition).status.outboxPending = e.pending;
    }),
    instrumentation.on('policy.reevaluation', (e) => {
      partitionState(e.topic, e.partition).status.policy = { version: e.policyVersion, switchingFrom: e.switchingFrom, done: e.done, of: e.of };
    }),
    instrumentation.on('consumer.rebalance', (e) => {
      if (e.kind !== 'revoked') return;
      for (const tp of e.topicPartitions ?? []) partitions.delete(partitionKey(tp.topic, tp.partition));
    }),
    instrumentation.on('consumer.dlq', (e) => {
      dlq.set(e.reason, (dlq.get(e.reason) ?? 0) + 1);
      totals.dlq += 1;
    }),
    instrumentation.on('tier.change', (e) => {
      if (capacity > 0) {
        changes[next] = { ...e, at: now() };
        next = (next + 1) % capacity;
      }
      totals.tierChanges += 1;
    }),
    instrumentation.on('ranking.boundaries', (e) => {
      ranking = { ...e, cuts: e.cuts.map((cut) => ({ ...cut })) };
    }),
    instrumentation.on('ranking.barrier', (e) => {
      barrier = { instant: e.instant, waiting: [...e.waiting] };
    }),
    instrumentation.on('pyramid.census', (e) => {
      pyramid = { ...e, tiers: [...e.tiers].sort((a, b) => b.rank - a.rank), receivedAt: now() };
    }),
  ];

  return {
    snapshot() {
      const generatedAt = now();
      const second = Math.floor(generatedAt / 1000);
      const list = [...partitions.values()]
        .map((state) => {
          trim(state, second);
          // Only whole seconds: the current one is still filling and would bias the rate down.
          const counted = state.recent.filter(([s]) => s < second && s >= second - windowSeconds).reduce((sum, [, n]) => sum + n, 0);
          const policy = state.status.policy === null ? null : { ...state.status.policy };
          return { ...state.status, processed: { ...state.status.processed }, policy, throughputPerSecond: counted / windowSeconds };
        })
        .sort((a, b) => (a.topic === b.topic ? a.partition - b.partition : a.topic < b.topic ? -1 : 1));
      return {
        build: buildInfo(),
        generatedAt,
        startedAt,
        pyramid,
        partitions: list,
        latestChanges: [...changes.slice(next), ...changes.slice(0, next)].reverse().map((c) => ({ ...c })),
        dlq: [...dlq.entries()].map(([reason, count]) => ({ reason, count })).sort((a, b) => b.count - a.count || (a.reason < b.reason ? -1 : 1)),
        totals: { processed: { ...totals.processed }, tierChanges: totals.tierChanges, dlq: totals.dlq },
        ranking,
        barrier: barrier === null ? null : { instant: barrier.instant, waiting: [...barrier.waiting] },
      };
    },
    close() {
      for (const unsubscribe of off) unsubscribe();
    },
  };
}
