import { closeSync, fdatasyncSync, fstatSync, ftruncateSync, openSync, readSync } from 'node:fs';
import { appendWhole } from '../../append-file.js';
import { BatchLayout, hasValidCrc, readBatchHeader, type BatchHeader } from '../records/batch.js';
import { controlOutcomeOf, type TransactionOutcome } from '../records/control-batch.js';

/** One batch found while scanning a segment file on start-up. */
export interface RecoveredBatch {
  readonly header: BatchHeader;
  readonly position: number;
  /** For a transaction marker, how the transaction ended; `null` for data batches. */
  readonly control: TransactionOutcome | null;
}

/** Result of {@link SegmentFile.recover}: the whole batches, and how many torn bytes were cut. */
export interface RecoveryResult {
  readonly batches: RecoveredBatch[];
  readonly truncatedBytes: number;
}

/**
 * An append-only file of record batches exactly as Kafka lays them out on the wire (each batch
 * is self-delimiting: baseOffset, batchLength, ...), base offsets already assigned.
 *
 * Durability: {@link append} returns only after `write(2)` has handed every byte to the kernel.
 * A SIGKILL of the broker process cannot lose those bytes (they live in the page cache, not in
 * the process), so acknowledging after `append` is enough for kill -9. Surviving a power cut or
 * kernel crash additionally needs {@link sync} (fdatasync) before the ack; the broker does that
 * when started with `fsync: 'always'`.
 */
export class SegmentFile {
  private readonly fd: number;
  private size: number;

  constructor(readonly path: string) {
    this.fd = openSync(path, 'a+');
    this.size = fstatSync(this.fd).size;
  }

  /**
   * Scans the file from the start and keeps the longest prefix of whole, CRC-valid, magic-2
   * batches with consecutive offsets; anything after it (a tail torn by kill -9 mid-write) is
   * truncated away.
   */
  recover(): RecoveryResult {
    const batches: RecoveredBatch[] = [];
    const headerBuf = Buffer.allocUnsafe(BatchLayout.HEADER_SIZE);
    let pos = 0;
    let nextOffset = 0;
    while (pos + BatchLayout.HEADER_SIZE <= this.size) {
      this.readFully(headerBuf, pos);
      const batchSize = headerBuf.readInt32BE(BatchLayout.BATCH_LENGTH) + BatchLayout.LOG_OVERHEAD;
      if (batchSize < BatchLayout.HEADER_SIZE || pos + batchSize > this.size) break;
      const batch = Buffer.allocUnsafe(batchSize);
      this.readFully(batch, pos);
      const header = readBatchHeader(batch);
      if (header.magic !== 2 || !hasValidCrc(batch)) break;
      if (batches.length > 0 && header.baseOffset !== nextOffset) break;
      batches.push({ header, position: pos, control: controlOutcomeOf(batch) });
      nextOffset = header.baseOffset + header.lastOffsetDelta + 1;
      pos += batchSize;
    }
    const truncatedBytes = this.size - pos;
    if (truncatedBytes > 0) {
      ftruncateSync(this.fd, pos);
      this.size = pos;
    }
    return { batches, truncatedBytes };
  }

  private readFully(into: Buffer, position: number): void {
    let done = 0;
    while (done < into.length) {
      const n = readSync(this.fd, into, done, into.length - done, position + done);
      if (n === 0) throw new Error(`unexpected end of ${this.path} at ${position + done}`);
      done += n;
    }
  }

  /**
   * Appends `data` and returns the position it starts at; see the class note on durability. A
   * failed write leaves the file as it was (see {@link appendWhole}), so the positions of later
   * batches stay right.
   */
  append(data: Buffer): number {
    const position = this.size;
    this.size = appendWhole(this.fd, data, position, false);
    return position;
  }

  /** Reads `length` bytes at `position` into a fresh buffer (one pread for a run of batches). */
  read(position: number, length: number): Buffer {
    const buf = Buffer.allocUnsafe(length);
    this.readFully(buf, position);
    return buf;
  }

  /** Forces written data to stable storage. */
  sync(): void {
    fdatasyncSync(this.fd);
  }

  close(): void {
    closeSync(this.fd);
  }
}
