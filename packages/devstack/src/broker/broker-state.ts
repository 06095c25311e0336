import type { ApiRegistry } from './api-registry.js';
import type { BrokerPluginInstance } from './broker-plugin.js';
import type { FsyncPolicy } from './fsync-policy.js';
import type { AppendNotifier } from './log/append-notifier.js';
import type { TopicStore } from './log/topic-store.js';
import type { TransactionCoordinator } from './txn/coordinator.js';

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
