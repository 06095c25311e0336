import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Kafka } from 'kafkajs';
import { afterEach, describe, expect, it } from 'vitest';
import { groupCoordinatorPlugin } from '../../src/broker/group/plugin.js';
import { offsetsTopicPartition, OFFSETS_TOPIC } from '../../src/broker/group/offsets-topic.js';
import { startBroker, type BrokerHandle } from '../../src/broker/index.js';
import { ApiKey } from '../../src/broker/protocol/api-keys.js';
import { KafkaErrorCode } from '../../src/broker/protocol/errors.js';
import { Writer } from '../../src/broker/protocol/writer.js';
import { uniqueName } from '../helpers/unique.js';
import { call } from './group-wire.js';
import { kafkaClient } from './kafkajs-helpers.js';
import { RawConnection } from './raw-client.js';

const cleanups: Array<() => Promise<unknown> | unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function broker(options: { dataDir?: string; offsetsTopicPartitions?: number } = {}): Promise<BrokerHandle> {
  const b = await startBroker({ port: 0, dataDir: options.dataDir ?? null, plugins: [groupCoordinatorPlugin({ offsetsTopicPartitions: options.offsetsTopicPartitions ?? 5 })] });
  cleanups.push(() => b.close());
  return b;
}

/** A "simple" OffsetCommit v2 (generation -1, no member), the way admin tools commit. */
async function commit(b: BrokerHandle, groupId: string, topic: string, offsets: [partition: number, offset: number][]): Promise<void> {
  const conn = await RawConnection.open(b.port);
  try {
    const body = new Writer().writeString(groupId).writeInt32(-1).writeString('').writeInt64(-1n);
    body.writeArray([topic], (w, t) => w.writeString(t).writeArray(offsets, (pw, [p, o]) => pw.writeInt32(p).writeInt64(o).writeString('m')));
    const r = await call(conn, ApiKey.OffsetCommit, 2, body);
    const errors = r.readArray((tr) => (tr.readString(), tr.readArray((pr) => (pr.readInt32(), pr.readInt16()))));
    expect(errors.flat()).toEqual(offsets.map(() => KafkaErrorCode.NONE));
  } finally {
    conn.socket.destroy();
  }
}

interface OffsetRecord {
  partition: number;
  group: string;
  topic: string;
  topicPartition: number;
  /** null for a tombstone. */
  value: { offset: bigint; leaderEpoch: number; metadata: string; commitTimestamp: bigint } | null;
  timestamp: number;
}

/** Decodes an offset-commit key/value straight from the bytes (Kafka's OffsetCommitKey v1 / Value v3). */
function decode(partition: number, key: Buffer, value: Buffer | null, timestamp: string): OffsetRecord {
  const str = (buf: Buffer, pos: number): [string, number] => {
    const len = buf.readInt16BE(pos);
    return [buf.toString('utf8', pos + 2, pos + 2 + len), pos + 2 + len];
  };
  expect(key.readInt16BE(0)).toBe(1);
  const [group, p1] = str(key, 2);
  const [topic, p2] = str(key, p1);
  let decoded: OffsetRecord['value'] = null;
  if (value !== null) {
    expect(value.readInt16BE(0)).toBe(3);
    const [metadata, p3] = str(value, 14);
    decoded = { offset: value.readBigInt64BE(2), leaderEpoch: value.readInt32BE(10), metadata, commitTimestamp: value.readBigInt64BE(p3) };
  }
  return { partition, group, topic, topicPartition: key.readInt32BE(p2), value: decoded, timestamp: Number(timestamp) };
}

/** Reads `__consumer_offsets` from the beginning until `expected` records of `groupId` arrived. */
async function offsetRecords(kafka: Kafka, groupId: string, expected: number): Promise<OffsetRecord[]> {
  const consumer = kafka.consumer({ groupId: uniqueName('offsets-reader'), maxWaitTimeInMs: 100 });
  const got: OffsetRecord[] = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topic: OFFSETS_TOPIC, fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`only ${got.length} of ${expected} offset records of ${groupId} arrived`)), 20_000);
      void consumer.run({
        eachMessage: async ({ partition, message }) => {
          if (message.key === null) return;
          const record = decode(partition, message.key, message.value, message.timestamp);
          if (record.group !== groupId) return;
          got.push(record);
          if (got.length >= expected) {
            clearTimeout(timer);
            resolve();
          }
        },
      });
    });
  } finally {
    await consumer.disconnect();
  }
  return got;
}

