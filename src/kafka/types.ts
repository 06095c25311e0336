/**
 * The Kafka shapes pyramid's pipeline works with. They are pyramid's own, not kafkajs's: kafkajs is
 * unmaintained, and only the files in src/kafka/ may know it, so a maintained client can replace it
 * by rewriting this folder alone.
 */

/** A partition of a topic. */
export interface TopicPartition {
  topic: string;
  partition: number;
}

/**
 * A map key for one partition of one topic. NUL cannot occur in a topic name, so distinct pairs
 * never collide.
 */
export function partitionKey(topic: string, partition: number): string {
  return `${topic}\u0000${partition}`;
}

/** One consumed record. */
export interface KafkaRecord {
  topic: string;
  partition: number;
  /** Kafka offsets are int64; kept as a decimal string so no precision is lost. */
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
  /** Header values as bytes; a repeated header keeps its last value. */
  headers: Record<string, Buffer>;
  /** Record timestamp (create or log-append time), epoch milliseconds. */
  timestamp: number;
}

/** The records of one partition handed to the pipeline in one go, in offset order. */
export interface PartitionBatch {
  topic: string;
  partition: number;
  records: KafkaRecord[];
  /**
   * The offset to commit after processing is `lastOffset + 1`. It can lie beyond the last record:
   * transaction markers and aborted records are filtered out of `records` but still occupy offsets.
   */
  lastOffset: string;
  /** The partition's high watermark when fetched, for lag. */
  highWatermark: string;
  /**
   * The offset this batch was fetched from (the consumer's position at fetch time). The first
   * record can lie beyond it when the offsets in between hold no records (transaction markers,
   * compaction); a fetch position beyond what the pipeline has applied is a gap it must refuse.
   */
  fetchedOffset: string;
}

/** A record to produce. Strings are sent as UTF-8. */
export interface OutgoingRecord {
  key: Buffer | string | null;
  value: Buffer | string | null;
  headers?: Record<string, Buffer | string>;
  /** Explicit partition; otherwise the key's murmur2 hash picks it (Java client compatible). */
  partition?: number;
}
