import type { Message, Producer, Transaction } from 'kafkajs';
import { PyramidError } from '../errors.js';
import type { PyramidAdmin } from './admin.js';
import type { CoordinatorCachingProducer } from './coordinator-cache.js';
import { kafkaError, kafkaErrorTypes } from './errors.js';
import { toMessage } from './producer.js';
import type { OutgoingRecord } from './types.js';

/**
 * How far a publisher has got, recorded in the same transaction as what it published: the
 * committed offset of `groupId` for `topic`/`partition` (a TxnOffsetCommit). The partition must
 * exist; the natural choice is the input partition whose output is published, with the offset
 * (or outbox position) to resume from.
 */
export interface ProgressMark {
  groupId: string;
  topic: string;
  partition: number;
  /** A non-negative int64 as a decimal string: where to resume, i.e. one past what is published. */
  offset: string;
}

/** The records of one topic in a transaction. */
export interface TopicRecords {
  topic: string;
  records: readonly OutgoingRecord[];
}

/** What {@link PyramidTransactionalProducer.publish} writes atomically. */
export interface TransactionalBatch {
  sends: readonly TopicRecords[];
  progress: ProgressMark;
}

/** A transactional producer for one transactional id; built by `createKafkaClient().createTransactionalProducer`. */
export interface PyramidTransactionalProducer {
  readonly transactionalId: string;
  /**
   * Connects and claims the transactional id (InitProducerId): every older instance with the same
   * id is fenced from here on, and a transaction one of them left open is aborted by the broker,
   * so nothing it half-published ever becomes visible to read_committed readers. Safe to call
   * again; `publish` calls it when needed.
   * @throws PyramidError KAFKA_UNAVAILABLE (retriable verdict of the client), KAFKA_PRODUCER_FENCED,
   *   KAFKA_TRANSACTION_FAILED
   */
  init(): Promise<void>;
  /**
   * Publishes `batch.sends` and records `batch.progress` in ONE transaction and commits it: a
   * read_committed reader sees all of the records and the progress moves, or neither happens.
   * On failure the transaction is aborted (or, when even the abort fails, the next call starts
   * over with a fresh InitProducerId, which makes the broker abort it). Calls are serialised.
   *
   * After any failure the caller should read the progress back ({@link readProgress}) before
   * publishing again: when the commit request itself was lost, the transaction may have committed.
   * @throws RangeError for a malformed progress mark (nothing is sent)
   * @throws PyramidError KAFKA_PRODUCER_FENCED (not retriable; every later call throws it too),
   *   KAFKA_TRANSACTION_FAILED (not retriable), KAFKA_UNAVAILABLE (with the client's verdict)
   */
  publish(batch: TransactionalBatch): Promise<void>;
  /**
   * The committed progress of `groupId` for `topic`/`partition`: what the last committed
   * transaction recorded, or `null` when none ever did. Pending (uncommitted) progress is never
   * returned.
   */
  readProgress(groupId: string, topic: string, partition: number): Promise<string | null>;
  disconnect(): Promise<void>;
}

/** Options of a transactional producer. */
export interface TransactionalProducerOptions {
  /** Identifies the publisher across restarts, e.g. one per input partition; required, non-empty. */
  transactionalId: string;
  /**
   * Default 60 s (the kafkajs and Kafka client default). The broker aborts a transaction open
   * longer than this and fences its producer; at most the broker's `transaction.max.timeout.ms`.
   */
  transactionTimeoutMs?: number;
}

/**
 * Protocol errors after which this instance can never publish again: the id has a newer epoch.
 * kafkajs 2.2.4 speaks v0/v1 of the transactional APIs, where brokers answer a fenced producer
 * with INVALID_PRODUCER_EPOCH (PRODUCER_FENCED exists from v2 only).
 */
const FENCED = new Set(['INVALID_PRODUCER_EPOCH', 'TRANSACTION_COORDINATOR_FENCED']);
/** Refusals retrying cannot fix; the transaction is aborted and the caller told. */
const FATAL = new Set(['INVALID_PRODUCER_ID_MAPPING', 'INVALID_TXN_STATE', 'INVALID_TRANSACTION_TIMEOUT', 'TRANSACTIONAL_ID_AUTHORIZATION_FAILED']);

const INT64_MAX = 9_223_372_036_854_775_807n;

/**
 * Records per produce request of a transaction. kafkajs 2.2.4 groups a request's records by
 * partition in time quadratic in their number (each record copies its partition's list so far):
 * measured ~2 µs per record up to 1,000 records per request, ~6-10 µs at 2,000-5,000. A larger
 * transaction is several produce requests (one more round trip each), still one transaction.
 */
const PRODUCE_SLICE = 500;

