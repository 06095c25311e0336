import { EventEmitter } from 'node:events';

/**
 * Namespaced instrumentation events (kafkajs style). Core code emits them; `src/ops/metrics.ts`
 * listens and turns them into Prometheus metrics, so core code never imports prom-client.
 * Payloads carry no customer ids.
 */
export interface InstrumentationEvents {
  /**
   * `count` records of a partition left the pipeline with one outcome (one event per outcome and
   * batch, not per record: the hot path emits a handful of events per batch).
   */
  'consumer.records': { topic: string; partition: number; outcome: 'scored' | 'duplicate' | 'late' | 'dlq' | 'stale'; count: number };
  /** A record went to the DLQ; `reason` is an error class such as DECODE_FAILED. */
  'consumer.dlq': { topic: string; partition: number; reason: string };
  /** A partition batch finished; durations in seconds per stage. */
  'consumer.batch': {
    topic: string;
    partition: number;
    size: number;
    stages: { decode: number; validate: number; apply: number; publish: number };
  };
  /** now − event time of a scored record, in seconds. */
  'consumer.end_to_end_latency': { topic: string; seconds: number };
  /**
   * How far the scorer's applied position is behind the log end (records, and the age in seconds
   * of the oldest record not applied yet), refreshed periodically.
   */
  'consumer.lag': { topic: string; partition: number; messages: number; seconds: number };
  /**
   * How far the group's committed offset is behind the log end: Kafka's own view of the group's
   * lag (what `kafka-consumer-groups --describe` shows), refreshed with `consumer.lag`.
   */
  'consumer.committed_lag': { topic: string; partition: number; messages: number; seconds: number };
  'consumer.rebalance': {
    groupId: string;
    kind: 'assigned' | 'revoked';
    partitions: number;
    /**
     * Which partitions were assigned or revoked, when known. Ops uses it to drop the lag and
     * outbox series of a revoked partition, so a stale gauge does not outlive its owner.
     */
    topicPartitions?: { topic: string; partition: number }[];
  };
  /** The member joined (or rejoined) its group and was given `partitions` partitions, maybe none. */
  'consumer.group_joined': { groupId: string; memberId: string; partitions: number };
  /** A rebalance started: the member holds nothing until the next `consumer.group_joined`. */
  'consumer.group_rebalancing': { groupId: string; memberId: string };
  /**
   * The consumer is no longer a group member (stopped, crashed, disconnected); readiness turns
   * false until the next `consumer.group_joined`.
   */
  'consumer.group_left': { groupId: string; reason: string };
  /**
   * The consumer gave up on an error. `restarting`: kafkajs starts it again by itself (it rejoins
   * the group, announced by `consumer.group_joined`); otherwise it stays down.
   */
  'consumer.crash': { groupId: string; error: string; restarting: boolean };
  /**
   * A tier change was published downstream. The optional fields feed the status page's latest
   * changes list; like every payload here they carry no customer id (the ops page is not a place
   * for personal data).
   */
  'tier.change': {
    from: string | null;
    to: string;
    cause: string;
    topic?: string;
    partition?: number;
    /** Effective time of the change, epoch milliseconds. */
    effectiveAt?: number;
    policyVersion?: string;
  };
  /** A signal (NEAR_UPGRADE, DOWNGRADE_PENDING, DOWNGRADE_CANCELLED) was published on the signals topic. */
  'signal.published': { type: string; cause: string; topic: string; partition: number };
  /**
   * A per-tier head count and rolling revenue across all customers, emitted whenever something
   * computed it (see `startCensusPoller` in src/ops). Feeds the pyramid gauges and the status page.
   */
  'pyramid.census': {
    currency: string;
    /** Decimal places of the currency's minor unit, to format `revenueMinor`. */
    minorUnitDigits: number;
    /**
     * Any order; `rank` (larger = more valuable, as in CompiledTier) orders the drawing.
     * `profitMinor`: the tier's rolling profit (transaction margins, v3); absent in a census
     * from before profit.
     */
    tiers: { tier: string; rank: number; customers: number; revenueMinor: number; profitMinor?: number }[];
    /**
     * The 80/20/30 check on the live population (a scan of every customer's rolling profit, so
     * not in every census): customers ranked by profit; the top 20 % (floor(0.2 N)) and their
     * profit; the bottom 30 % (floor(0.3 N)) and theirs (negative: they consume profit).
     */
    profitConcentration?: { customers: number; totalProfitMinor: number; top20Customers: number; top20ProfitMinor: number; bottom30Customers: number; bottom30ProfitMinor: number; at: number };
  };
  'outbox.pending': { topic: string; partition: number; pending: number };
  'state.script': { script: string; seconds: number; ok: boolean };
  /**
   * A partition's state was re-read from Redis because a commit was refused or failed: `lost`
   * (the state is gone: Redis restarted without persistence), `commit` (a commit was lost, e.g.
   * an AOF tail), `owner` (another instance claimed it), `format`, or `unknown` (a commit's
   * outcome could not be known, e.g. a dropped connection).
   */
  'state.resync': { topic: string; partition: number; reason: string };
  /**
   * An assigned partition stopped applying (`stopped`, with the error code as `reason`:
   * TOPIC_INCARNATION_MISMATCH, KAFKA_OFFSETS_GONE), or is no longer reported (revoked).
   */
  'partition.stopped': { topic: string; partition: number; reason: string; stopped: boolean };
  /**
   * Dedupe claims made shorter than their transaction's time in the window, because a shorter
   * dedupe horizon was opted into: a copy arriving later than that would be counted again.
   */
  'dedupe.claims_shortened': { topic: string; partition: number; count: number };
  /**
   * How far a partition's background re-evaluation under a newly applied policy has come:
   * `done` of `of` customer sub-hashes scanned (done = of once it finished or when none runs);
   * the policy version the partition scores with and, while a switch is pending or its
   * re-evaluation runs, the one it is switching from (else null). Emitted when a partition is
   * claimed, when it switches and after each re-evaluation step.
   */
  'policy.reevaluation': { topic: string; partition: number; done: number; of: number; policyVersion: string; switchingFrom: string | null };
  /**
   * The coordinator published an epoch of relative boundaries: its population, each cut's
   * boundary value and how long the recompute took.
   */
  'ranking.epoch_published': {
    epoch: number;
    population: number;
    cuts: { metric: string; bps: number; rank: number; value: number | null }[];
    seconds: number;
  };
  /** This scorer now evaluates against a new epoch of relative boundaries (every instance emits it). */
  'ranking.boundaries': {
    epoch: number;
    at: number;
    population: number;
    cuts: { metric: string; bps: number; rank: number; value: number | null }[];
  };
  /** A partition's BOUNDARY re-evaluation: the epoch fully re-evaluated, and the latest known. */
  'ranking.reevaluation': { topic: string; partition: number; applied: number; latest: number };
  /**
   * Event clock: the boundary instant the coordinator waits for (null before any partition
   * reached one) and the partitions that have not reached it yet (empty once it is published).
   */
  'ranking.barrier': { instant: number | null; waiting: number[] };
  /** Whether this instance holds the coordinator lease (checked at every coordinator tick). */
  'ranking.lease': { held: boolean };
  /**
   * A readiness evaluation (what `/readyz` answers), emitted by `createHealth` each time it runs:
   * on every `/readyz` request and before every `/metrics` scrape. Feeds the readiness gauges.
   */
  'health.readiness': { ok: boolean; checks: { name: string; ok: boolean }[] };
}

/** The name of an instrumentation event, e.g. `consumer.batch`. */
export type InstrumentationEventName = keyof InstrumentationEvents;

/** A typed EventEmitter. One instance per running scorer; tests create their own. */
export class Instrumentation {
  private readonly emitter = new EventEmitter();

  constructor() {
    this.emitter.setMaxListeners(50);
  }

  /** Delivers `payload` to the listeners of `name`, synchronously; no listeners is fine. */
  emit<K extends InstrumentationEventName>(name: K, payload: InstrumentationEvents[K]): void {
    this.emitter.emit(name, payload);
  }

  /** Subscribes `listener` to `name`; returns the function that unsubscribes it. */
  on<K extends InstrumentationEventName>(name: K, listener: (payload: InstrumentationEvents[K]) => void): () => void {
    this.emitter.on(name, listener);
    return () => this.emitter.off(name, listener);
  }
}
