import type { FsyncPolicy } from '../fsync-policy.js';
import type { InternalTopicWriter } from '../context.js';
import { KafkaErrorCode } from '../protocol/errors.js';
import { encodeBrokerBatch, type BrokerRecord } from '../records/encode-batch.js';
import { readBatchHeader } from '../records/batch.js';
import type { AppendNotifier } from './append-notifier.js';
import type { TopicStore } from './topic-store.js';

/**
 * The broker's own writes to its internal topics (`__consumer_offsets`): the same partition logs,
 * Fetch long-polls woken the same way and the same fsync policy as a client's Produce, so a
 * reader of the topic (Burrow, kcat) cannot tell these batches from any other.
 */
export class InternalTopics implements InternalTopicWriter {
  constructor(
    private readonly store: TopicStore,
    private readonly notifier: AppendNotifier,
    private readonly fsync: FsyncPolicy,
  ) {}

  ensure(topic: string, partitions: number): number {
    const existing = this.store.partitionCount(topic);
    if (existing !== undefined) {
      // A data directory from an earlier run keeps its count: records already sit in the
      // partitions that count chose (Kafka never changes its offsets topic's count either).
      if (!this.store.isInternal(topic)) throw new Error(`topic ${topic} exists but is not internal; it was created by a client`);
      return existing;
    }
    const err = this.store.createTopic(topic, partitions, { internal: true });
    if (err !== KafkaErrorCode.NONE) throw new Error(`cannot create internal topic ${topic}: error ${err}`);
    return partitions;
  }

  append(topic: string, partition: number, records: readonly BrokerRecord[], timestamp: number): void {
    const log = this.store.partition(topic, partition);
    if (log === undefined || !this.store.isInternal(topic)) throw new Error(`no internal topic partition ${topic}/${partition}`);
    const batch = encodeBrokerBatch(records, timestamp);
    const result = log.append(batch, readBatchHeader(batch));
    if (result.kind === 'reject') throw new Error(`internal append to ${topic}/${partition} refused: error ${result.errorCode}`);
    if (this.fsync === 'always') log.sync();
    this.notifier.notify(topic, partition);
  }
}
