import { describe, expect, it } from 'vitest';
import type { InternalTopicWriter } from '../../../src/broker/context.js';
import { encodeOffsetCommitKey, encodeOffsetCommitValue, offsetsTopicPartition, OFFSETS_TOPIC, OffsetsTopicWriter } from '../../../src/broker/group/offsets-topic.js';
import { decodeRecords, hasValidCrc, readBatchHeader } from '../../../src/broker/records/batch.js';
import { encodeBrokerBatch, type BrokerRecord } from '../../../src/broker/records/encode-batch.js';

/** Reads Kafka's int16-length string at `pos`; returns the string and the position after it. */
function kafkaString(buf: Buffer, pos: number): [string, number] {
  const len = buf.readInt16BE(pos);
  return [buf.toString('utf8', pos + 2, pos + 2 + len), pos + 2 + len];
}

describe('offsets topic partition (Kafka: Utils.abs(groupId.hashCode) % partitions)', () => {
  it("matches Java's String.hashCode, including 32-bit overflow and Kafka's abs of MIN_VALUE", () => {
    // "hello".hashCode() == 99162322 in Java; 99162322 % 50 == 22.
    expect(offsetsTopicPartition('hello', 50)).toBe(22);
    expect(offsetsTopicPartition('', 50)).toBe(0);
    // "polygenelubricants".hashCode() == Integer.MIN_VALUE: Math.abs would stay negative, Kafka's
    // abs (n & 0x7fffffff) gives 0.
    expect(offsetsTopicPartition('polygenelubricants', 50)).toBe(0);
    // A non-ASCII id hashes UTF-16 code units: "é".hashCode() == 233.
    expect(offsetsTopicPartition('é', 50)).toBe(233 % 50);
    expect(offsetsTopicPartition('pyramid', 1)).toBe(0);
  });
});

describe('offset commit record formats (GroupMetadataManager OffsetCommitKey v1 / OffsetCommitValue v3)', () => {
  it('key: int16 version 1, group, topic, int32 partition', () => {
    const key = encodeOffsetCommitKey('g1', 'transactions', 7);
    expect(key.readInt16BE(0)).toBe(1);
    const [group, afterGroup] = kafkaString(key, 2);
    const [topic, afterTopic] = kafkaString(key, afterGroup);
    expect([group, topic, key.readInt32BE(afterTopic), key.length]).toEqual(['g1', 'transactions', 7, afterTopic + 4]);
  });

  it('value: int16 version 3, int64 offset, int32 leader epoch -1, metadata, int64 commit timestamp', () => {
    const value = encodeOffsetCommitValue(2 ** 40 + 5, 'meta', 1_700_000_000_123);
    expect(value.readInt16BE(0)).toBe(3);
    expect(value.readBigInt64BE(2)).toBe(2n ** 40n + 5n);
    expect(value.readInt32BE(10)).toBe(-1);
    const [metadata, afterMetadata] = kafkaString(value, 14);
    expect(metadata).toBe('meta');
    expect(value.readBigInt64BE(afterMetadata)).toBe(1_700_000_000_123n);
    expect(value.length).toBe(afterMetadata + 8);
  });
});

describe('encodeBrokerBatch', () => {
  it('is a valid magic-2 batch without producer id whose records decode back, tombstones included', () => {
    const records: BrokerRecord[] = [
      { key: Buffer.from('k1'), value: Buffer.from('v1') },
      { key: Buffer.from('k2'), value: null },
    ];
    const batch = encodeBrokerBatch(records, 1_700_000_000_000);
    const header = readBatchHeader(batch);
    expect(hasValidCrc(batch)).toBe(true);
    expect(header).toMatchObject({ magic: 2, recordCount: 2, lastOffsetDelta: 1, producerId: -1, firstTimestamp: 1_700_000_000_000, maxTimestamp: 1_700_000_000_000, sizeInBytes: batch.length });
    expect(decodeRecords(batch).map((r) => [r.key?.toString() ?? null, r.value?.toString() ?? null])).toEqual([
      ['k1', 'v1'],
      ['k2', null],
    ]);
  });

  it('refuses an empty batch', () => {
    expect(() => encodeBrokerBatch([], 0)).toThrow(/at least one record/);
  });
});

describe('OffsetsTopicWriter', () => {
  const recorder = (existing?: number): { writer: InternalTopicWriter; appended: { topic: string; partition: number; records: readonly BrokerRecord[]; timestamp: number }[] } => {
    const appended: { topic: string; partition: number; records: readonly BrokerRecord[]; timestamp: number }[] = [];
    return {
      appended,
      writer: {
        ensure: (_topic, partitions) => existing ?? partitions,
        append: (topic, partition, records, timestamp) => void appended.push({ topic, partition, records, timestamp }),
      },
    };
  };

  it("writes one batch per change set into the group's partition, tombstones for removed offsets", () => {
    const { writer, appended } = recorder();
    const out = OffsetsTopicWriter.open(writer, 50, () => 42);
    out.write('hello', [
      { topic: 't', partition: 0, offset: 5, metadata: '' },
      { topic: 't', partition: 1, offset: null, metadata: '' },
    ]);
    expect(appended).toHaveLength(1);
    expect(appended[0]).toMatchObject({ topic: OFFSETS_TOPIC, partition: 22, timestamp: 42 });
    expect(appended[0]?.records.map((r) => [r.key, r.value])).toEqual([
      [encodeOffsetCommitKey('hello', 't', 0), encodeOffsetCommitValue(5, '', 42)],
      [encodeOffsetCommitKey('hello', 't', 1), null],
    ]);
  });

  it("keeps an existing topic's partition count and rejects a bad one", () => {
    expect(OffsetsTopicWriter.open(recorder(3).writer, 50).partitionCount).toBe(3);
    expect(() => OffsetsTopicWriter.open(recorder().writer, 0)).toThrow(/offsetsTopicPartitions must be a positive integer/);
  });
});
