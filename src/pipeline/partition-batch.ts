import { isPyramidError } from '../errors.js';
import type { Instrumentation, InstrumentationEvents } from '../instrumentation.js';
import type { BatchControl, PartitionBatchHandler } from '../kafka/consumer.js';
import { partitionKey, type KafkaRecord, type PartitionBatch, type TopicPartition } from '../kafka/types.js';
import type { Logger } from '../logger.js';
import type { StateStore } from '../state/store.js';
import type { BatchCounts, TransactionRecord } from '../state/types.js';
import { DecodeError, type DecodeResult } from './decode-error.js';
import type { TransactionDecoder } from './decode.js';
import type { DlqPublisher, Rejection } from './dlq-publisher.js';
import type { OutboxRelay } from './outbox-relay.js';
import type { PartitionPositions } from './partition-positions.js';
import { retrying, type RetryOptions } from './retry.js';
import type { Transaction } from './validate.js';

export interface BatchHandlerDeps {
  decoder: TransactionDecoder;
  validate: (raw: unknown) => DecodeResult<Transaction>;
  /** The policy currency: amounts in any other currency cannot be added up and go to the DLQ. */
  currency: string;
  dlq: DlqPublisher;
  store: StateStore;
  relay: OutboxRelay;
  positions: PartitionPositions;
  /** Moves the consumer's fetch position (gap refused, batch handed back). */
  seek(partition: TopicPartition, offset: string): void;
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
   * trip per batch would only add latency; batches finished while stopping always commit.
   */
  commitIntervalMs?: number;
  /** Records per Lua call (default {@link DEFAULT_APPLY_CHUNK}); a batch's calls are pipelined. */
  applyChunk?: number;
}

/**
 * Records per Lua call. Small enough that Redis starts on a batch after decoding a thousand
 * records instead of all of them, large enough that the per-call cost (policy decode, meta read
 * and write) stays under 1 % of the call.
 */
export const DEFAULT_APPLY_CHUNK = 1_000;

type BatchStages = InstrumentationEvents['consumer.batch']['stages'];

/** A Lua call's outcome, caught so that replies can be collected in order after all were sent. */
type ApplyReply = { ok: true; counts: BatchCounts } | { ok: false; error: unknown };

const settle = (reply: Promise<BatchCounts>): Promise<ApplyReply> =>
  reply.then(
    (counts) => ({ ok: true as const, counts }),
    (error: unknown) => ({ ok: false as const, error }),
  );

const seconds = (since: number): number => (performance.now() - since) / 1000;

function toStateRecord(record: KafkaRecord, tx: Transaction): TransactionRecord {
  return {
    offset: record.offset,
    transactionId: tx.transactionId,
    customerId: tx.customerId,
    kind: tx.kind === 'PURCHASE' ? 'purchase' : 'refund',
    amountMinor: tx.amountMinor,
    eventTime: tx.eventTime,
  };
}

/**
 * The consumer loop's per-partition batch handler. It reads top to bottom in the order things
 * happen: check the position, decode, validate, dead-letter, apply (one Lua call), publish the
 * outbox, resolve the offset and commit, heartbeat.
 *
 * Applying is pipelined inside a batch: the records go to Redis in chunks of `applyChunk`, each
 * chunk's Lua call sent as soon as the chunk is decoded and validated, without waiting for the
 * previous reply (Redis runs one partition's calls in the order sent). Each call requires the
 * previous chunk's last offset to be applied already, so a chunk whose predecessor failed refuses
 * instead of skipping ahead; the refused chunks are then retried one at a time. Without this, Redis
 * idled while a whole batch was decoded, and Node idled while Redis applied it.
 *
 * Publishing is pipelined one batch deep per partition: a batch starts publishing its changes and
 * the handler returns, so the next batch's fetch, decode and apply overlap that publication; the
 * next batch waits for it before starting its own (order kept, at most one batch of changes in
 * flight). That overlap is worth ~1.5x throughput. The offset commit can therefore precede the
 * publication of the batch's changes: harmless, because the commit is informational and the
 * changes sit in the Redis outbox until the broker acknowledged them (a crash leaves them for the
 * next owner's flush on assignment).
 *
 * Guarantees:
 * - Never skips ahead: a batch fetched from beyond the next offset to process (a gap) is dropped
 *   and the consumer is sought back. Records at or below the Redis watermark are filtered out here
 *   and would be skipped by the Lua watermark anyway.
 * - Nothing is lost: rejected records reach the DLQ before the batch is applied; a retriable
 *   failure (Redis down, broker restarting) backs off with jitter and retries the same step.
 * - A stale batch (rebalance, seek, revoke) stops having side effects at the point it went stale:
 *   no DLQ write, no apply, no publish, no commit after that point. Its partition's outbox is
 *   published by whoever owns the partition now (the relay runs on assignment too), so a zombie
 *   does not race the new owner; even if it did, the same event ids with the same content would
 *   be all downstream sees twice.
 */
