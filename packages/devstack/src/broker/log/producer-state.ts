import { KafkaErrorCode } from '../protocol/errors.js';
import { BatchAttribute, type BatchHeader } from '../records/batch.js';

/** How many recent batches per producer are remembered for duplicate detection (Kafka keeps 5). */
const RECENT_BATCHES = 5;
const SEQUENCE_WRAP = 0x8000_0000;

interface RecentBatch {
  readonly firstSeq: number;
  readonly lastSeq: number;
  readonly baseOffset: number;
}

interface ProducerEntry {
  epoch: number;
  lastSeq: number;
  recent: RecentBatch[];
}

/** What to do with a produced batch, as far as idempotence is concerned. */
export type SequenceVerdict =
  | { readonly kind: 'append' }
  | { readonly kind: 'duplicate'; readonly baseOffset: number }
  | { readonly kind: 'reject'; readonly errorCode: KafkaErrorCode };

/**
 * Per-partition idempotent-producer state (KIP-98): the last sequence each producer id wrote and
 * its last few batches. It is derived entirely from the log (every batch carries producerId,
 * epoch and baseSequence), so recovery rebuilds it by replaying {@link record} over the log
 * instead of keeping a separate file that could disagree with it.
 */
export class ProducerStateTable {
  private readonly producers = new Map<number, ProducerEntry>();

  /**
   * Decides whether a batch is new, a retry of one already written, or out of order. Batches with
   * producerId −1 are not idempotent (kafkajs sends epoch 0 / sequence 0 with them, librdkafka
   * −1/−1 — WIRE-FACTS.md §5) and always append.
   */
  check(h: BatchHeader): SequenceVerdict {
    if (h.producerId < 0) return { kind: 'append' };
    const entry = this.producers.get(h.producerId);
    if (entry === undefined) {
      return h.baseSequence === 0
        ? { kind: 'append' }
        : { kind: 'reject', errorCode: KafkaErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER };
    }
    if (h.producerEpoch < entry.epoch) return { kind: 'reject', errorCode: KafkaErrorCode.INVALID_PRODUCER_EPOCH };
    if (h.producerEpoch > entry.epoch) {
      return h.baseSequence === 0
        ? { kind: 'append' }
        : { kind: 'reject', errorCode: KafkaErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER };
    }
    const lastSeq = lastSequenceOf(h);
    const dup = entry.recent.find((b) => b.firstSeq === h.baseSequence && b.lastSeq === lastSeq);
    if (dup !== undefined) return { kind: 'duplicate', baseOffset: dup.baseOffset };
    if (h.baseSequence !== (entry.lastSeq + 1) % SEQUENCE_WRAP) {
      return { kind: 'reject', errorCode: KafkaErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER };
    }
    return { kind: 'append' };
  }

  /**
   * Remembers an appended batch (also used when replaying the log on recovery). A transaction
   * marker is outside the producer's sequence: it only raises the epoch (a fencing abort writes
   * the bumped one), which restarts the sequence as a new epoch always does.
   */
  record(h: BatchHeader, baseOffset: number): void {
    if (h.producerId < 0) return;
    if ((h.attributes & BatchAttribute.Control) !== 0) {
      const current = this.producers.get(h.producerId);
      if (current === undefined || h.producerEpoch > current.epoch) this.producers.set(h.producerId, { epoch: h.producerEpoch, lastSeq: -1, recent: [] });
      return;
    }
    let entry = this.producers.get(h.producerId);
    if (entry === undefined || h.producerEpoch !== entry.epoch) {
      entry = { epoch: h.producerEpoch, lastSeq: -1, recent: [] };
      this.producers.set(h.producerId, entry);
    }
    const lastSeq = lastSequenceOf(h);
    entry.lastSeq = lastSeq;
    entry.recent.push({ firstSeq: h.baseSequence, lastSeq, baseOffset });
    if (entry.recent.length > RECENT_BATCHES) entry.recent.shift();
  }

  /** Highest producer id seen, so id allocation never reuses one found in a recovered log. */
  maxProducerId(): number {
    let max = -1;
    for (const id of this.producers.keys()) if (id > max) max = id;
    return max;
  }
}

function lastSequenceOf(h: BatchHeader): number {
  return (h.baseSequence + h.lastOffsetDelta) % SEQUENCE_WRAP;
}
