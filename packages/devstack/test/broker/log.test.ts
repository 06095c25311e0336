import { appendFileSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/logger.js';
import { TopicStore } from '../../src/broker/log/topic-store.js';
import { KafkaErrorCode } from '../../src/broker/protocol/errors.js';
import { decodeRecords, readBatchHeader } from '../../src/broker/records/batch.js';
import { encodeBatch } from './batch-fixture.js';

const dirs: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'broker-log-'));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function batchOf(n: number, opts: { producerId?: number; baseSequence?: number; producerEpoch?: number; tag?: string } = {}): Buffer {
  return encodeBatch({
    records: Array.from({ length: n }, (_, i) => ({ key: `k${i}`, value: `${opts.tag ?? 'v'}${i}` })),
    producerId: opts.producerId ?? -1,
    producerEpoch: opts.producerEpoch ?? (opts.producerId === undefined ? -1 : 0),
    baseSequence: opts.baseSequence ?? (opts.producerId === undefined ? -1 : 0),
  });
}

function append(store: TopicStore, topic: string, batch: Buffer) {
  const log = store.partition(topic, 0);
  if (log === undefined) throw new Error('no partition');
  return log.append(batch, readBatchHeader(batch));
}

describe.each([
  ['in memory', () => null],
  ['on disk', () => tempDir()],
])('partition log (%s)', (_mode, dataDir) => {
  it('assigns consecutive offsets and reads whole batches from any offset', () => {
    const store = TopicStore.open({ dataDir: dataDir(), logger: silentLogger });
    expect(store.createTopic('t', 1)).toBe(KafkaErrorCode.NONE);
    expect(append(store, 't', batchOf(3))).toEqual({ kind: 'appended', baseOffset: 0 });
    expect(append(store, 't', batchOf(2))).toEqual({ kind: 'appended', baseOffset: 3 });
    expect(append(store, 't', batchOf(4))).toEqual({ kind: 'appended', baseOffset: 5 });
    const log = store.partition('t', 0);
    expect(log?.highWatermark).toBe(9);
    const offsetsFrom = (offset: number, maxBytes = 1 << 20): number[] =>
      (log?.read(offset, maxBytes, true).buffers ?? []).flatMap((b) => {
        const out: number[] = [];
        for (let pos = 0; pos < b.length; ) {
          const size = b.readInt32BE(pos + 8) + 12;
          out.push(...decodeRecords(b.subarray(pos, pos + size)).map((r) => r.offset));
          pos += size;
        }
        return out;
      });
    expect(offsetsFrom(0)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]);
    expect(offsetsFrom(4)).toEqual([3, 4, 5, 6, 7, 8]); // whole batch containing 4
    expect(offsetsFrom(9)).toEqual([]);
    // maxBytes smaller than one batch still returns that batch (progress), but only that one.
    expect(offsetsFrom(0, 1)).toEqual([0, 1, 2]);
    expect(log?.read(0, 1, false).buffers).toEqual([]);
    store.close();
  });

  it('answers an idempotent retry with the original offset and refuses gaps', () => {
    const store = TopicStore.open({ dataDir: dataDir(), logger: silentLogger });
    store.createTopic('t', 1);
    const pid = store.allocateProducerId();
    const first = batchOf(3, { producerId: pid, baseSequence: 0 });
    expect(append(store, 't', first)).toEqual({ kind: 'appended', baseOffset: 0 });
    expect(append(store, 't', batchOf(2, { producerId: pid, baseSequence: 3 }))).toEqual({ kind: 'appended', baseOffset: 3 });
    expect(append(store, 't', batchOf(3, { producerId: pid, baseSequence: 0 }))).toEqual({ kind: 'duplicate', baseOffset: 0 });
    expect(append(store, 't', batchOf(1, { producerId: pid, baseSequence: 7 }))).toEqual({
      kind: 'reject',
      errorCode: KafkaErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER,
    });
    expect(append(store, 't', batchOf(1, { producerId: pid + 1, baseSequence: 4 }))).toEqual({
      kind: 'reject',
      errorCode: KafkaErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER,
    });
    // Non-idempotent kafkajs batches carry epoch 0 / sequence 0 with producer id -1: never deduplicated.
    const plain = encodeBatch({ records: [{ key: 'a', value: 'b' }], producerId: -1, producerEpoch: 0, baseSequence: 0 });
    expect(append(store, 't', plain)).toEqual({ kind: 'appended', baseOffset: 5 });
    expect(append(store, 't', Buffer.from(plain))).toEqual({ kind: 'appended', baseOffset: 6 });
    store.close();
  });

  it('finds offsets by timestamp', () => {
    const store = TopicStore.open({ dataDir: dataDir(), logger: silentLogger });
    store.createTopic('t', 1);
    const log = store.partition('t', 0);
    const b1 = encodeBatch({ records: [{ key: null, value: 'a' }, { key: null, value: 'b', timestampDelta: 10 }], firstTimestamp: 1000 });
    const b2 = encodeBatch({ records: [{ key: null, value: 'c' }], firstTimestamp: 2000 });
    append(store, 't', b1);
    append(store, 't', b2);
    expect(log?.offsetForTimestamp(0)).toEqual({ offset: 0, timestamp: 1000 });
    expect(log?.offsetForTimestamp(1001)).toEqual({ offset: 1, timestamp: 1010 });
    expect(log?.offsetForTimestamp(1011)).toEqual({ offset: 2, timestamp: 2000 });
    expect(log?.offsetForTimestamp(2001)).toBeNull();
    store.close();
  });

  it('validates topic names and partition counts like Kafka', () => {
    const store = TopicStore.open({ dataDir: dataDir(), logger: silentLogger });
    expect(store.createTopic('..', 1)).toBe(KafkaErrorCode.INVALID_TOPIC_EXCEPTION);
    expect(store.createTopic('a/b', 1)).toBe(KafkaErrorCode.INVALID_TOPIC_EXCEPTION);
    expect(store.createTopic('x'.repeat(250), 1)).toBe(KafkaErrorCode.INVALID_TOPIC_EXCEPTION);
    expect(store.createTopic('ok', 0)).toBe(KafkaErrorCode.INVALID_PARTITIONS);
    expect(store.createTopic('ok', 2)).toBe(KafkaErrorCode.NONE);
    expect(store.createTopic('ok', 2)).toBe(KafkaErrorCode.TOPIC_ALREADY_EXISTS);
    expect(store.deleteTopic('ok')).toBe(KafkaErrorCode.NONE);
    expect(store.deleteTopic('ok')).toBe(KafkaErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
    expect(store.createTopic('ok', 1)).toBe(KafkaErrorCode.NONE);
    expect(store.partition('ok', 0)?.highWatermark).toBe(0);
    store.close();
  });
});

