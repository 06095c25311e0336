import type { BalanceRecord, EngineCounts, EngineRecord } from '../engine/types.js';
import { isPyramidError, type PyramidError } from '../errors.js';
import type { Instrumentation, InstrumentationEvents } from '../instrumentation.js';
import type { BatchControl, PartitionBatchHandler } from '../kafka/consumer.js';
import type { PartitionLog } from '../kafka/partition-logs.js';
import { partitionKey, type KafkaRecord, type PartitionBatch, type TopicPartition } from '../kafka/types.js';
import type { Logger } from '../logger.js';
import { DecodeError, type DecodeResult } from './decode-error.js';
import type { TransactionDecoder } from './decode.js';
import type { DlqPublisher, Rejection } from './dlq-publisher.js';
import type { OutboxRelay } from './outbox-relay.js';
import type { Ownership } from './ownership.js';
import { recoverPartition } from './partition-recovery.js';
import type { PartitionPositions } from './partition-positions.js';
import { retrying, type RetryOptions } from './retry.js';
import type { BalanceSnapshot, Transaction } from './validate.js';

export interface BatchHandlerDeps {
  decoder: TransactionDecoder;
  validate: (raw: unknown) => DecodeResult<Transaction>;
  /**
   * The co-partitioned balances topic, when configured: its batches take the same path (decode,
   * validate, DLQ, the engine and the fenced commit of partition p of `stateTopic`), with their
   * own decoder (balance-v1) and validator.
   */
  balances?: { topic: string; decoder: TransactionDecoder; validate: (raw: unknown) => DecodeResult<BalanceSnapshot> };
  /** The topic whose partitions own the state (the transactions topic); needed with `balances`. */
  stateTopic?: string;
  /** The policy currency: amounts in any other currency cannot be added up and go to the DLQ. */
  currency: string;
  dlq: DlqPublisher;
  /** Which partitions are mine, in which generation, and their state. */
  ownership: Ownership;
  relay: OutboxRelay;
  positions: PartitionPositions;
  /** Moves the consumer's fetch position (gap refused, batch handed back, state re-read). */
  seek(partition: TopicPartition, offset: string): void;
  /** Stops fetching a partition (another instance claimed it) until the next assignment. */
  pause(partition: TopicPartition): void;
  /**
   * Commits offsets outside any batch, as `PyramidConsumer.commitOffsets` (partitions no longer
   * assigned are left out; returns what was committed): the trailing commit of a partition whose
   * last batch the throttle did not commit.
   */
  commitOffsets(offsets: ReadonlyArray<TopicPartition & { offset: string }>): Promise<ReadonlyArray<TopicPartition & { offset: string }>>;
  /** The input partition's log as Kafka holds it now, read before seeking back after a resync. */
  readLog(partition: TopicPartition): Promise<PartitionLog>;
  /** Kafka no longer holds the offsets `partition` needs: stop applying it (paused, unowned, not ready). */
  stopPartition(partition: TopicPartition, error: PyramidError): void;
  /** True once the scorer must give up waiting (forced shutdown); normal stops drain first. */
  aborted(): boolean;
  /** True while stopping: a batch not yet started is handed back untouched (sought back). */
  stopping(): boolean;
  instrumentation: Instrumentation;
  logger: Logger;
  retry?: RetryOptions;
  /**
   * Commit a partition's offset at most this often (default 1000 ms; 0: after every batch). The
   * commit is informational (the Redis watermark decides where processing resumes), so a round
   * trip per batch would only add latency; batches finished while stopping always commit. A batch
   * the throttle skips is committed by a trailing commit once the interval has passed, unless a
   * later batch commits first: after a burst the group's committed offsets still reach the end.
   */
  commitIntervalMs?: number;
  /** Records per engine call and commit (default {@link DEFAULT_APPLY_CHUNK}); a batch's commits are pipelined. */
  applyChunk?: number;
}

/**
 * Records per engine call and commit. Small enough that Redis starts writing a batch after a
 * thousand records instead of all of them, large enough that the per-commit cost (script call,
 * meta read and write) stays a small share.
 */
export const DEFAULT_APPLY_CHUNK = 1_000;

/**
 * Changes a partition's batches may leave waiting for a flush that has not started yet; past it,
 * a batch waits for the running flush before returning. Measured in bench:e2e: without such a
 * bound a busy scorer kept applying while its relay's round trips waited behind that work on the
 * one event loop, and the outboxes fell behind by tens of thousands of changes; a steady stream
 * leaves far fewer than this between two flushes, so it waits only once the relay lags.
 */
