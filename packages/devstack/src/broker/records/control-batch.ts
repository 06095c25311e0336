import { Writer } from '../protocol/writer.js';
import { BatchAttribute, BatchLayout, readBatchHeader, decodeRecords } from './batch.js';
import { crc32c } from './crc32c.js';

/** Which way a transaction ended, as its control record says (ControlRecordType ABORT 0, COMMIT 1). */
export type TransactionOutcome = 'commit' | 'abort';

const CONTROL_TYPE = { abort: 0, commit: 1 } as const;

/** What a transaction marker carries. */
export interface MarkerFields {
  readonly producerId: number;
  readonly producerEpoch: number;
  readonly outcome: TransactionOutcome;
  /** The coordinator's epoch; one coordinator that never moves, so always 0. */
  readonly coordinatorEpoch: number;
  readonly timestamp: number;
}

/**
 * Encodes the control batch that ends a producer's transaction on one partition (KIP-98, "Control
 * Messages"; https://kafka.apache.org/protocol#protocol_recordbatch): attributes isTransactional |
 * isControl, one record whose key is `version:int16 = 0, type:int16` and whose value is the end
 * transaction marker `version:int16 = 0, coordinator_epoch:int32`. Base offset 0 (the log assigns
 * it), base sequence −1: markers are outside the producer's sequence.
 */
export function encodeControlBatch(m: MarkerFields): Buffer {
  const key = new Writer(4).writeInt16(0).writeInt16(CONTROL_TYPE[m.outcome]).toBuffer();
  const value = new Writer(6).writeInt16(0).writeInt32(m.coordinatorEpoch).toBuffer();
  const record = new Writer(32);
  record.writeInt8(0); // record attributes
  record.writeVarLong(0); // timestamp delta
  record.writeVarInt(0); // offset delta
  record.writeVarInt(key.length).writeRaw(key);
  record.writeVarInt(value.length).writeRaw(value);
  record.writeVarInt(0); // headers
  const recordBytes = record.toBuffer();

  const afterCrc = new Writer(64);
  afterCrc.writeInt16(BatchAttribute.Transactional | BatchAttribute.Control);
  afterCrc.writeInt32(0); // last offset delta
  afterCrc.writeInt64(m.timestamp).writeInt64(m.timestamp);
  afterCrc.writeInt64(m.producerId).writeInt16(m.producerEpoch).writeInt32(-1);
  afterCrc.writeInt32(1); // record count
  afterCrc.writeVarInt(recordBytes.length).writeRaw(recordBytes);
  const tail = afterCrc.toBuffer();

  const batch = Buffer.allocUnsafe(BatchLayout.ATTRIBUTES + tail.length);
  batch.writeBigInt64BE(0n, BatchLayout.BASE_OFFSET);
  batch.writeInt32BE(batch.length - BatchLayout.LOG_OVERHEAD, BatchLayout.BATCH_LENGTH);
  batch.writeInt32BE(0, BatchLayout.PARTITION_LEADER_EPOCH);
  batch.writeInt8(2, BatchLayout.MAGIC);
  tail.copy(batch, BatchLayout.ATTRIBUTES);
  batch.writeUInt32BE(crc32c(batch, BatchLayout.ATTRIBUTES, batch.length), BatchLayout.CRC);
  return batch;
}

/**
 * The outcome a stored control batch records, or `null` for a data batch. Log recovery uses it to
 * rebuild which transactions were aborted; a control record of an unknown type is also `null`
 * (Kafka ignores those too).
 */
export function controlOutcomeOf(batch: Buffer): TransactionOutcome | null {
  const header = readBatchHeader(batch);
  if ((header.attributes & BatchAttribute.Control) === 0) return null;
  const key = decodeRecords(batch)[0]?.key;
  if (key === undefined || key === null || key.length < 4) return null;
  const type = key.readInt16BE(2);
  return type === CONTROL_TYPE.commit ? 'commit' : type === CONTROL_TYPE.abort ? 'abort' : null;
}
