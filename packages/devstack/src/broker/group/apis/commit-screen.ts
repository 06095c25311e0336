import type { BrokerContext } from '../../context.js';
import { KafkaErrorCode } from '../../protocol/errors.js';
import type { Writer } from '../../protocol/writer.js';
import { topicWriter } from '../../protocol/topic-partitions.js';
import type { OffsetCommitEntry } from '../offset-store.js';

/** Kafka's `offset.metadata.max.bytes` default; OffsetCommit and TxnOffsetCommit both apply it. */
export const MAX_METADATA_BYTES = 4096;

/** One partition of an OffsetCommit or TxnOffsetCommit request. */
export interface PartitionCommit {
  readonly partition: number;
  readonly offset: number;
  readonly metadata: string | null;
}

/** The topics of a commit request, as read. */
export type CommitTopics = ReadonlyArray<{ readonly name: string; readonly partitions: readonly PartitionCommit[] }>;

/**
 * What both offset-commit APIs do with a request's partitions: those of unknown topics get
 * UNKNOWN_TOPIC_OR_PARTITION, oversized metadata OFFSET_METADATA_TOO_LARGE; the rest are
 * accepted (a null metadata stored as "") and answered with the request's verdict.
 */
export function screenCommits(ctx: BrokerContext, topics: CommitTopics): {
  accepted: OffsetCommitEntry[];
  /** Writes the per-partition answer: the partition's own error, else `verdict`. */
  answer(w: Writer, verdict: number): Writer;
} {
  const errors = new Map<string, number>();
  const key = (topic: string, partition: number): string => `${partition}:${topic}`;
  const accepted: OffsetCommitEntry[] = [];
  for (const t of topics) {
    const partitionCount = ctx.topics.partitionCount(t.name);
    for (const p of t.partitions) {
      if (partitionCount === undefined || p.partition < 0 || p.partition >= partitionCount) {
        errors.set(key(t.name, p.partition), KafkaErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
      } else if (p.metadata !== null && Buffer.byteLength(p.metadata) > MAX_METADATA_BYTES) {
        errors.set(key(t.name, p.partition), KafkaErrorCode.OFFSET_METADATA_TOO_LARGE);
      } else {
        accepted.push({ topic: t.name, partition: p.partition, offset: p.offset, metadata: p.metadata ?? '' });
      }
    }
  }
  return {
    accepted,
    answer(w, verdict) {
      const answers = topics.map((t) => ({
        name: t.name,
        partitions: t.partitions.map((p) => ({ partition: p.partition, errorCode: errors.get(key(t.name, p.partition)) ?? verdict })),
      }));
      return w.writeArray(answers, topicWriter((pw, p) => pw.writeInt32(p.partition).writeInt16(p.errorCode)));
    },
  };
}
