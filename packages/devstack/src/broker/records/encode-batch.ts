import { Writer } from '../protocol/writer.js';
import { BatchLayout } from './batch.js';
import { crc32c } from './crc32c.js';

/** One record the broker writes itself (an internal topic's entry): raw key and value bytes. */
export interface BrokerRecord {
  readonly key: Buffer | null;
  /** `null` is a tombstone, as in a compacted topic. */
  readonly value: Buffer | null;
}

function writeVarBytes(w: Writer, b: Buffer | null): void {
  if (b === null) {
    w.writeVarInt(-1);
    return;
  }
  w.writeVarInt(b.length);
  w.writeRaw(b);
}

/**
 * Encodes records the broker appends on its own behalf as one uncompressed magic-2 batch
 * (https://kafka.apache.org/protocol#protocol_recordbatch): base offset 0 (the log patches it),
 * no producer id (−1, so the idempotence table never sees it), every record at `timestamp`, the
 * CRC-32C filled in. Kafka writes its internal topics the same way: leader-assigned, CreateTime.
 */
export function encodeBrokerBatch(records: readonly BrokerRecord[], timestamp: number): Buffer {
  if (records.length === 0) throw new RangeError('a record batch needs at least one record');
  const body = new Writer();
  records.forEach((r, i) => {
    const rec = new Writer();
    rec.writeInt8(0); // attributes (unused in magic 2)
    rec.writeVarLong(0); // timestamp delta
    rec.writeVarInt(i); // offset delta
    writeVarBytes(rec, r.key);
    writeVarBytes(rec, r.value);
    rec.writeVarInt(0); // headers
    const bytes = rec.toBuffer();
    body.writeVarInt(bytes.length);
    body.writeRaw(bytes);
  });
  const afterCrc = new Writer();
  afterCrc.writeInt16(0); // attributes: no compression, CreateTime, not transactional
  afterCrc.writeInt32(records.length - 1); // last offset delta
  afterCrc.writeInt64(timestamp); // first timestamp
  afterCrc.writeInt64(timestamp); // max timestamp
  afterCrc.writeInt64(-1); // producer id
  afterCrc.writeInt16(-1); // producer epoch
  afterCrc.writeInt32(-1); // base sequence
  afterCrc.writeInt32(records.length);
  afterCrc.writeRaw(body.toBuffer());
  const tail = afterCrc.toBuffer();
  const head = new Writer(BatchLayout.CRC + 4);
  head.writeInt64(0); // base offset
  head.writeInt32(BatchLayout.CRC + 4 - BatchLayout.LOG_OVERHEAD + tail.length); // batch length
  head.writeInt32(0); // partition leader epoch
  head.writeInt8(2); // magic
  head.writeUInt32(crc32c(tail));
  return Buffer.concat([head.toBuffer(), tail]);
}