describe('__consumer_offsets (offset commits as Kafka records them, for readers such as Burrow)', () => {
  it("an OffsetCommit appears in the group's partition in Kafka's format, stamped with the commit time", async () => {
    const b = await broker({ offsetsTopicPartitions: 5 });
    const kafka = kafkaClient(b.address);
    const admin = kafka.admin();
    await admin.connect();
    cleanups.push(() => admin.disconnect());
    const [topic, groupId] = [uniqueName('ot-t'), uniqueName('ot-g')];
    await admin.createTopics({ topics: [{ topic, numPartitions: 2 }] });
    const [meta] = (await admin.fetchTopicMetadata({ topics: [OFFSETS_TOPIC] })).topics;
    expect(meta?.partitions).toHaveLength(5);

    const before = Date.now();
    await commit(b, groupId, topic, [[0, 3], [1, 7]]);
    const after = Date.now();
    const records = await offsetRecords(kafka, groupId, 2);
    const partition = offsetsTopicPartition(groupId, 5);
    expect(records.map((r) => [r.partition, r.topic, r.topicPartition, r.value?.offset, r.value?.leaderEpoch, r.value?.metadata])).toEqual([
      [partition, topic, 0, 3n, -1, 'm'],
      [partition, topic, 1, 7n, -1, 'm'],
    ]);
    for (const r of records) {
      expect(Number(r.value?.commitTimestamp)).toBeGreaterThanOrEqual(before);
      expect(Number(r.value?.commitTimestamp)).toBeLessThanOrEqual(after);
      expect(r.timestamp).toBe(Number(r.value?.commitTimestamp));
    }
  });

  it('deleting a topic writes a tombstone for each of its committed offsets', async () => {
    const b = await broker();
    const kafka = kafkaClient(b.address);
    const admin = kafka.admin();
    await admin.connect();
    cleanups.push(() => admin.disconnect());
    const [topic, groupId] = [uniqueName('ot-del-t'), uniqueName('ot-del-g')];
    await admin.createTopics({ topics: [{ topic, numPartitions: 2 }] });
    await commit(b, groupId, topic, [[0, 1], [1, 2]]);
    await admin.deleteTopics({ topics: [topic] });
    const records = await offsetRecords(kafka, groupId, 4);
    expect(records.map((r) => [r.topicPartition, r.value === null ? null : r.value.offset])).toEqual([
      [0, 1n],
      [1, 2n],
      [0, null],
      [1, null],
    ]);
  });

  it('clients cannot produce to it (INVALID_TOPIC_EXCEPTION, as Kafka refuses writes to internal topics)', async () => {
    const b = await broker();
    const producer = kafkaClient(b.address).producer({ retry: { retries: 0 } });
    await producer.connect();
    cleanups.push(() => producer.disconnect());
    await expect(producer.send({ topic: OFFSETS_TOPIC, messages: [{ key: 'k', value: 'v' }] })).rejects.toMatchObject({ type: 'INVALID_TOPIC_EXCEPTION' });
  });

  it('survives a restart as an internal topic with its partition count and its records', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'broker-offsets-topic-'));
    cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
    const [topic, groupId] = [uniqueName('ot-rs-t'), uniqueName('ot-rs-g')];
    const first = await startBroker({ port: 0, dataDir, plugins: [groupCoordinatorPlugin({ offsetsTopicPartitions: 3 })] });
    const admin = kafkaClient(first.address).admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: 1 }] });
    await admin.disconnect();
    await commit(first, groupId, topic, [[0, 9]]);
    await first.close();
    expect(JSON.parse(readFileSync(join(dataDir, 'topics', OFFSETS_TOPIC, 'topic.json'), 'utf8'))).toEqual({ name: OFFSETS_TOPIC, partitions: 3, internal: true });

    // A different option does not re-partition an existing offsets topic: its records stay findable.
    const second = await broker({ dataDir, offsetsTopicPartitions: 7 });
    const kafka = kafkaClient(second.address);
    await commit(second, groupId, topic, [[0, 10]]);
    const records = await offsetRecords(kafka, groupId, 2);
    expect(records.map((r) => [r.partition, r.value?.offset])).toEqual([
      [offsetsTopicPartition(groupId, 3), 9n],
      [offsetsTopicPartition(groupId, 3), 10n],
    ]);
  });
});
