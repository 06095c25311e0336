import type { KafkaErrorCode } from '../protocol/errors.js';
import { BatchAttribute, decodeRecords, readBatchHeader, setBaseOffset, type BatchHeader } from '../records/batch.js';
import { encodeControlBatch, type MarkerFields, type TransactionOutcome } from '../records/control-batch.js';
import { ProducerStateTable } from './producer-state.js';
import type { SegmentFile } from './segment-file.js';
import { PartitionTxnIndex } from './txn-index.js';

/** Index entry of one stored batch. */
interface BatchEntry {
  readonly baseOffset: number;
  readonly lastOffset: number;
  readonly maxTimestamp: number;
  readonly position: number;
  readonly size: number;
  /** The batch bytes in in-memory mode; on disk they are read back from the segment file. */
  readonly data: Buffer | null;
}

/** Outcome of appending one produced batch. */
export type AppendResult =
  | { readonly kind: 'appended' | 'duplicate'; readonly baseOffset: number }
  | { readonly kind: 'reject'; readonly errorCode: KafkaErrorCode };

/** What {@link PartitionLog.read} returns: whole batches, and the offset right after the last one. */
export interface ReadResult {
  readonly buffers: Buffer[];
  readonly bytes: number;
  /** One past the last offset served; the fetch offset itself when nothing was served. */
  readonly nextOffset: number;
}

/**
 * One partition's log: batches in offset order, an in-memory index of them (offset lookups are
 * a binary search), and the idempotent-producer and transaction state derived from them.
 *
 * Backed by a {@link SegmentFile} when the broker has a data directory, else by the batch buffers
 * themselves. There is no retention: the log start offset stays 0 and the log never shrinks.
 */
export class PartitionLog {
  private readonly entries: BatchEntry[] = [];
  private nextOffset = 0;
  readonly producers = new ProducerStateTable();
  readonly txns = new PartitionTxnIndex();

  constructor(
    readonly topic: string,
    readonly partition: number,
    private readonly segment: SegmentFile | null,
  ) {}

  /** Rebuilds index and producer state from the segment file; returns torn bytes truncated. */
  recover(): number {
    if (this.segment === null) return 0;
    const { batches, truncatedBytes } = this.segment.recover();
    for (const { header, position, control } of batches) {
      this.pushEntry(header, header.baseOffset, position, null);
      this.producers.record(header, header.baseOffset);
      this.recordTxn(header, header.baseOffset, control);
    }
    return truncatedBytes;
  }

  get logStartOffset(): number {
    return 0;
  }

  /** Offset the next record will get; also the high watermark (one replica). */
  get highWatermark(): number {
    return this.nextOffset;
  }

  /** Where read_committed reading stops: see {@link PartitionTxnIndex.lastStableOffset}. */
  get lastStableOffset(): number {
    return this.txns.lastStableOffset(this.nextOffset);
  }

  /**
   * Appends a validated batch: idempotence check, base offset assigned by patching the batch in
   * place, bytes written (see SegmentFile on durability), index updated. A retried batch that is
   * already in the log returns its original offset without being written again.
   */
  append(batch: Buffer, header: BatchHeader): AppendResult {
    const verdict = this.producers.check(header);
    if (verdict.kind === 'reject') return verdict;
    if (verdict.kind === 'duplicate') return { kind: 'duplicate', baseOffset: verdict.baseOffset };
    const baseOffset = this.nextOffset;
    setBaseOffset(batch, baseOffset);
    let position = 0;
    let data: Buffer | null = null;
    if (this.segment !== null) {
      position = this.segment.append(batch);
    } else {
      // The batch is a view into the request frame; keep a copy the size of the batch only.
      data = Buffer.from(batch);
    }
    this.pushEntry(header, baseOffset, position, data);
    this.producers.record(header, baseOffset);
    this.recordTxn(header, baseOffset, null);
    return { kind: 'appended', baseOffset };
  }

