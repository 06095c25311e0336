import kafkajs from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBroker, type BrokerHandle } from '../../src/broker/index.js';
import { uniqueName } from '../helpers/unique.js';
import { kafkaClient } from './kafkajs-helpers.js';
import { kcat } from '../helpers/kcat.js';

const { CompressionTypes } = kafkajs;

let broker: BrokerHandle;
beforeAll(async () => {
  broker = await startBroker({ port: 0, defaultPartitions: 2 });
});
afterAll(async () => {
  await broker.close();
});

describe('kafkajs admin', () => {
  it('creates a 6-partition topic, lists it, reports offsets and deletes it', async () => {
    const admin = kafkaClient(broker.address).admin();
    await admin.connect();
    try {
      const topic = uniqueName('admin');
      expect(await admin.createTopics({ topics: [{ topic, numPartitions: 6 }] })).toBe(true);
      // Creating it again is not an error for kafkajs (TOPIC_ALREADY_EXISTS -> false).
      expect(await admin.createTopics({ topics: [{ topic, numPartitions: 6 }] })).toBe(false);
      expect(await admin.listTopics()).toContain(topic);
      const meta = await admin.fetchTopicMetadata({ topics: [topic] });
      expect(meta.topics[0]?.partitions.map((p) => p.partitionId).sort()).toEqual([0, 1, 2, 3, 4, 5]);
      const offsets = await admin.fetchTopicOffsets(topic);
      expect(offsets).toHaveLength(6);
      expect(offsets.every((o) => o.low === '0' && o.high === '0')).toBe(true);
      await admin.deleteTopics({ topics: [topic] });
      expect(await admin.listTopics()).not.toContain(topic);
    } finally {
      await admin.disconnect();
    }
  });

  it('refuses a replication factor the single broker cannot satisfy', async () => {
    const admin = kafkaClient(broker.address).admin();
    await admin.connect();
    try {
      await expect(admin.createTopics({ topics: [{ topic: uniqueName('rf'), numPartitions: 1, replicationFactor: 3 }] })).rejects.toThrow();
    } finally {
      await admin.disconnect();
    }
  });
});

describe('kafkajs producers', () => {
  it('idempotent producer: offsets per partition are dense and every message is there once', async () => {
    const topic = uniqueName('idem');
    const kafka = kafkaClient(broker.address);
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: 3 }] });
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    try {
      for (let i = 0; i < 10; i++) {
        await producer.send({ topic, acks: -1, messages: Array.from({ length: 10 }, (_, j) => ({ key: `k${j}`, value: `m${i}-${j}` })) });
      }
      const offsets = await admin.fetchTopicOffsets(topic);
      expect(offsets.reduce((sum, o) => sum + Number(o.high), 0)).toBe(100);
      const out = await kcat(['-b', broker.address, '-C', '-t', topic, '-o', 'beginning', '-e', '-q', '-f', '%s\n']);
      const values = out.stdout.trim().split('\n').sort();
      expect(values).toHaveLength(100);
      expect(new Set(values).size).toBe(100);
    } finally {
      await producer.disconnect();
      await admin.disconnect();
    }
  });

  it('gzip producer: batches are stored compressed and read back by kcat', async () => {
    const topic = uniqueName('gzip');
    const producer = kafkaClient(broker.address).producer({ allowAutoTopicCreation: true });
    await producer.connect();
    try {
      for (let i = 0; i < 3; i++) {
        await producer.send({ topic, compression: CompressionTypes.GZIP, messages: Array.from({ length: 10 }, (_, j) => ({ key: `k${j}`, value: `gz${i}-${j}` })) });
      }
    } finally {
      await producer.disconnect();
    }
    const out = await kcat(['-b', broker.address, '-C', '-t', topic, '-o', 'beginning', '-e', '-q', '-f', '%k=%s\n']);
    const lines = out.stdout.trim().split('\n');
    expect(lines).toHaveLength(30);
    expect(lines).toContain('k3=gz2-3');
  });

  it('finds offsets by timestamp (ListOffsets with a time)', async () => {
    const topic = uniqueName('bytime');
    const kafka = kafkaClient(broker.address);
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: 1 }] });
    const producer = kafka.producer();
    await producer.connect();
    try {
      const base = Date.now() - 60_000;
      await producer.send({ topic, messages: [0, 1, 2, 3].map((i) => ({ value: `t${i}`, timestamp: String(base + i * 1000) })) });
      expect(await admin.fetchTopicOffsetsByTimestamp(topic, base + 1500)).toEqual([{ partition: 0, offset: '2' }]);
      expect(await admin.fetchTopicOffsetsByTimestamp(topic, base)).toEqual([{ partition: 0, offset: '0' }]);
      // Later than every record: Kafka answers -1, which kafkajs turns into the latest offset.
      expect(await admin.fetchTopicOffsetsByTimestamp(topic, base + 10_000)).toEqual([{ partition: 0, offset: '4' }]);
    } finally {
      await producer.disconnect();
      await admin.disconnect();
    }
  });
});