export const MAX_UNPUBLISHED_CHANGES = 1_000;

type BatchStages = InstrumentationEvents['consumer.batch']['stages'];

/** One partition's publication loop: the flush running, and what later batches asked for meanwhile. */
interface PublicationLoop {
  /** Settles when no flush is running or requested any more. Never rejects. */
  running: Promise<void>;
  /** The flush running now. Never rejects. */
  current: Promise<void>;
  /** The next flush to run: the newest requesting batch's control and every requester's event times. */
  next: { control: BatchControl; eventTimes: number[]; changes: number } | null;
}

const seconds = (since: number): number => (performance.now() - since) / 1000;

function toEngineRecord(record: KafkaRecord, tx: Transaction): EngineRecord {
  const engineRecord: EngineRecord = {
    offset: Number(record.offset),
    transactionId: tx.transactionId,
    customerId: tx.customerId,
    kind: tx.kind === 'PURCHASE' ? 'purchase' : 'refund',
    amountMinor: tx.amountMinor,
    eventTime: tx.eventTime,
  };
  if (tx.profitMinor !== null) engineRecord.profitMinor = tx.profitMinor;
  return engineRecord;
}

function toBalanceRecord(record: KafkaRecord, snapshot: BalanceSnapshot): BalanceRecord {
  return {
    kind: 'balance',
    offset: Number(record.offset),
    customerId: snapshot.customerId,
    accountId: snapshot.accountId,
    balanceMinor: snapshot.balanceMinor,
    eventTime: snapshot.asOf,
  };
}

/**
 * The consumer loop's per-partition batch handler. A record's path reads top to bottom: consume
 * (the batch), decode, validate (rejects to the DLQ), engine and commit (through the partition's
 * {@link OwnedPartition}), relay the outbox, resolve the offset and commit it, heartbeat.
 *
 * Committing is pipelined inside a batch: each chunk of `applyChunk` records is loaded, scored
 * and its commit sent without waiting for the reply, so Redis writes chunk k while chunk k+1 is
 * decoded and scored. Every commit is fenced by the commit number the previous one leaves, so a
 * chunk whose predecessor failed is refused instead of skipping ahead; the batch then re-reads the
 * partition from Redis and seeks back to its watermark.
 *
 * Publishing is decoupled from the batch: once a batch's commits are durable in Redis, the handler
 * asks the partition's publication loop for a flush and returns, so the next fetch, decode and
 * apply never wait for the relay's Kafka transactions. While a flush runs, later batches' requests
 * coalesce into ONE next flush (which publishes everything their commits left in the outbox), so a
 * busy partition's changes go out in fewer, larger transactions instead of queueing one
 * transaction per batch. A flush only ever reads what the fenced commits wrote, in outbox order;
 * the relay records its progress in the same transaction as the records, so nothing is skipped or
 * published twice. Applying runs ahead of the relay by about {@link MAX_UNPUBLISHED_CHANGES}
 * changes per partition at most: past that, a batch waits for the running flush before returning,
 * which keeps the outbox bounded and leaves the event loop to the relay's round trips when Kafka is
 * slower than the scorer. The offset commit can therefore
 * precede the publication of the batch's changes: harmless, because the commit is informational
 * and the changes sit in the Redis outbox until a committed relay transaction carries them (a
 * crash leaves them for the next owner's flush on assignment).
 *
 * Guarantees:
 * - Never skips ahead: a batch fetched from beyond the next offset to process (a gap) is dropped
 *   and the consumer is sought back; records at or below the partition watermark are skipped.
 * - Nothing is lost: rejected records reach the DLQ before the chunk is applied; a retriable
 *   failure (Redis down, broker restarting) backs off with jitter and retries the same step.
 * - A stale batch (rebalance, seek, revoke, another owner) stops having side effects at the point
 *   it went stale: no DLQ write, no apply, no publish, no commit after that point.
 */
