import { partitionKey, type KafkaRecord } from '../kafka/types.js';

interface PartitionPosition {
  /** Next offset the pipeline must process; undefined until known (no watermark yet). */
  next: bigint | undefined;
  /** Kafka timestamp of the last processed record, for lag in seconds. */
  lastTimestamp: number | null;
  /** First record of the batch in hand (not yet processed), for lag in seconds. */
  inHand: { offset: string; timestamp: number } | null;
  /**
   * Timestamps of the first records of the last few batches taken, by offset: the group commits
   * batch ends, so the record at a committed offset is usually one of them (committed lag in
   * seconds).
   */
  heads: Map<string, number>;
}

/** Batch heads remembered per partition: commits trail the applied position by a batch or two. */
const REMEMBERED_HEADS = 16;

const key = partitionKey;

/**
 * Where each owned partition stands in this process: the next offset to process (Redis watermark
 * + 1 after assignment, then `lastOffset + 1` after each batch, so records dead-lettered after the
 * last applied one are not mistaken for a gap) and the timestamps lag is measured from.
 */
export class PartitionPositions {
  private readonly byPartition = new Map<string, PartitionPosition>();

  private entry(topic: string, partition: number): PartitionPosition {
    let position = this.byPartition.get(key(topic, partition));
    if (position === undefined) {
      position = { next: undefined, lastTimestamp: null, inHand: null, heads: new Map() };
      this.byPartition.set(key(topic, partition), position);
    }
    return position;
  }

  /** The next offset to process, or undefined when unknown (fresh state: Kafka's position rules). */
  next(topic: string, partition: number): bigint | undefined {
    return this.byPartition.get(key(topic, partition))?.next;
  }

  /** Sets the next offset (after assignment, from the Redis watermark). */
  reset(topic: string, partition: number, next: bigint | undefined): void {
    const position = this.entry(topic, partition);
    position.next = next;
    position.inHand = null;
  }

  /** A batch starting with `first` is being processed. */
  taken(topic: string, partition: number, first: KafkaRecord | undefined): void {
    const position = this.entry(topic, partition);
    position.inHand = first === undefined ? null : { offset: first.offset, timestamp: first.timestamp };
    if (first === undefined) return;
    position.heads.set(first.offset, first.timestamp);
    // Maps iterate in insertion order: the first key is the oldest head.
    for (const oldest of position.heads.keys()) {
      if (position.heads.size <= REMEMBERED_HEADS) break;
      position.heads.delete(oldest);
    }
  }

  /** A batch was processed up to and including `lastOffset`; `last` is its last record. */
  advance(topic: string, partition: number, lastOffset: string, last: KafkaRecord | undefined): void {
    const position = this.entry(topic, partition);
    position.next = BigInt(lastOffset) + 1n;
    position.inHand = null;
    if (last !== undefined) position.lastTimestamp = last.timestamp;
  }

  /**
   * Best known timestamp of the record at `offset`: exact when it heads the batch in hand or one
   * of the last batches taken; for a record not processed yet, otherwise the last processed
   * record's (a lower bound of it, so lag seconds errs high by at most the gap between two
   * records); null when nothing tells (a processed record's timestamp is never guessed from a
   * later one, which would make the age err low).
   */
  timestampAt(topic: string, partition: number, offset: string): number | null {
    const position = this.byPartition.get(key(topic, partition));
    if (position === undefined) return null;
    if (position.inHand !== null && position.inHand.offset === offset) return position.inHand.timestamp;
    const head = position.heads.get(offset);
    if (head !== undefined) return head;
    const unprocessed = position.next === undefined || BigInt(offset) >= position.next;
    return unprocessed ? position.lastTimestamp : null;
  }

  /** Forget a partition (revoked). */
  forget(topic: string, partition: number): void {
    this.byPartition.delete(key(topic, partition));
  }
}
