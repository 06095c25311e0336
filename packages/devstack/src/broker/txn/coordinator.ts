import type { Logger } from '../../logger.js';
import type { BrokerPluginInstance } from '../broker-plugin.js';
import type { TransactionView } from '../context.js';
import type { FsyncPolicy } from '../fsync-policy.js';
import type { AppendNotifier } from '../log/append-notifier.js';
import type { PartitionLog } from '../log/partition-log.js';
import type { TopicStore } from '../log/topic-store.js';
import { KafkaErrorCode } from '../protocol/errors.js';
import type { TransactionOutcome } from '../records/control-batch.js';
import type { TxnMetadata, TxnStore } from './txn-store.js';

/** Coordinator settings; names and defaults follow Kafka's `transaction.*` broker configs. */
export interface TransactionCoordinatorOptions {
  /** `transaction.max.timeout.ms`: the largest transaction_timeout_ms a producer may ask for. Default 900000. */
  readonly maxTimeoutMs?: number;
  /**
   * `transaction.abort.timed.out.transaction.cleanup.interval.ms`: how often transactions open
   * longer than their timeout are looked for and aborted. Default 10000, as Kafka.
   */
  readonly abortCheckIntervalMs?: number;
}

/** What InitProducerId answers. */
export interface InitProducerIdResult {
  readonly errorCode: KafkaErrorCode;
  readonly producerId: number;
  readonly producerEpoch: number;
}

/** What the coordinator needs of the broker around it. */
export interface TransactionCoordinatorDeps {
  readonly store: TxnStore;
  readonly topics: TopicStore;
  readonly notifier: AppendNotifier;
  readonly fsync: FsyncPolicy;
  /** The started plugins; each one's `onTransactionEnd` runs when a transaction with offsets ends. */
  readonly plugins: readonly BrokerPluginInstance[];
  readonly logger: Logger;
}

/** An epoch one below Short.MaxValue: a producer id whose epoch would pass it is replaced. */
const MAX_EPOCH = 32_766;

type Verified = { readonly meta: TxnMetadata; readonly errorCode?: undefined } | { readonly meta?: undefined; readonly errorCode: KafkaErrorCode };

/**
 * The transaction coordinator of the single-node broker (KIP-98), following Kafka's
 * TransactionCoordinator (core/src/main/scala/kafka/coordinator/transaction) as far as a
 * transactional kafkajs producer and read_committed consumers depend on it:
 *
 * - InitProducerId with a transactional id hands out the id's producer id with its epoch bumped
 *   (a new id at epoch 0 the first time). That fences every earlier instance: their requests
 *   carry the old epoch and get INVALID_PRODUCER_EPOCH (the code Kafka 2.4 answers; PRODUCER_FENCED
 *   exists only from v2 of the transactional APIs, which are not advertised). A transaction the old
 *   epoch left open is aborted first, with markers at a bumped epoch, as Kafka does.
 * - AddPartitionsToTxn / AddOffsetsToTxn start a transaction and record what it touches, on disk
 *   before the answer, so a crash cannot forget a partition that has to get a marker.
 * - EndTxn persists PrepareCommit/PrepareAbort, writes a control batch to every partition of the
 *   transaction (Kafka sends WriteTxnMarkers to the leaders; here they are appended in-process),
 *   lets the group coordinator commit or drop the transaction's offsets, and persists
 *   CompleteCommit/CompleteAbort. A crash in between is finished on the next start.
 * - A transaction open longer than its timeout is aborted with an epoch bump, fencing its producer.
 *
 * Kafka answers CONCURRENT_TRANSACTIONS while markers are being written; here that happens only
 * while another request of the same id is awaiting the group coordinator, or after a write failed
 * (the next request of that id retries the completion).
 */