export function createBatchHandler(deps: BatchHandlerDeps): PartitionBatchHandler & { publications(): Promise<void> } {
  const { decoder, validate, dlq, store, relay, positions, instrumentation, logger } = deps;
  const commitIntervalMs = deps.commitIntervalMs ?? 1_000;
  const applyChunk = deps.applyChunk ?? DEFAULT_APPLY_CHUNK;
  const lastCommit = new Map<string, number>();

  const outcome = (topic: string, partition: number, kind: 'scored' | 'duplicate' | 'late' | 'dlq' | 'stale', count: number): void => {
    if (count > 0) instrumentation.emit('consumer.records', { topic, partition, outcome: kind, count });
  };

  /** Per partition, the publication of its latest batch's changes, still running. Never rejects. */
  const publishing = new Map<string, Promise<void>>();

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

  /**
   * Decodes and validates one chunk of records (synchronous: the schemas are warmed), adding the
   * time spent to the batch's decode and validate stages.
   */
  function check(records: readonly KafkaRecord[], eventTimes: number[], stages: BatchStages): { valid: TransactionRecord[]; rejections: Rejection[] } {
    let started = performance.now();
    const decodedAll = records.map((record) => decoder.decode(record.value));
    stages.decode += seconds(started);
    started = performance.now();
    const rejections: Rejection[] = [];
    const valid: TransactionRecord[] = [];
    for (let i = 0; i < records.length; i++) {
      const record = records[i] as KafkaRecord;
      const decoded = decodedAll[i] as DecodeResult<unknown>;
      if (!decoded.ok) {
        rejections.push({ record, error: decoded.error });
        continue;
      }
      const checked = validate(decoded.value);
      if (!checked.ok) {
        rejections.push({ record, error: checked.error });
      } else if (checked.value.currency !== deps.currency) {
        rejections.push({ record, error: new DecodeError('VALIDATION_FAILED', `currency: must be the policy currency ${deps.currency}`, ['currency']) });
      } else {
        valid.push(toStateRecord(record, checked.value));
        eventTimes.push(checked.value.eventTime);
      }
    }
    stages.validate += seconds(started);
    return { valid, rejections };
  }

  async function handlePartitionBatch(batch: PartitionBatch, control: BatchControl): Promise<void> {
    const { topic, partition } = batch;
    const tp = { topic, partition };
    const stages: BatchStages = { decode: 0, validate: 0, apply: 0, publish: 0 };

    if (deps.stopping()) {
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
    const records = next === undefined ? batch.records : batch.records.filter((r) => BigInt(r.offset) >= next);
    outcome(topic, partition, 'stale', batch.records.length - records.length);
    positions.taken(topic, partition, records[0]);

    // Warm the writer schemas of unseen ids once per batch; decoding is synchronous after that.
    let started = performance.now();
    const prepared = await step(control, 'decode', async () => {
      await decoder.prepare(records.map((r) => r.value));
      return true;
    });
    if (prepared === undefined) return;
    stages.decode = seconds(started);

    // Chunk by chunk: decode, validate, dead-letter, then send the chunk's Lua call without
    // waiting for its reply, so Redis applies chunk k while chunk k+1 is decoded. Each call
    // requires the previous chunk's last offset to be applied already (never skip ahead).
    const eventTimes: number[] = [];
    const applies: Array<{ chunk: TransactionRecord[]; requireApplied: string | undefined; reply: Promise<ApplyReply> }> = [];
    let lastSent: string | undefined;
    let applyStarted: number | undefined;
    let stale = false;
    for (let from = 0; from < records.length && !stale; from += applyChunk) {
      const { valid, rejections } = check(records.slice(from, from + applyChunk), eventTimes, stages);

      // Dead-letter before applying: once applied, the watermark passes these offsets for good.
      if (rejections.length > 0) {
        const sent = control.isStale()
          ? undefined
          : await step(control, 'dlq', async () => {
              await dlq.publish(rejections);
              return true;
            });
        if (sent === undefined) {
          stale = true;
          break;
        }
        outcome(topic, partition, 'dlq', rejections.length);
      }
      if (valid.length === 0) continue;
      if (control.isStale()) {
        stale = true;
        break;
      }
      applyStarted ??= performance.now();
      const requireApplied = lastSent;
      applies.push({ chunk: valid, requireApplied, reply: settle(store.applyPartitionBatch(topic, partition, valid, Date.now(), { requireApplied })) });
      lastSent = String(valid[valid.length - 1]?.offset);
      await control.heartbeat();
    }

    // Collect the replies in order. After a failed chunk, the rest go one at a time through the
    // retry loop; a chunk still refused for a watermark that did not move means the state is not
    // where this batch left it (lost, or rewound): seek back to what Redis has.
    let retrying = false;
    for (const apply of applies) {
      const reply = await apply.reply;
      let counts: BatchCounts | undefined;
      if (reply.ok) {
        // Its requirement held, so every chunk before it had applied: its counts stand.
        counts = reply.counts;
      } else if (!stale) {
        if (!retrying) logger.warn({ err: reply.error, topic, partition }, 'a pipelined chunk did not apply; applying the rest one chunk at a time');
        retrying = true;
        try {
          counts = await step(control, 'apply', () => store.applyPartitionBatch(topic, partition, apply.chunk, Date.now(), { requireApplied: apply.requireApplied }));
        } catch (err) {
          if (!isPyramidError(err, 'STATE_WATERMARK_BEHIND')) throw err;
          const resume = BigInt(String(err.details?.storedWatermark ?? '-1')) + 1n;
          logger.warn({ topic, partition, requireApplied: apply.requireApplied, resume: resume.toString() }, 'partition state is behind what this batch applied; seeking back to the Redis watermark');
          positions.reset(topic, partition, resume);
          deps.seek(tp, resume.toString());
          stale = true;
        }
        if (counts === undefined) stale = true;
      }
      if (counts === undefined) continue;
      outcome(topic, partition, 'scored', counts.applied);
      outcome(topic, partition, 'duplicate', counts.duplicate);
      outcome(topic, partition, 'late', counts.late);
      outcome(topic, partition, 'stale', counts.stale);
    }
    if (applyStarted !== undefined) stages.apply = seconds(applyStarted);
    if (stale) return;

    // Publish the partition's outbox: first wait for the previous batch's publication (it ran
    // while this batch was decoded and applied), then start this one's and move on.
    started = performance.now();
    const key = partitionKey(topic, partition);
    await publishing.get(key);
    if (control.isStale()) return;
    const publication = publish(topic, partition, control, eventTimes);
    publishing.set(key, publication);
    void publication.finally(() => {
      if (publishing.get(key) === publication) publishing.delete(key);
    });
    stages.publish = seconds(started);

    // Resolve the offset and commit, throttled (informational: the Redis watermark is authoritative).
    positions.advance(topic, partition, batch.lastOffset, batch.records[batch.records.length - 1]);
    if (deps.stopping() || Date.now() - (lastCommit.get(key) ?? 0) >= commitIntervalMs) {
      try {
        if (await control.commit()) lastCommit.set(key, Date.now());
      } catch (err) {
        logger.warn({ err, topic, partition }, 'offset commit failed (informational; the Redis watermark is authoritative)');
      }
    }
    await control.heartbeat();
    instrumentation.emit('consumer.batch', { topic, partition, size: batch.records.length, stages });
  }

  /** Settles once every publication started so far has finished (the scorer's shutdown waits). */
  const publications = async (): Promise<void> => {
    while (publishing.size > 0) await Promise.all([...publishing.values()]);
  };
  return Object.assign(handlePartitionBatch, { publications });
}
