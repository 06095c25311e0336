import type { Logger } from '../logger.js';
import type { FsyncPolicy } from './fsync-policy.js';
import type { BrokerRecord } from './records/encode-batch.js';
import type { KafkaErrorCode } from './protocol/errors.js';
import type { TransactionOutcome } from './records/control-batch.js';

/** Where clients reach this broker: its bound host and actual port (never 0). */
export interface BrokerEndpoint {
  readonly host: string;
  readonly port: number;
}

/** Read-only view of the topics that exist, for handlers outside the log (the group coordinator). */
export interface TopicCatalogView {
  /** Partition count of an existing topic, `undefined` when the topic does not exist. */
  partitionCount(topic: string): number | undefined;
  /** Names of all existing topics. */
  topicNames(): string[];
}

/**
 * Appends records to the broker's internal topics, e.g. the group coordinator's offset commits to
 * `__consumer_offsets`, where Kafka keeps them and tools such as Burrow read them.
 */
export interface InternalTopicWriter {
  /**
   * Creates `topic` as internal with `partitions` partitions unless it exists; returns the count
   * it has (an existing topic keeps its own). Throws when a client-created topic has the name or
   * the disk refuses.
   */
  ensure(topic: string, partitions: number): number;
  /**
   * Appends `records` as one batch stamped `timestamp` (epoch ms), written (and fdatasync'ed under
   * `fsync: 'always'`) before returning; Fetch long-polls on the partition are woken. Throws when
   * the partition does not exist or the write fails.
   */
  append(topic: string, partition: number, records: readonly BrokerRecord[], timestamp: number): void;
}

/**
 * The transaction coordinator as other components see it: the group coordinator asks it whether a
 * TxnOffsetCommit belongs to a live transaction.
 */
export interface TransactionView {
  /**
   * NONE when `transactionalId` is held by this producer id and epoch and its ongoing transaction
   * added `groupId` (AddOffsetsToTxn); else the error to answer (INVALID_PRODUCER_EPOCH for a
   * fenced producer, INVALID_PRODUCER_ID_MAPPING, INVALID_TXN_STATE).
   */
  checkOffsetCommit(transactionalId: string, producerId: number, producerEpoch: number, groupId: string): KafkaErrorCode;
}

/** A transaction that committed offsets has ended (Kafka's marker on the `__consumer_offsets` partition). */
export interface TransactionEnd {
  readonly producerId: number;
  /** The groups added with AddOffsetsToTxn. */
  readonly groupIds: readonly string[];
  readonly outcome: TransactionOutcome;
}

/**
 * What every API handler may know about the broker it runs in. One per broker instance, created
 * by `startBroker` before the first connection is accepted.
 */
export interface BrokerContext {
  /** The single node's id, as advertised in Metadata and FindCoordinator. Always 0. */
  readonly nodeId: number;
  readonly clusterId: string;
  /**
   * The advertised endpoint. Valid once the listener is bound, which is before any handler runs;
   * FindCoordinator must return exactly this (WIRE-FACTS.md §6, "Advertised endpoint").
   */
  endpoint(): BrokerEndpoint;
  /**
   * Root of the broker's data directory, or `null` in in-memory mode. A plugin that persists
   * state keeps it in its own subdirectory (the group coordinator: `<dataDir>/groups/`).
   */
  readonly dataDir: string | null;
  /**
   * The broker's `fsync` option ({@link FsyncPolicy}). A plugin that persists state honours it the
   * way the log does: with `'always'` it forces its writes to disk (fdatasync) before answering the
   * request that made them; with `'never'` a returned `write(2)` is enough (survives kill -9).
   */
  readonly fsync: FsyncPolicy;
  readonly topics: TopicCatalogView;
  readonly internalTopics: InternalTopicWriter;
  readonly transactions: TransactionView;
  readonly logger: Logger;
}
