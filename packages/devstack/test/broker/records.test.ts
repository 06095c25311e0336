import { describe, expect, it } from 'vitest';
import { KafkaErrorCode } from '../../src/broker/protocol/errors.js';
import {
  BatchLayout,
  checkProducedBatch,
  decodeRecords,
  readBatchHeader,
  setBaseOffset,
  splitBatches,
} from '../../src/broker/records/batch.js';
import { crc32c } from '../../src/broker/records/crc32c.js';
import { encodeBatch } from './batch-fixture.js';

describe('crc32c', () => {
  // Vectors from RFC 3720 appendix B.4 (iSCSI) and the common "123456789" check value.
  it.each([
    ['123456789', Buffer.from('123456789'), 0xe3069283],
    ['32 zero bytes', Buffer.alloc(32, 0), 0x8a9136aa],
    ['32 0xff bytes', Buffer.alloc(32, 0xff), 0x62a8ab43],
    ['bytes 0..31 ascending', Buffer.from(Array.from({ length: 32 }, (_, i) => i)), 0x46dd794e],
    ['bytes 31..0 descending', Buffer.from(Array.from({ length: 32 }, (_, i) => 31 - i)), 0x113fdb5c],
    ['empty', Buffer.alloc(0), 0],
  ])('%s', (_name, data, expected) => {
    expect(crc32c(data)).toBe(expected);
  });

  it('computes over a sub-range like over a copy of it', () => {
    const data = Buffer.from('xx123456789yy');
    expect(crc32c(data, 2, 11)).toBe(0xe3069283);
  });
});

/** The broker passes its max frame size; any bound far above the fixtures' sizes will do here. */
const MAX_INFLATED = 1024 * 1024;

describe('record batches', () => {
  const records = [
    { key: 'k1', value: 'v1', headers: { h: 'x' } },
    { key: null, value: 'v2', timestampDelta: 5 },
    { key: 'k3', value: null, timestampDelta: 9 },
  ];

  it('parses the header and accepts a well-formed uncompressed batch', () => {
    const batch = encodeBatch({ records, firstTimestamp: 1000, producerId: 7, producerEpoch: 0, baseSequence: 3 });
    const check = checkProducedBatch(batch, MAX_INFLATED);
    expect(check.ok).toBe(true);
    const h = readBatchHeader(batch);
    expect(h).toMatchObject({
      baseOffset: 0,
      sizeInBytes: batch.length,
      magic: 2,
      lastOffsetDelta: 2,
      firstTimestamp: 1000,
      maxTimestamp: 1009,
      producerId: 7,
      producerEpoch: 0,
      baseSequence: 3,
      recordCount: 3,
    });
  });

  it('decodes records with absolute offsets, timestamps, keys, values and headers', () => {
    const batch = encodeBatch({ records, firstTimestamp: 1000 });
    setBaseOffset(batch, 40);
    const decoded = decodeRecords(batch);
    expect(decoded.map((r) => [r.offset, r.timestamp, r.key?.toString() ?? null, r.value?.toString() ?? null])).toEqual([
      [40, 1000, 'k1', 'v1'],
      [41, 1005, null, 'v2'],
      [42, 1009, 'k3', null],
    ]);
    expect(decoded[0]?.headers.map((h) => [h.key, h.value?.toString()])).toEqual([['h', 'x']]);
  });

  it('patching the base offset keeps the CRC valid (it is not covered)', () => {
    const batch = encodeBatch({ records });
    setBaseOffset(batch, 123_456_789_012);
    expect(readBatchHeader(batch).baseOffset).toBe(123_456_789_012);
    expect(checkProducedBatch(batch, MAX_INFLATED).ok).toBe(true);
  });

  it('accepts gzip batches and decodes them', () => {
    const batch = encodeBatch({ records, codec: 1 });
    expect(checkProducedBatch(batch, MAX_INFLATED).ok).toBe(true);
    expect(decodeRecords(batch).map((r) => r.value?.toString() ?? null)).toEqual(['v1', 'v2', null]);
  });

  it('refuses a gzip batch that inflates past the bound with CORRUPT_MESSAGE (regression: a zip bomb was inflated whole)', () => {
    const big = encodeBatch({ records: [{ key: 'k', value: 'x'.repeat(4096) }], codec: 1 });
    expect(big.length).toBeLessThan(1024);
    expect(checkProducedBatch(big, 4096)).toMatchObject({ ok: false, errorCode: KafkaErrorCode.CORRUPT_MESSAGE, reason: expect.stringMatching(/inflates to more than 4096 bytes/) });
    expect(checkProducedBatch(big, 8192).ok).toBe(true);
  });

  it('rejects a flipped bit with CORRUPT_MESSAGE', () => {
    const batch = encodeBatch({ records });
    batch[batch.length - 3] = (batch[batch.length - 3] as number) ^ 0x10;
    expect(checkProducedBatch(batch, MAX_INFLATED)).toMatchObject({ ok: false, errorCode: KafkaErrorCode.CORRUPT_MESSAGE });
  });

  it.each([
    [2, 'snappy'],
    [3, 'lz4'],
    [4, 'zstd'],
  ])('answers codec %i (%s) with UNSUPPORTED_COMPRESSION_TYPE', (codec) => {
    const batch = encodeBatch({ records, codec });
    expect(checkProducedBatch(batch, MAX_INFLATED)).toMatchObject({ ok: false, errorCode: KafkaErrorCode.UNSUPPORTED_COMPRESSION_TYPE });
  });

  it('refuses control batches (only the transaction coordinator writes markers) and other magic values', () => {
    expect(checkProducedBatch(encodeBatch({ records, attributesExtra: 0x30 }), MAX_INFLATED)).toMatchObject({
      ok: false,
      errorCode: KafkaErrorCode.INVALID_REQUEST,
    });
    // Whether a transactional batch may be written depends on the request (Produce checks it).
    expect(checkProducedBatch(encodeBatch({ records, attributesExtra: 0x10, producerId: 3, producerEpoch: 0, baseSequence: 0 }), MAX_INFLATED)).toMatchObject({ ok: true });
    const magic1 = encodeBatch({ records });
    magic1.writeInt8(1, BatchLayout.MAGIC);
    expect(checkProducedBatch(magic1, MAX_INFLATED)).toMatchObject({ ok: false, errorCode: KafkaErrorCode.UNSUPPORTED_FOR_MESSAGE_FORMAT });
  });

  it('rejects a batch whose record count disagrees with its records', () => {
    const batch = encodeBatch({ records });
    batch.writeInt32BE(4, BatchLayout.RECORD_COUNT);
    batch.writeInt32BE(3, BatchLayout.LAST_OFFSET_DELTA);
    batch.writeUInt32BE(crc32c(batch, BatchLayout.ATTRIBUTES), BatchLayout.CRC);
    expect(checkProducedBatch(batch, MAX_INFLATED)).toMatchObject({ ok: false, errorCode: KafkaErrorCode.CORRUPT_MESSAGE });
  });

  it('splits concatenated batches and refuses a partial one', () => {
    const a = encodeBatch({ records });
    const b = encodeBatch({ records: [{ key: 'x', value: 'y' }] });
    const both = Buffer.concat([a, b]);
    expect(splitBatches(both)?.map((x) => x.length)).toEqual([a.length, b.length]);
    expect(splitBatches(both.subarray(0, both.length - 1))).toBeNull();
    expect(splitBatches(Buffer.alloc(10))).toBeNull();
  });
});