export class TransactionCoordinator implements TransactionView {
  private readonly maxTimeoutMs: number;
  private readonly abortCheckIntervalMs: number;
  /** Transactional ids whose completion is under way; their other requests wait their turn. */
  private readonly completing = new Set<string>();
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly deps: TransactionCoordinatorDeps,
    options: TransactionCoordinatorOptions = {},
  ) {
    this.maxTimeoutMs = options.maxTimeoutMs ?? 900_000;
    this.abortCheckIntervalMs = options.abortCheckIntervalMs ?? 10_000;
    for (const [name, value] of [
      ['maxTimeoutMs', this.maxTimeoutMs],
      ['abortCheckIntervalMs', this.abortCheckIntervalMs],
    ] as const) {
      if (!Number.isInteger(value) || value < 1) throw new RangeError(`transactions.${name} must be a positive integer, got ${value}`);
    }
  }

  /**
   * Finishes transactions a crash left between prepare and complete, then starts the timeout
   * check. Call once the plugins have started (their hooks complete the offsets).
   */
  async start(): Promise<void> {
    for (const meta of this.deps.store.all()) {
      if (meta.state === 'PrepareCommit' || meta.state === 'PrepareAbort') {
        this.deps.logger.warn({ transactionalId: meta.transactionalId, state: meta.state }, 'finishing a transaction interrupted by a restart');
        await this.complete(meta, meta.state === 'PrepareCommit' ? 'commit' : 'abort', meta.producerEpoch);
      }
    }
    this.timer = setInterval(() => void this.abortTimedOut(Date.now()), this.abortCheckIntervalMs);
    // The listener keeps the process alive, never this timer.
    this.timer.unref();
  }

  close(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  /** InitProducerId for a transactional id. */
  async initProducerId(transactionalId: string, timeoutMs: number): Promise<InitProducerIdResult> {
    const fail = (errorCode: KafkaErrorCode): InitProducerIdResult => ({ errorCode, producerId: -1, producerEpoch: -1 });
    if (transactionalId === '') return fail(KafkaErrorCode.INVALID_REQUEST);
    if (!Number.isInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > this.maxTimeoutMs) return fail(KafkaErrorCode.INVALID_TRANSACTION_TIMEOUT);
    if (this.completing.has(transactionalId)) return fail(KafkaErrorCode.CONCURRENT_TRANSACTIONS);
    let meta = this.deps.store.get(transactionalId);
    try {
      if (meta !== undefined && (meta.state === 'PrepareCommit' || meta.state === 'PrepareAbort')) {
        meta = await this.complete(meta, meta.state === 'PrepareCommit' ? 'commit' : 'abort', meta.producerEpoch);
      }
      if (meta !== undefined && meta.state === 'Ongoing') {
        this.deps.logger.info({ transactionalId, producerId: meta.producerId }, 'new producer instance: aborting the open transaction of the previous one');
        meta = await this.fenceAndAbort(meta);
      }
      let producerId: number;
      let producerEpoch: number;
      if (meta === undefined || meta.producerEpoch >= MAX_EPOCH) {
        producerId = this.deps.topics.allocateProducerId();
        producerEpoch = 0;
      } else {
        producerId = meta.producerId;
        producerEpoch = meta.producerEpoch + 1;
      }
      this.deps.store.put({ transactionalId, producerId, producerEpoch, timeoutMs, state: 'Empty', partitions: [], groups: [], startedAtMs: -1 });
      return { errorCode: KafkaErrorCode.NONE, producerId, producerEpoch };
    } catch (err) {
      // The state (or a marker) could not be written: a retriable answer, kafkajs asks again.
      this.deps.logger.error({ err, transactionalId }, 'InitProducerId failed to persist transaction state');
      return fail(KafkaErrorCode.COORDINATOR_NOT_AVAILABLE);
    }
  }

  /** AddPartitionsToTxn: one error code per requested partition, in request order. */
  addPartitions(transactionalId: string, producerId: number, producerEpoch: number, partitions: readonly (readonly [string, number])[]): KafkaErrorCode[] {
    const v = this.verifyForUpdate(transactionalId, producerId, producerEpoch);
    if (v.errorCode !== undefined) return partitions.map(() => v.errorCode);
    const unknown = partitions.map(([topic, partition]) => this.deps.topics.partition(topic, partition) === undefined);
    // Kafka adds none when any is unknown, answering the others OPERATION_NOT_ATTEMPTED.
    if (unknown.some(Boolean)) return unknown.map((u) => (u ? KafkaErrorCode.UNKNOWN_TOPIC_OR_PARTITION : KafkaErrorCode.OPERATION_NOT_ATTEMPTED));
    const known = new Set(v.meta.partitions.map(([t, p]) => `${p}:${t}`));
    const added = partitions.filter(([t, p]) => !known.has(`${p}:${t}`));
    const errorCode = this.begin(v.meta, { partitions: [...v.meta.partitions, ...dedupe(added)] });
    return partitions.map(() => errorCode);
  }

  /** AddOffsetsToTxn: the group's offsets will be committed (or dropped) with the transaction. */
  addOffsets(transactionalId: string, producerId: number, producerEpoch: number, groupId: string): KafkaErrorCode {
    const v = this.verifyForUpdate(transactionalId, producerId, producerEpoch);
    if (v.errorCode !== undefined) return v.errorCode;
    if (groupId === '') return KafkaErrorCode.INVALID_GROUP_ID;
    return this.begin(v.meta, { groups: v.meta.groups.includes(groupId) ? v.meta.groups : [...v.meta.groups, groupId] });
  }

  /** EndTxn: commit or abort the ongoing transaction. A retry of a finished EndTxn succeeds again. */
  async endTxn(transactionalId: string, producerId: number, producerEpoch: number, commit: boolean): Promise<KafkaErrorCode> {
    const outcome: TransactionOutcome = commit ? 'commit' : 'abort';
    if (this.completing.has(transactionalId)) return KafkaErrorCode.CONCURRENT_TRANSACTIONS;
    const v = this.verify(transactionalId, producerId, producerEpoch);
    if (v.errorCode !== undefined) return v.errorCode;
    const { meta } = v;
    const prepared = meta.state === 'PrepareCommit' ? 'commit' : meta.state === 'PrepareAbort' ? 'abort' : null;
    if (meta.state === 'Ongoing' || prepared === outcome) {
      try {
        await this.complete(meta, outcome, meta.producerEpoch);
        return KafkaErrorCode.NONE;
      } catch (err) {
        // Left in Prepare*: the client's retry (CONCURRENT_TRANSACTIONS is retriable) finishes it.
        this.deps.logger.error({ err, transactionalId, outcome }, 'transaction markers not written; the client will retry');
        return KafkaErrorCode.CONCURRENT_TRANSACTIONS;
      }
    }
    if ((meta.state === 'CompleteCommit' && commit) || (meta.state === 'CompleteAbort' && !commit)) return KafkaErrorCode.NONE;
    return KafkaErrorCode.INVALID_TXN_STATE;
  }

  /**
   * Whether a Produce of a transactional batch may go to `topic`/`partition`: the id's current
   * producer id and epoch, in a transaction that added the partition. A single node can check this
   * at the partition leader (Kafka does only from KIP-890); a batch let through without it would
   * open a transaction no coordinator knows, holding back the last stable offset for good.
   */
  checkProduce(transactionalId: string, producerId: number, producerEpoch: number, topic: string, partition: number): KafkaErrorCode {
    const v = this.verify(transactionalId, producerId, producerEpoch);
    if (v.errorCode !== undefined) return v.errorCode;
    if (v.meta.state !== 'Ongoing' || !v.meta.partitions.some(([t, p]) => t === topic && p === partition)) return KafkaErrorCode.INVALID_TXN_STATE;
    return KafkaErrorCode.NONE;
  }

  /** {@link TransactionView.checkOffsetCommit}. */
  checkOffsetCommit(transactionalId: string, producerId: number, producerEpoch: number, groupId: string): KafkaErrorCode {
    const v = this.verify(transactionalId, producerId, producerEpoch);
    if (v.errorCode !== undefined) return v.errorCode;
    if (v.meta.state !== 'Ongoing' || !v.meta.groups.includes(groupId)) return KafkaErrorCode.INVALID_TXN_STATE;
    return KafkaErrorCode.NONE;
  }

  /** Aborts, with an epoch bump, every transaction open longer than its timeout at `nowMs`. */
  async abortTimedOut(nowMs: number): Promise<void> {
    for (const meta of this.deps.store.all()) {
      if (meta.state !== 'Ongoing' || meta.startedAtMs + meta.timeoutMs > nowMs || this.completing.has(meta.transactionalId)) continue;
      this.deps.logger.info({ transactionalId: meta.transactionalId, producerId: meta.producerId, timeoutMs: meta.timeoutMs }, 'aborting a transaction past its timeout');
      try {
        await this.fenceAndAbort(meta);
      } catch (err) {
        this.deps.logger.error({ err, transactionalId: meta.transactionalId }, 'timed-out transaction not aborted; retrying at the next check');
      }
    }
  }

  private verify(transactionalId: string, producerId: number, producerEpoch: number): Verified {
    const meta = this.deps.store.get(transactionalId);
    if (meta === undefined || meta.producerId !== producerId) return { errorCode: KafkaErrorCode.INVALID_PRODUCER_ID_MAPPING };
    if (meta.producerEpoch !== producerEpoch) return { errorCode: KafkaErrorCode.INVALID_PRODUCER_EPOCH };
    return { meta };
  }

  /** {@link verify}, and the id must not be between prepare and complete. */
  private verifyForUpdate(transactionalId: string, producerId: number, producerEpoch: number): Verified {
    const v = this.verify(transactionalId, producerId, producerEpoch);
    if (v.errorCode !== undefined) return v;
    if (this.completing.has(transactionalId) || v.meta.state === 'PrepareCommit' || v.meta.state === 'PrepareAbort') {
      return { errorCode: KafkaErrorCode.CONCURRENT_TRANSACTIONS };
    }
    return v;
  }

  /** Moves the id into (or keeps it in) Ongoing with `change` applied; persisted before answering. */
  private begin(meta: TxnMetadata, change: Pick<Partial<TxnMetadata>, 'partitions' | 'groups'>): KafkaErrorCode {
    const startedAtMs = meta.state === 'Ongoing' ? meta.startedAtMs : Date.now();
    const next: TxnMetadata = { ...meta, ...change, state: 'Ongoing', startedAtMs };
    if (meta.state === 'Ongoing' && next.partitions.length === meta.partitions.length && next.groups.length === meta.groups.length) return KafkaErrorCode.NONE;
    try {
      this.deps.store.put(next);
    } catch (err) {
      this.deps.logger.error({ err, transactionalId: meta.transactionalId }, 'transaction state not persisted; answering COORDINATOR_NOT_AVAILABLE');
      return KafkaErrorCode.COORDINATOR_NOT_AVAILABLE;
    }
    return KafkaErrorCode.NONE;
  }

  /** Aborts `meta`'s transaction with markers at a bumped epoch, so its producer is fenced everywhere. */
  private fenceAndAbort(meta: TxnMetadata): Promise<TxnMetadata> {
    return this.complete(meta, 'abort', Math.min(meta.producerEpoch + 1, MAX_EPOCH + 1));
  }

  /**
   * Ends the transaction: Prepare* persisted, a marker on each partition (fdatasync'ed under
   * `fsync: 'always'`), fetches woken, the plugins' offsets hook, Complete* persisted. Throws
   * when a write fails, leaving Prepare* for a retry; re-running it is safe, a second marker for a
   * transaction already closed on a partition is ignored by the partition and by consumers.
   */
  private async complete(meta: TxnMetadata, outcome: TransactionOutcome, markerEpoch: number): Promise<TxnMetadata> {
    const { transactionalId } = meta;
    this.completing.add(transactionalId);
    try {
      const prepared: TxnMetadata = { ...meta, producerEpoch: markerEpoch, state: outcome === 'commit' ? 'PrepareCommit' : 'PrepareAbort' };
      if (meta.state !== prepared.state || meta.producerEpoch !== markerEpoch) this.deps.store.put(prepared);
      const touched: PartitionLog[] = [];
      const timestamp = Date.now();
      for (const [topic, partition] of meta.partitions) {
        // A partition deleted meanwhile has nothing left to mark.
        const log = this.deps.topics.partition(topic, partition);
        if (log === undefined) continue;
        log.appendMarker({ producerId: meta.producerId, producerEpoch: markerEpoch, outcome, coordinatorEpoch: 0, timestamp });
        touched.push(log);
      }
      if (this.deps.fsync === 'always') for (const log of touched) log.sync();
      for (const log of touched) this.deps.notifier.notify(log.topic, log.partition);
      if (meta.groups.length > 0) {
        for (const plugin of this.deps.plugins) await plugin.onTransactionEnd?.({ producerId: meta.producerId, groupIds: meta.groups, outcome });
      }
      const done: TxnMetadata = { ...prepared, state: outcome === 'commit' ? 'CompleteCommit' : 'CompleteAbort', partitions: [], groups: [], startedAtMs: -1 };
      this.deps.store.put(done);
      this.deps.logger.debug({ transactionalId, producerId: meta.producerId, outcome, partitions: touched.length }, 'transaction ended');
      return done;
    } finally {
      this.completing.delete(transactionalId);
    }
  }
}

function dedupe(partitions: readonly (readonly [string, number])[]): (readonly [string, number])[] {
  const seen = new Set<string>();
  return partitions.filter(([t, p]) => {
    const key = `${p}:${t}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