  /**
   * Appends the marker that ends a producer's transaction here (the coordinator's WriteTxnMarkers,
   * done in-process); returns its offset. A marker with a higher epoch than the producer's batches
   * also raises the epoch this partition accepts, so a fenced producer's late batches get
   * INVALID_PRODUCER_EPOCH here too.
   */
  appendMarker(fields: MarkerFields): number {
    const batch = encodeControlBatch(fields);
    const header = readBatchHeader(batch);
    const baseOffset = this.nextOffset;
    setBaseOffset(batch, baseOffset);
    const position = this.segment === null ? 0 : this.segment.append(batch);
    this.pushEntry(header, baseOffset, position, this.segment === null ? batch : null);
    this.producers.record(header, baseOffset);
    this.recordTxn(header, baseOffset, fields.outcome);
    return baseOffset;
  }

  private recordTxn(header: BatchHeader, baseOffset: number, outcome: TransactionOutcome | null): void {
    if ((header.attributes & BatchAttribute.Transactional) === 0) return;
    if ((header.attributes & BatchAttribute.Control) === 0) this.txns.onData(header.producerId, baseOffset);
    else if (outcome !== null) this.txns.onMarker(header.producerId, outcome, baseOffset);
  }

  private pushEntry(header: BatchHeader, baseOffset: number, position: number, data: Buffer | null): void {
    const lastOffset = baseOffset + header.lastOffsetDelta;
    this.entries.push({ baseOffset, lastOffset, maxTimestamp: header.maxTimestamp, position, size: header.sizeInBytes, data });
    this.nextOffset = lastOffset + 1;
  }

  /** Forces written batches to stable storage (no-op in memory). */
  sync(): void {
    this.segment?.sync();
  }

  /** Index of the first batch whose last offset is >= `offset`, or entries.length. */
  private indexFor(offset: number): number {
    let lo = 0;
    let hi = this.entries.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.entries[mid] as BatchEntry).lastOffset < offset) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /**
   * Whole stored batches starting with the one that contains `fetchOffset`, up to `maxBytes`, and
   * none that starts at or after `upperOffset` (the last stable offset for read_committed).
   * When `minOneBatch` is set the first batch is returned even if it alone exceeds `maxBytes`, so
   * a consumer can always make progress (KIP-74). Batches are served as stored, never re-encoded;
   * the client skips records below its fetch offset inside the first batch, as with Kafka.
   */
  read(fetchOffset: number, maxBytes: number, minOneBatch: boolean, upperOffset = this.nextOffset): ReadResult {
    const first = this.indexFor(fetchOffset);
    let end = first;
    let bytes = 0;
    while (end < this.entries.length) {
      const e = this.entries[end] as BatchEntry;
      if (e.baseOffset >= upperOffset) break;
      if (bytes + e.size > maxBytes && !(minOneBatch && end === first)) break;
      bytes += e.size;
      end++;
    }
    if (end === first) return { buffers: [], bytes: 0, nextOffset: fetchOffset };
    const nextOffset = (this.entries[end - 1] as BatchEntry).lastOffset + 1;
    if (this.segment === null) {
      const buffers: Buffer[] = [];
      for (let i = first; i < end; i++) buffers.push((this.entries[i] as BatchEntry).data as Buffer);
      return { buffers, bytes, nextOffset };
    }
    // Batches are contiguous in the file: one read covers the whole run.
    const start = (this.entries[first] as BatchEntry).position;
    return { buffers: [this.segment.read(start, bytes)], bytes, nextOffset };
  }

  /**
   * Offset of the first record whose timestamp is >= `timestamp` and that record's timestamp, or
   * `null` when there is none (ListOffsets by time). Skips batches by their max timestamp, then
   * decodes the one that holds the answer.
   */
  offsetForTimestamp(timestamp: number): { offset: number; timestamp: number } | null {
    for (let i = 0; i < this.entries.length; i++) {
      const e = this.entries[i] as BatchEntry;
      if (e.maxTimestamp < timestamp) continue;
      const batch = e.data ?? (this.segment as SegmentFile).read(e.position, e.size);
      const hit = decodeRecords(batch).find((r) => r.timestamp >= timestamp);
      if (hit !== undefined) return { offset: hit.offset, timestamp: hit.timestamp };
    }
    return null;
  }

  close(): void {
    this.segment?.close();
  }
}
