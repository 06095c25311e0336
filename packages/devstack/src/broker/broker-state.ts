import type { ApiRegistry } from './api-registry.js';
import type { BrokerPluginInstance } from './context.js';
import type { AppendNotifier } from './log/append-notifier.js';
import type { TopicStore } from './log/topic-store.js';
import type { TransactionCoordinator } from './txn/coordinator.js';

/**
 * When an acknowledged write is forced to disk. `'never'`: acknowledge once `write(2)` returned
 * (survives kill -9 of the broker, not a power cut). `'always'`: fdatasync touched partitions
 * before answering a Produce with acks != 0, and the group coordinator fdatasyncs its offset log
 * before answering an OffsetCommit (plugins read it from `BrokerContext.fsync`).
 */
export type FsyncPolicy = 'never' | 'always';

/** Broker-wide settings the built-in handlers consult. */
export interface BrokerConfig {
  readonly autoCreateTopics: boolean;
  readonly defaultPartitions: number;
  readonly fsync: FsyncPolicy;
  /** Largest request frame; also the most a compressed batch may inflate to (see Produce). */
  readonly maxFrameSize: number;
}

/** What the built-in handlers (Produce, Fetch, Metadata, ...) share; internal to the broker. */
export interface BrokerState {
  readonly store: TopicStore;
  readonly notifier: AppendNotifier;
  readonly registry: ApiRegistry;
  readonly config: BrokerConfig;
  readonly transactions: TransactionCoordinator;
  /**
   * The started plugins, filled by `startBroker` before the first request is read. DeleteTopics
   * calls their `onTopicDeleted` hooks.
   */
  readonly plugins: readonly BrokerPluginInstance[];
}