function checkProgress(progress: ProgressMark): void {
  if (progress.groupId === '') throw new RangeError('progress.groupId must not be empty');
  if (progress.topic === '') throw new RangeError('progress.topic must not be empty');
  if (!Number.isInteger(progress.partition) || progress.partition < 0) {
    throw new RangeError(`progress.partition must be a non-negative integer, got ${progress.partition}`);
  }
  if (!/^\d{1,19}$/.test(progress.offset) || BigInt(progress.offset) > INT64_MAX) {
    throw new RangeError(`progress.offset must be a non-negative int64 decimal string, got ${JSON.stringify(progress.offset)}`);
  }
}

/**
 * Adapts kafkajs transactional producers for one transactional id. `makeProducer` builds a fresh
 * kafkajs producer (transactional, idempotent, one request in flight) whose coordinators are
 * looked up once (./coordinator-cache.ts): after a failure whose abort also failed, kafkajs's own
 * state machine is stuck mid-transaction, so the next call replaces the producer, and its
 * InitProducerId makes the broker abort what was left open. After any other failed transaction
 * the cached coordinators are forgotten, in case one of them moved.
 */
export function wrapTransactionalProducer(
  transactionalId: string,
  makeProducer: () => CoordinatorCachingProducer,
  makeAdmin: () => PyramidAdmin,
): PyramidTransactionalProducer {
  let producer: Producer | null = null;
  let forgetCoordinators = (): void => undefined;
  let initialised: Promise<void> | null = null;
  let fenced: PyramidError | null = null;
  let queue: Promise<unknown> = Promise.resolve();

  function classify(action: string, err: unknown): PyramidError {
    if (err instanceof PyramidError) return err;
    const types = kafkaErrorTypes(err);
    const message = err instanceof Error ? err.message : String(err);
    if (types.some((t) => FENCED.has(t))) {
      return new PyramidError('KAFKA_PRODUCER_FENCED', `transactional id ${transactionalId} was claimed by a newer producer (${action}: ${message})`, {
        cause: err,
        details: { transactionalId },
      });
    }
    if (types.some((t) => FATAL.has(t))) {
      return new PyramidError('KAFKA_TRANSACTION_FAILED', `kafka ${action} for transactional id ${transactionalId} refused: ${message}`, {
        cause: err,
        details: { transactionalId, types },
      });
    }
    return kafkaError(`${action} (transactional id ${transactionalId})`, err);
  }

  /** Drops the kafkajs producer so the next call builds and initialises a new one. */
  async function discard(): Promise<void> {
    const old = producer;
    producer = null;
    initialised = null;
    await old?.disconnect().catch(() => undefined);
  }

  function serialised<T>(work: () => Promise<T>): Promise<T> {
    const run = queue.then(work, work);
    queue = run.catch(() => undefined);
    return run;
  }

  async function ready(): Promise<Producer> {
    if (fenced !== null) throw fenced;
    if (initialised === null) {
      const made = makeProducer();
      const p = (producer = made.producer);
      forgetCoordinators = made.forgetCoordinators;
      initialised = (async () => {
        await p.connect();
        // kafkajs sends InitProducerId for the transactional id at its first transaction() only
        // (connect inits a plain idempotent id); an empty transaction ends without a request.
        await (await p.transaction()).abort();
      })();
      try {
        await initialised;
      } catch (err) {
        const error = classify('init', err);
        if (error.code === 'KAFKA_PRODUCER_FENCED') fenced = error;
        await discard();
        throw error;
      }
    }
    await initialised;
    return producer as Producer;
  }

  async function publishNow(batch: TransactionalBatch): Promise<void> {
    const p = await ready();
    let txn: Transaction | null = null;
    try {
      txn = await p.transaction();
      for (const { topic, records } of batch.sends) {
        for (let from = 0; from < records.length; from += PRODUCE_SLICE) {
          const messages: Message[] = records.slice(from, from + PRODUCE_SLICE).map(toMessage);
          await txn.send({ topic, acks: -1, messages });
        }
      }
      const { groupId, topic, partition, offset } = batch.progress;
      await txn.sendOffsets({ consumerGroupId: groupId, topics: [{ topic, partitions: [{ partition, offset }] }] });
      await txn.commit();
    } catch (err) {
      forgetCoordinators();
      const error = classify('transaction', err);
      if (error.code === 'KAFKA_PRODUCER_FENCED') {
        fenced = error;
        await discard();
        throw error;
      }
      try {
        await txn?.abort();
      } catch {
        // Stuck mid-transaction (the commit itself failed, or the coordinator is away): a new
        // instance's InitProducerId makes the broker abort whatever is still open.
        await discard();
      }
      throw error;
    }
  }

  return {
    transactionalId,
    init: () => serialised(async () => void (await ready())),
    publish(batch) {
      checkProgress(batch.progress);
      return serialised(() => publishNow(batch));
    },
    async readProgress(groupId, topic, partition) {
      const admin = makeAdmin();
      await admin.connect();
      try {
        const offsets = await admin.committedOffsets(groupId, topic);
        const offset = offsets.find((o) => o.partition === partition)?.offset;
        return offset === undefined || offset === '-1' ? null : offset;
      } finally {
        await admin.disconnect();
      }
    },
    disconnect: () => serialised(discard),
  };
}
