import { gunzipSync } from 'node:zlib';
import { KafkaErrorCode } from '../protocol/errors.js';
import { KafkaProtocolError } from '../protocol/errors.js';
import { Reader } from '../protocol/reader.js';
import { crc32c } from './crc32c.js';

/**
 * Record batch (magic 2) layout, https://kafka.apache.org/protocol#protocol_recordbatch.
 * Offsets are byte positions inside one batch.
 */
export const BatchLayout = {
  BASE_OFFSET: 0,
  BATCH_LENGTH: 8,
  PARTITION_LEADER_EPOCH: 12,
  MAGIC: 16,
  CRC: 17,
  ATTRIBUTES: 21,
  LAST_OFFSET_DELTA: 23,
  FIRST_TIMESTAMP: 27,
  MAX_TIMESTAMP: 35,
  PRODUCER_ID: 43,
  PRODUCER_EPOCH: 51,
  BASE_SEQUENCE: 53,
  RECORD_COUNT: 57,
  /** Size of the fixed header; records follow. */
  HEADER_SIZE: 61,
  /** baseOffset + batchLength: the bytes batchLength does not count. */
  LOG_OVERHEAD: 12,
} as const;

/** Compression codecs, attribute bits 0–2. */
export const Compression = { None: 0, Gzip: 1, Snappy: 2, Lz4: 3, Zstd: 4 } as const;

/** Attribute bits 4 and 5, https://kafka.apache.org/protocol#protocol_recordbatch. */
export const BatchAttribute = { Transactional: 0x10, Control: 0x20 } as const;

/** The batch header fields the broker uses. */
export interface BatchHeader {
  readonly baseOffset: number;
  /** Whole batch size on the wire, including the 12-byte log overhead. */
  readonly sizeInBytes: number;
  readonly magic: number;
  readonly attributes: number;
  readonly lastOffsetDelta: number;
  readonly firstTimestamp: number;
  readonly maxTimestamp: number;
  readonly producerId: number;
  readonly producerEpoch: number;
  readonly baseSequence: number;
  readonly recordCount: number;
}

function readInt64(buf: Buffer, pos: number): number {
  return buf.readInt32BE(pos) * 0x1_0000_0000 + buf.readUInt32BE(pos + 4);
}

/** Reads the header of the batch that starts at `buf[0]`; `buf` must hold at least the header. */
export function readBatchHeader(buf: Buffer): BatchHeader {
  return {
    baseOffset: readInt64(buf, BatchLayout.BASE_OFFSET),
    sizeInBytes: buf.readInt32BE(BatchLayout.BATCH_LENGTH) + BatchLayout.LOG_OVERHEAD,
    magic: buf.readInt8(BatchLayout.MAGIC),
    attributes: buf.readInt16BE(BatchLayout.ATTRIBUTES),
    lastOffsetDelta: buf.readInt32BE(BatchLayout.LAST_OFFSET_DELTA),
    firstTimestamp: readInt64(buf, BatchLayout.FIRST_TIMESTAMP),
    maxTimestamp: readInt64(buf, BatchLayout.MAX_TIMESTAMP),
    producerId: readInt64(buf, BatchLayout.PRODUCER_ID),
    producerEpoch: buf.readInt16BE(BatchLayout.PRODUCER_EPOCH),
    baseSequence: buf.readInt32BE(BatchLayout.BASE_SEQUENCE),
    recordCount: buf.readInt32BE(BatchLayout.RECORD_COUNT),
  };
}

/** Overwrites the base offset in place; the CRC does not cover it, so the batch stays valid. */
export function setBaseOffset(batch: Buffer, baseOffset: number): void {
  const hi = Math.floor(baseOffset / 0x1_0000_0000);
  batch.writeInt32BE(hi, BatchLayout.BASE_OFFSET);
  batch.writeUInt32BE(baseOffset - hi * 0x1_0000_0000, BatchLayout.BASE_OFFSET + 4);
}

/** True when the stored CRC-32C matches attributes..end. */
export function hasValidCrc(batch: Buffer): boolean {
  return batch.readUInt32BE(BatchLayout.CRC) === crc32c(batch, BatchLayout.ATTRIBUTES, batch.length);
}

/**
 * Splits a Produce `records` field into its batches (views, not copies). Returns `null` when the
 * bytes are not a whole number of plausible batches.
 */
export function splitBatches(records: Buffer): Buffer[] | null {
  const out: Buffer[] = [];
  let pos = 0;
  while (pos < records.length) {
    if (records.length - pos < BatchLayout.HEADER_SIZE) return null;
    const size = records.readInt32BE(pos + BatchLayout.BATCH_LENGTH) + BatchLayout.LOG_OVERHEAD;
    if (size < BatchLayout.HEADER_SIZE || pos + size > records.length) return null;
    out.push(records.subarray(pos, pos + size));
    pos += size;
  }
  return out;
}

/** The verdict on one produced batch: accepted (with its header) or an error code to answer. */
export type BatchCheck =
  | { readonly ok: true; readonly header: BatchHeader }
  | { readonly ok: false; readonly errorCode: KafkaErrorCode; readonly reason: string };

