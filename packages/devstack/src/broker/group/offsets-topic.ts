import type { InternalTopicWriter } from '../context.js';
import { Writer } from '../protocol/writer.js';
import type { BrokerRecord } from '../records/encode-batch.js';

/** Kafka's name for the topic its group coordinator keeps committed offsets in. */
export const OFFSETS_TOPIC = '__consumer_offsets';

/**
 * Key version 1 of an offset-commit record (Kafka's OffsetCommitKey: group, topic, partition).
 * Versions 0 and 1 have the same fields; Kafka writes 1, and readers (Burrow, Kafka's
 * OffsetsMessageFormatter) take either. Version 2 keys are group-metadata records.
 */
const OFFSET_KEY_VERSION = 1;
/**
 * Value version 3 (OffsetCommitValue: offset, leader epoch, metadata, commit timestamp), what
 * Kafka 2.1+ writes when no retention time is requested. Version 2 would do as well for Kafka,
 * but Burrow 1.2 decodes only versions 0, 1 and 3.
 */
const OFFSET_VALUE_VERSION = 3;
/** No leader epoch known: neither kafkajs nor librdkafka sends one in OffsetCommit. */
const NO_LEADER_EPOCH = -1;

/**
 * The offsets-topic partition that holds a group's records: Kafka's
 * `Utils.abs(groupId.hashCode) % offsets.topic.num.partitions`, with Java's String.hashCode
 * (UTF-16 code units, 32-bit overflow) and Kafka's abs (`n & 0x7fffffff`, so MIN_VALUE maps to 0).
 */
export function offsetsTopicPartition(groupId: string, partitionCount: number): number {
  let hash = 0;
  for (let i = 0; i < groupId.length; i++) hash = (Math.imul(hash, 31) + groupId.charCodeAt(i)) | 0;
  return (hash & 0x7fffffff) % partitionCount;
}

/** Key bytes of the record that holds (group, topic, partition)'s committed offset. */
export function encodeOffsetCommitKey(groupId: string, topic: string, partition: number): Buffer {
  return new Writer(16 + groupId.length + topic.length).writeInt16(OFFSET_KEY_VERSION).writeString(groupId).writeString(topic).writeInt32(partition).toBuffer();
}

/** Value bytes of a committed offset; `commitTimestamp` is the broker's clock at the commit (epoch ms). */
export function encodeOffsetCommitValue(offset: number, metadata: string, commitTimestamp: number): Buffer {
  return new Writer(32 + metadata.length)
    .writeInt16(OFFSET_VALUE_VERSION)
    .writeInt64(offset)
    .writeInt32(NO_LEADER_EPOCH)
    .writeString(metadata)
    .writeInt64(commitTimestamp)
    .toBuffer();
}

/** One committed (or, with `offset` null, removed) offset as the offsets topic records it. */
export interface OffsetRecord {
  readonly topic: string;
  readonly partition: number;
  /** `null` writes a tombstone: the offset was removed (its topic was deleted). */
  readonly offset: number | null;
  readonly metadata: string;
}

/**
 * Writes the coordinator's offset changes to `__consumer_offsets` the way Kafka's
 * GroupMetadataManager does: one batch per request, in the group's partition, key and value in
 * Kafka's binary formats, tombstones for removed offsets. Tools that follow commits by consuming
 * the topic (Burrow's kafka consumer module) therefore work against the embedded broker.
 */
export class OffsetsTopicWriter {
  private constructor(
    private readonly topics: InternalTopicWriter,
    /** The topic's actual partition count (an existing topic keeps its own). */
    readonly partitionCount: number,
    private readonly now: () => number,
  ) {}

  /** Creates the topic with `partitions` partitions unless it exists. */
  static open(topics: InternalTopicWriter, partitions: number, now: () => number = Date.now): OffsetsTopicWriter {
    if (!Number.isInteger(partitions) || partitions < 1) {
      throw new RangeError(`offsetsTopicPartitions must be a positive integer, got ${partitions}`);
    }
    return new OffsetsTopicWriter(topics, topics.ensure(OFFSETS_TOPIC, partitions), now);
  }

  /** Appends one group's changes as one batch; throws when the write fails. */
  write(groupId: string, changes: readonly OffsetRecord[]): void {
    if (changes.length === 0) return;
    const timestamp = this.now();
    const records: BrokerRecord[] = changes.map((c) => ({
      key: encodeOffsetCommitKey(groupId, c.topic, c.partition),
      value: c.offset === null ? null : encodeOffsetCommitValue(c.offset, c.metadata, timestamp),
    }));
    this.topics.append(OFFSETS_TOPIC, offsetsTopicPartition(groupId, this.partitionCount), records, timestamp);
  }
}