export function createBatchHandler(deps: BatchHandlerDeps): PartitionBatchHandler & { publications(): Promise<void>; cancelTrailingCommits(): void } {
  const { decoder, validate, dlq, ownership, relay, positions, instrumentation, logger } = deps;
  const commitIntervalMs = deps.commitIntervalMs ?? 1_000;
  const applyChunk = deps.applyChunk ?? DEFAULT_APPLY_CHUNK;
  const lastCommit = new Map<string, number>();
  /** Per partition, the offset batches the throttle skipped left uncommitted, and the timer that commits it. */
  const trailing = new Map<string, { tp: TopicPartition; offset: string; timer: NodeJS.Timeout }>();

  /** The state partition a topic-partition feeds: itself, or for a balances partition the transactions partition p. */
  const stateOf = (tp: TopicPartition): TopicPartition =>
    deps.balances !== undefined && tp.topic === deps.balances.topic ? { topic: deps.stateTopic ?? tp.topic, partition: tp.partition } : tp;

  const cancelTrailing = (key: string): void => {
    clearTimeout(trailing.get(key)?.timer);
    trailing.delete(key);
  };

  /** Commits what the throttled batches of a partition left, unless the partition is no longer mine. */
  async function commitTrailing(key: string): Promise<void> {
    const pending = trailing.get(key);
    trailing.delete(key);
    if (pending === undefined || deps.aborted() || !ownership.isMine(stateOf(pending.tp))) return;
    try {
      const committed = await deps.commitOffsets([{ ...pending.tp, offset: pending.offset }]);
      if (committed.length > 0) lastCommit.set(key, Date.now());
    } catch (err) {
      logger.warn({ err, ...pending.tp }, 'trailing offset commit failed (informational; the Redis watermark is authoritative)');
    }
  }

  /** The offset a batch left uncommitted is committed when the interval since the last commit is over. */
  function scheduleTrailing(key: string, tp: TopicPartition, offset: string): void {
    const pending = trailing.get(key);
    if (pending !== undefined) {
      pending.offset = offset;
      return;
    }
    const delay = Math.max(0, commitIntervalMs - (Date.now() - (lastCommit.get(key) ?? 0)));
    const timer = setTimeout(() => void commitTrailing(key), delay);
    // A pending informational commit must not keep the process alive.
    timer.unref();
    trailing.set(key, { tp, offset, timer });
  }

  const outcome = (topic: string, partition: number, kind: 'scored' | 'duplicate' | 'late' | 'dlq' | 'stale', count: number): void => {
    if (count > 0) instrumentation.emit('consumer.records', { topic, partition, outcome: kind, count });
  };
  const emitCounts = (topic: string, partition: number, counts: EngineCounts): void => {
    outcome(topic, partition, 'scored', counts.applied);
    outcome(topic, partition, 'duplicate', counts.duplicate);
    outcome(topic, partition, 'late', counts.late);
    outcome(topic, partition, 'stale', counts.stale);
  };

  /** Per partition, its publication loop while a flush runs or is requested. */
  const publishing = new Map<string, PublicationLoop>();

  /**
   * Publishes a partition's outbox after a batch, retrying while the batch is current; then emits
   * the end-to-end latency of the batch's records (transaction to published tier change). A
   * failure is logged and left in the outbox, which the next batch, the next assignment or the
   * shutdown flush publishes.
   */
  async function publish(topic: string, partition: number, control: BatchControl, eventTimes: number[]): Promise<void> {
    try {
      const flushed = await retrying(() => relay.flush(topic, partition, () => !control.isStale()), {
        shouldStop: () => control.isStale() || deps.aborted(),
        options: deps.retry,
        onRetry: (err, attempt, delayMs) => logger.warn({ err, step: 'publish', attempt, delayMs: Math.round(delayMs) }, 'retriable failure; publishing again'),
      });
      // A flush the batch's staleness cut short did not publish these records' changes (yet).
      if (!flushed.done || !flushed.value.complete) return;
      const now = Date.now();
      for (const eventTime of eventTimes) instrumentation.emit('consumer.end_to_end_latency', { topic, seconds: Math.max(0, now - eventTime) / 1000 });
    } catch (err) {
      logger.error({ err, topic, partition }, 'publishing the outbox failed; the changes stay in the outbox for the next flush');
    }
  }

  /**
   * Asks for the partition's outbox to be published after a batch's commits are durable. Runs the
   * flush now when none is running; otherwise folds the request into the next flush, which the
   * loop starts as soon as the running one ends. The newest batch's control decides whether that
   * flush still may run (a rebalance or seek makes the older ones stale too). Returns the loop,
   * which settles once nothing is left to publish.
   */
  function requestPublication(topic: string, partition: number, control: BatchControl, eventTimes: number[], changes: number): PublicationLoop {
    const key = partitionKey(topic, partition);
    const current = publishing.get(key);
    if (current !== undefined) {
      if (current.next === null) {
        current.next = { control, eventTimes, changes };
      } else {
        current.next.control = control;
        for (const eventTime of eventTimes) current.next.eventTimes.push(eventTime);
        current.next.changes += changes;
      }
      return current;
    }
    const loop: PublicationLoop = { running: Promise.resolve(), current: Promise.resolve(), next: { control, eventTimes, changes } };
    publishing.set(key, loop);
    loop.running = (async () => {
      for (let request = loop.next; request !== null; request = loop.next) {
        loop.next = null;
        if (request.control.isStale()) continue;
        loop.current = publish(topic, partition, request.control, request.eventTimes);
        await loop.current;
      }
      publishing.delete(key);
    })();
    return loop;
  }

  /** Retries `work` while the batch is current; undefined once it went stale (or the scorer aborts). */
  async function step<T>(control: BatchControl, label: string, work: () => Promise<T>): Promise<T | undefined> {
    const result = await retrying(() => control.keepAlive(work()), {
      shouldStop: () => control.isStale() || deps.aborted(),
      options: deps.retry,
      onRetry: async (err, attempt, delayMs) => {
        logger.warn({ err, step: label, attempt, delayMs: Math.round(delayMs) }, 'retriable failure; retrying the same batch');
        await control.heartbeat();
      },
    });
    return result.done ? result.value : undefined;
  }

  /** How one topic's records are checked and turned into engine records. */
  interface InputPath {
    decoder: TransactionDecoder;
    /** Validates a decoded value into an engine record, or says why it is rejected. */
    accept(record: KafkaRecord, raw: unknown): { ok: true; value: EngineRecord | BalanceRecord } | { ok: false; error: DecodeError };
  }

  /** The checks both inputs share: the policy currency, and the key must be the customer id. */
  function screen(record: KafkaRecord, value: { currency: string; customerId: string }, what: string): DecodeError | null {
    if (value.currency !== deps.currency) return new DecodeError('VALIDATION_FAILED', `currency: must be the policy currency ${deps.currency}`, ['currency']);
    if (record.key === null || record.key.toString('utf8') !== value.customerId) {
      // A customer's state lives in the partition its key hashes to: a record keyed otherwise
      // would split the customer across partitions (counted twice, ids reused).
      const problem = record.key === null ? 'the record has no key' : 'the record key differs';
      return new DecodeError('KEY_MISMATCH', `key: ${problem}; producers must key ${what} by customerId`, ['key']);
    }
    return null;
  }

  const transactionPath: InputPath = {
    decoder,
    accept(record, raw) {
      const checked = validate(raw);
      if (!checked.ok) return checked;
      const error = screen(record, checked.value, 'transactions');
      return error === null ? { ok: true, value: toEngineRecord(record, checked.value) } : { ok: false, error };
    },
  };
  const balances = deps.balances;
  const balancePath: InputPath | undefined =
    balances === undefined
      ? undefined
      : {
          decoder: balances.decoder,
          accept(record, raw) {
            const checked = balances.validate(raw);
            if (!checked.ok) return checked;
            const error = screen(record, checked.value, 'balance snapshots');
            return error === null ? { ok: true, value: toBalanceRecord(record, checked.value) } : { ok: false, error };
          },
        };

  /**
   * Decodes and validates one chunk of records (synchronous: the schemas are warmed), adding the
   * time spent to the batch's decode and validate stages.
   */
  function check(path: InputPath, records: readonly KafkaRecord[], eventTimes: number[], stages: BatchStages): { valid: (EngineRecord | BalanceRecord)[]; rejections: Rejection[] } {
    let started = performance.now();
    const decodedAll = records.map((record) => path.decoder.decode(record.value));
    stages.decode += seconds(started);
    started = performance.now();
    const rejections: Rejection[] = [];
    const valid: (EngineRecord | BalanceRecord)[] = [];
    for (let i = 0; i < records.length; i++) {
      const record = records[i] as KafkaRecord;
      const decoded = decodedAll[i] as DecodeResult<unknown>;
      if (!decoded.ok) {
        rejections.push({ record, error: decoded.error });
        continue;
      }
      const accepted = path.accept(record, decoded.value);
      if (!accepted.ok) {
        rejections.push({ record, error: accepted.error });
      } else {
        valid.push(accepted.value);
        eventTimes.push(accepted.value.eventTime);
      }
    }
    stages.validate += seconds(started);
    return { valid, rejections };
  }

  async function handlePartitionBatch(batch: PartitionBatch, control: BatchControl): Promise<void> {
    const { topic, partition } = batch;
    const tp = { topic, partition };
    // A balances batch feeds the state of partition p of the transactions topic: it is owned,
    // serialised, committed and published as that partition.
    const path = balancePath !== undefined && topic === deps.balances?.topic ? balancePath : transactionPath;
    const stateTp = stateOf(tp);
    const stages: BatchStages = { decode: 0, validate: 0, apply: 0, publish: 0 };

    if (deps.stopping()) {
      deps.seek(tp, batch.fetchedOffset);
      return;
    }
    if (control.isStale()) return;
    const owned = ownership.get(stateTp);
    if (owned === undefined) {
      // Assigned but not claimed yet (a fetch that was in flight at the assignment), stopped, or
      // given up to another owner: hand the batch back, so kafkajs does not move past it.
      deps.seek(tp, batch.fetchedOffset);
      return;
    }

    // Position: refuse a gap, drop what is already applied.
    const next = positions.next(topic, partition);
    if (next !== undefined && BigInt(batch.fetchedOffset) > next) {
      logger.warn({ topic, partition, fetchedOffset: batch.fetchedOffset, next: next.toString() }, 'batch starts beyond the applied position; seeking back');
      deps.seek(tp, next.toString());
      return;
    }
    if (owned.holding) {
      // Event clock: the partition stands at a boundary instant until its epoch is re-evaluated;
      // the boundary re-evaluator resumes it then.
      deps.pause(tp);
      deps.seek(tp, next?.toString() ?? batch.fetchedOffset);
      return;
    }
    const records = next === undefined ? batch.records : batch.records.filter((r) => BigInt(r.offset) >= next);
    outcome(topic, partition, 'stale', batch.records.length - records.length);
    positions.taken(topic, partition, records[0]);

    // Warm the writer schemas of unseen ids once per batch; decoding is synchronous after that.
    let started = performance.now();
    const prepared = await step(control, 'decode', async () => {
      await path.decoder.prepare(records.map((r) => r.value));
      return true;
    });
    if (prepared === undefined) return;
    stages.decode = seconds(started);

    const eventTimes: number[] = [];
    let changes = 0;
    /** Event clock: the record the partition holds at (the first at or after a boundary instant), once reached. */
    let held: KafkaRecord | undefined;
    const applied = await ownership.exclusive(stateTp, async (): Promise<boolean> => {
      // Chunk by chunk: decode, validate, dead-letter, then score and send the chunk's commit
      // without waiting for its reply.
      let applyStarted: number | undefined;
      try {
        for (let from = 0; from < records.length; from += applyChunk) {
          const chunk = records.slice(from, from + applyChunk);
          let { valid, rejections } = check(path, chunk, eventTimes, stages);
          // Event clock: nothing at or after the next boundary instant until its epoch is re-evaluated.
          const cut = owned.barrierCut(valid);
          if (cut !== null) {
            const at = (valid[cut.index] as EngineRecord | BalanceRecord).offset;
            held = chunk.find((r) => Number(r.offset) === at);
            rejections = rejections.filter((r) => Number(r.record.offset) < at);
            // The held records are not published by this batch: no latency of theirs to report.
            eventTimes.length -= valid.length - cut.index;
            valid = valid.slice(0, cut.index);
          }
          // Dead-letter before applying: once applied, the watermark passes these offsets for good.
          if (rejections.length > 0) {
            const sent = control.isStale()
              ? undefined
              : await step(control, 'dlq', async () => {
                  await dlq.publish(rejections);
                  return true;
                });
            if (sent === undefined) return false;
            outcome(topic, partition, 'dlq', rejections.length);
          }
          if (control.isStale() || !ownership.isMine(stateTp)) return false;
          if (valid.length > 0) {
            applyStarted ??= performance.now();
            // A retriable failure here is a failed load (nothing sent yet): the same chunk again.
            const counts = await step(control, 'apply', () => owned.apply(valid, Date.now()));
            if (counts === undefined) return false;
            emitCounts(topic, partition, counts);
            // Tier changes and signals both wait in the outbox.
            changes += counts.changes + counts.signals;
            await control.heartbeat();
          }
          if (cut !== null) {
            if ((await step(control, 'barrier', () => owned.reachBarrier(cut.instant).then(() => true))) === undefined) return false;
            break;
          }
        }
        await control.keepAlive(owned.settled());
        if (held !== undefined) {
          // Paused while the partition still cannot be released (the release runs in this section too).
          deps.pause(tp);
          logger.info({ topic, partition, offset: held.offset, instant: new Date(owned.reachedInstant ?? 0).toISOString() }, 'partition reached a boundary instant; holding its records until the epoch is published');
        }
        return true;
      } catch (err) {
        // A commit failed or was refused (or its outcome is unknown): the state is re-read.
        if (!isPyramidError(err, 'STATE_FENCED')) throw err;
        await recoverPartition(
          owned,
          { ...deps, positions, ...(deps.balances === undefined ? {} : { balancesTopic: deps.balances.topic }), shouldStop: () => control.isStale() || deps.aborted() },
          err,
        );
        return false;
      } finally {
        if (applyStarted !== undefined) stages.apply = seconds(applyStarted);
      }
    });
    if (!applied) return;

    // Publish the partition's outbox in the background (the commits are durable: a flush reads
    // them from Redis); wait for the running flush only when the relay has fallen behind. One
    // publication loop per state partition: its transactions and balances batches share it.
    started = performance.now();
    if (control.isStale()) return;
    const loop = requestPublication(stateTp.topic, partition, control, eventTimes, changes);
    if ((loop.next?.changes ?? 0) >= MAX_UNPUBLISHED_CHANGES) await loop.current;
    stages.publish = seconds(started);
    const key = partitionKey(topic, partition);
    if (held !== undefined) {
      // Nothing flushes a holding partition until its epoch is re-evaluated, and the seek in
      // holdAt makes this batch stale, which would drop a publication still queued behind a
      // running one: the changes up to the instant (its timers' included) go out first.
      await loop.running;
      await holdAt(key, tp, held, batch);
      return;
    }

    // Resolve the offset and commit, throttled (informational: the Redis watermark is authoritative).
    positions.advance(topic, partition, batch.lastOffset, batch.records[batch.records.length - 1]);
    const offset = (BigInt(batch.lastOffset) + 1n).toString();
    if (deps.stopping() || Date.now() - (lastCommit.get(key) ?? 0) >= commitIntervalMs) {
      cancelTrailing(key);
      try {
        if (await control.commit()) lastCommit.set(key, Date.now());
      } catch (err) {
        logger.warn({ err, topic, partition }, 'offset commit failed (informational; the Redis watermark is authoritative)');
        scheduleTrailing(key, tp, offset);
      }
    } else {
      scheduleTrailing(key, tp, offset);
    }
    await control.heartbeat();
    instrumentation.emit('consumer.batch', { topic, partition, size: batch.records.length, stages });
  }

  /**
   * Event clock: the batch stopped at `held`, the first record at or after a boundary instant.
   * The positions and the group's offset stop there (not past it), and the consumer goes back to
   * it, so the partition fetches it again once released.
   */
  async function holdAt(key: string, tp: TopicPartition, held: KafkaRecord, batch: PartitionBatch): Promise<void> {
    const before = batch.records[batch.records.indexOf(held) - 1];
    positions.advance(tp.topic, tp.partition, (BigInt(held.offset) - 1n).toString(), before);
    cancelTrailing(key);
    try {
      if ((await deps.commitOffsets([{ ...tp, offset: held.offset }])).length > 0) lastCommit.set(key, Date.now());
    } catch (err) {
      logger.warn({ err, ...tp }, 'offset commit failed (informational; the Redis watermark is authoritative)');
    }
    deps.seek(tp, held.offset);
  }

  /** Settles once every publication started so far has finished (the scorer's shutdown waits). */
  const publications = async (): Promise<void> => {
    while (publishing.size > 0) await Promise.all([...publishing.values()].map((loop) => loop.running));
  };
  /** Drops the trailing commits not yet made (shutdown commits every owned partition itself). */
  const cancelTrailingCommits = (): void => {
    for (const key of [...trailing.keys()]) cancelTrailing(key);
  };
  return Object.assign(handlePartitionBatch, { publications, cancelTrailingCommits });
}