/**
 * Validates a produced batch the way a broker must before appending it: magic 2, CRC-32C, a
 * codec we can read, no control batch (only the transaction coordinator writes those), and
 * records that parse and match the header's count. Whether a transactional batch may be written
 * is the Produce handler's question: it depends on the request's transactional id. Compressed payloads are inflated for that
 * check but stored as received.
 *
 * @param maxInflatedBytes most bytes a compressed payload may inflate to. Without a bound a few
 *   KiB of gzip (a "zip bomb") make the synchronous inflate exhaust the broker's memory; the
 *   broker passes its max frame size, so a batch is refused compressed exactly when it could not
 *   have been sent uncompressed.
 */
export function checkProducedBatch(batch: Buffer, maxInflatedBytes: number): BatchCheck {
  const header = readBatchHeader(batch);
  if (header.magic !== 2) {
    return { ok: false, errorCode: KafkaErrorCode.UNSUPPORTED_FOR_MESSAGE_FORMAT, reason: `magic ${header.magic}` };
  }
  if (!hasValidCrc(batch)) return { ok: false, errorCode: KafkaErrorCode.CORRUPT_MESSAGE, reason: 'crc mismatch' };
  const codec = header.attributes & 0x07;
  if (codec !== Compression.None && codec !== Compression.Gzip) {
    return { ok: false, errorCode: KafkaErrorCode.UNSUPPORTED_COMPRESSION_TYPE, reason: `codec ${codec}` };
  }
  if ((header.attributes & BatchAttribute.Control) !== 0) {
    return { ok: false, errorCode: KafkaErrorCode.INVALID_REQUEST, reason: 'control batch from a client' };
  }
  if (header.recordCount <= 0 || header.lastOffsetDelta !== header.recordCount - 1) {
    return { ok: false, errorCode: KafkaErrorCode.CORRUPT_MESSAGE, reason: 'record count does not match lastOffsetDelta' };
  }
  try {
    const payload = recordsPayload(batch, codec, maxInflatedBytes);
    walkRecords(payload, header.recordCount, () => undefined);
  } catch (err) {
    return { ok: false, errorCode: KafkaErrorCode.CORRUPT_MESSAGE, reason: (err as Error).message };
  }
  return { ok: true, header };
}

function recordsPayload(batch: Buffer, codec: number, maxInflatedBytes?: number): Buffer {
  const raw = batch.subarray(BatchLayout.HEADER_SIZE);
  if (codec === Compression.None) return raw;
  if (codec === Compression.Gzip) {
    try {
      return gunzipSync(raw, maxInflatedBytes === undefined ? {} : { maxOutputLength: maxInflatedBytes });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
        throw new KafkaProtocolError(`gzip payload inflates to more than ${maxInflatedBytes} bytes`);
      }
      throw err;
    }
  }
  throw new KafkaProtocolError(`unsupported codec ${codec}`);
}

/** One record inside a batch, with absolute offset and timestamp. */
export interface DecodedRecord {
  readonly offset: number;
  readonly timestamp: number;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly headers: ReadonlyArray<{ readonly key: string; readonly value: Buffer | null }>;
}

/**
 * Walks `count` records (https://kafka.apache.org/protocol#protocol_recordbatch, "Record"),
 * calling `visit` with each record's offset delta and timestamp delta; throws
 * {@link KafkaProtocolError} on malformed or trailing bytes.
 */
function walkRecords(
  payload: Buffer,
  count: number,
  visit: (r: Reader, offsetDelta: number, timestampDelta: number, end: number) => void,
): void {
  const r = new Reader(payload);
  for (let i = 0; i < count; i++) {
    const length = r.readVarInt();
    if (length < 0 || length > r.remaining) throw new KafkaProtocolError(`record ${i} length ${length} out of bounds`);
    const end = r.offset + length;
    r.readInt8(); // attributes, unused in magic 2
    const timestampDelta = r.readVarLong();
    const offsetDelta = r.readVarInt();
    if (offsetDelta !== i) throw new KafkaProtocolError(`record ${i} has offset delta ${offsetDelta}`);
    visit(r, offsetDelta, timestampDelta, end);
    if (r.offset > end) throw new KafkaProtocolError(`record ${i} overruns its length`);
    r.skip(end - r.offset);
  }
  if (r.remaining !== 0) throw new KafkaProtocolError(`${r.remaining} trailing bytes after ${count} records`);
}

function readVarBytes(r: Reader): Buffer | null {
  const len = r.readVarInt();
  if (len < -1) throw new KafkaProtocolError(`invalid record field length ${len}`);
  return len === -1 ? null : r.readRaw(len);
}

/** Decodes every record of a batch (uncompressed or gzip): for timestamp lookups and tests. */
export function decodeRecords(batch: Buffer): DecodedRecord[] {
  const header = readBatchHeader(batch);
  const payload = recordsPayload(batch, header.attributes & 0x07);
  const out: DecodedRecord[] = [];
  walkRecords(payload, header.recordCount, (r, offsetDelta, timestampDelta) => {
    const key = readVarBytes(r);
    const value = readVarBytes(r);
    const headerCount = r.readVarInt();
    if (headerCount < 0 || headerCount > r.remaining) throw new KafkaProtocolError(`invalid header count ${headerCount}`);
    const headers: { key: string; value: Buffer | null }[] = [];
    for (let h = 0; h < headerCount; h++) {
      const k = readVarBytes(r);
      if (k === null) throw new KafkaProtocolError('null header key');
      headers.push({ key: k.toString('utf8'), value: readVarBytes(r) });
    }
    out.push({
      offset: header.baseOffset + offsetDelta,
      timestamp: header.firstTimestamp + timestampDelta,
      key,
      value,
      headers,
    });
  });
  return out;
}