describe('recovery from a data directory', () => {
  it('restores topics, offsets, producer state and producer ids', () => {
    const dir = tempDir();
    let store = TopicStore.open({ dataDir: dir, logger: silentLogger });
    store.createTopic('t', 2);
    const pid = store.allocateProducerId();
    append(store, 't', batchOf(3, { producerId: pid, baseSequence: 0 }));
    append(store, 't', batchOf(2));
    store.close();

    store = TopicStore.open({ dataDir: dir, logger: silentLogger });
    expect(store.partitionCount('t')).toBe(2);
    expect(store.partition('t', 0)?.highWatermark).toBe(5);
    expect(store.allocateProducerId()).toBe(pid + 1);
    // The retry of the first batch is still recognised after the restart.
    expect(append(store, 't', batchOf(3, { producerId: pid, baseSequence: 0 }))).toEqual({ kind: 'duplicate', baseOffset: 0 });
    expect(append(store, 't', batchOf(1, { producerId: pid, baseSequence: 3 }))).toEqual({ kind: 'appended', baseOffset: 5 });
    store.close();
  });

  it('truncates a torn tail to the last whole, CRC-valid batch', () => {
    const dir = tempDir();
    let store = TopicStore.open({ dataDir: dir, logger: silentLogger });
    store.createTopic('t', 1);
    append(store, 't', batchOf(3, { tag: 'a' }));
    append(store, 't', batchOf(3, { tag: 'b' }));
    store.close();
    const segment = join(dir, 'topics', 't', '0', '00000000000000000000.log');
    const goodSize = statSync(segment).size;

    // Half of a third batch, as a kill -9 in the middle of write(2) would leave it.
    const torn = batchOf(3, { tag: 'c' });
    appendFileSync(segment, torn.subarray(0, torn.length - 7));
    store = TopicStore.open({ dataDir: dir, logger: silentLogger });
    expect(store.partition('t', 0)?.highWatermark).toBe(6);
    expect(statSync(segment).size).toBe(goodSize);
    expect(append(store, 't', batchOf(1, { tag: 'd' }))).toEqual({ kind: 'appended', baseOffset: 6 });
    store.close();

    // A whole-length batch with a corrupted body is cut as well.
    const corrupt = batchOf(2, { tag: 'e' });
    corrupt[corrupt.length - 2] = (corrupt[corrupt.length - 2] as number) ^ 0xff;
    corrupt.writeInt32BE(7, 4); // base offset 7 (low word), consecutive, so only the CRC is wrong
    appendFileSync(segment, corrupt);
    store = TopicStore.open({ dataDir: dir, logger: silentLogger });
    expect(store.partition('t', 0)?.highWatermark).toBe(7);
    store.close();
  });

  it('removes a topic directory left without topic.json by an interrupted create', () => {
    const dir = tempDir();
    let store = TopicStore.open({ dataDir: dir, logger: silentLogger });
    store.createTopic('t', 1);
    store.close();
    rmSync(join(dir, 'topics', 't', 'topic.json'));
    store = TopicStore.open({ dataDir: dir, logger: silentLogger });
    expect(store.topicNames()).toEqual([]);
    expect(store.createTopic('t', 1)).toBe(KafkaErrorCode.NONE);
    store.close();
  });
});
