import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uniqueName } from '../helpers/unique.js';
import { consumeBatches, startEmbeddedKafka, type EmbeddedKafka } from './embedded-broker.js';

let env: EmbeddedKafka;
beforeAll(async () => {
  env = await startEmbeddedKafka();
});
afterAll(async () => {
  await env?.close();
});

describe('pyramid Kafka clients against the embedded broker', () => {
  it('creates missing topics once and reports partition counts', async () => {
    const admin = env.kafka.createAdmin();
    await admin.connect();
    try {
      const topic = uniqueName('tx');
      expect(await admin.ensureTopics([{ topic, numPartitions: 3 }])).toEqual([topic]);
      expect(await admin.ensureTopics([{ topic, numPartitions: 3 }])).toEqual([]);
      expect(await admin.partitionCount(topic)).toBe(3);
      expect(await admin.partitionCount(uniqueName('absent'))).toBeNull();
    } finally {
      await admin.disconnect();
    }
  });

  it('merges concurrent sends into shared requests: every caller resolves, each caller\'s records stay in order', async () => {
    const topic = uniqueName('merge');
    const admin = env.kafka.createAdmin();
    const producer = env.kafka.createProducer();
    await admin.connect();
    try {
      await admin.ensureTopics([{ topic, numPartitions: 2 }]);
      // 20 callers, 3 sends each, all started before any is acknowledged.
      const callers = Array.from({ length: 20 }, (_, c) => c);
      await Promise.all(
        callers.map(async (c) => {
          for (let k = 0; k < 3; k++) await producer.send(topic, [{ key: `caller-${c}`, value: `${c}:${k}:a` }, { key: `caller-${c}`, value: `${c}:${k}:b` }]);
        }),
      );
      const high = await admin.topicOffsets(topic);
      expect(high.reduce((sum, o) => sum + Number(o.high), 0)).toBe(120);
      const { batches } = await consumeBatches(env.kafka, topic, 120);
      const consumed = batches.flatMap((b) => b.records);
      for (const c of callers) {
        const mine = consumed.filter((r) => r.key?.toString() === `caller-${c}`).map((r) => r.value?.toString());
        expect(mine).toEqual([0, 1, 2].flatMap((k) => [`${c}:${k}:a`, `${c}:${k}:b`]));
      }
    } finally {
      await producer.disconnect();
      await admin.disconnect();
    }
  });

  it('produces keyed records idempotently and consumes them as partition batches, committing lastOffset + 1', async () => {
    const topic = uniqueName('tx');
    const admin = env.kafka.createAdmin();
    const producer = env.kafka.createProducer();
    await admin.connect();
    try {
      await admin.ensureTopics([{ topic, numPartitions: 3 }]);
      const records = Array.from({ length: 30 }, (_, i) => ({ key: `customer-${i % 6}`, value: Buffer.from(`v${i}`), headers: { n: String(i) } }));
      await producer.send(topic, records);

      const { batches, assigned, groupId, committed } = await consumeBatches(env.kafka, topic, 30);
      expect(assigned.map((tp) => tp.partition).sort()).toEqual([0, 1, 2]);
      const consumed = batches.flatMap((b) => b.records);
      expect(consumed).toHaveLength(30);
      expect(committed.every(Boolean)).toBe(true);
      // Same key, same partition; per-key order kept.
      for (let c = 0; c < 6; c++) {
        const mine = consumed.filter((r) => r.key?.toString() === `customer-${c}`);
        expect(new Set(mine.map((r) => r.partition)).size).toBe(1);
        expect(mine.map((r) => r.value?.toString())).toEqual(records.filter((r) => r.key === `customer-${c}`).map((r) => r.value.toString()));
      }
      const first = consumed.find((r) => r.value?.toString() === 'v7');
      expect(first?.headers.n?.toString()).toBe('7');
      expect(first?.topic).toBe(topic);
      expect(first?.timestamp).toBeGreaterThan(0);

      const offsets = await admin.committedOffsets(groupId, topic);
      const high = await admin.topicOffsets(topic);
      for (const { partition, offset } of offsets) {
        expect(offset).toBe(high.find((h) => h.partition === partition)?.high);
      }
    } finally {
      await producer.disconnect();
      await admin.disconnect();
    }
  });
});
