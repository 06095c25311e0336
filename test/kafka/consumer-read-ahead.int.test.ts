import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PyramidError } from '../../src/errors.js';
import type { PartitionBatchHandler, PyramidConsumer } from '../../src/kafka/consumer.js';
import { waitFor } from '../e2e/support.js';
import { uniqueName } from '../helpers/unique.js';
import { startEmbeddedKafka, type EmbeddedKafka } from './embedded-broker.js';

let env: EmbeddedKafka;
beforeAll(async () => {
  env = await startEmbeddedKafka();
});
afterAll(async () => {
  await env?.close();
});

const MESSAGES = 600;
const PARTITIONS = 2;

/** A topic with MESSAGES keyed messages over PARTITIONS partitions, and a read-ahead consumer of it. */
async function setup(): Promise<{ consumer: PyramidConsumer; sentPerPartition: Map<number, number>; close(): Promise<void> }> {
  const topic = uniqueName('ahead');
  const admin = env.kafka.createAdmin();
  const producer = env.kafka.createProducer();
  await admin.connect();
  await admin.ensureTopics([{ topic, numPartitions: PARTITIONS }]);
  for (let i = 0; i < MESSAGES; i += 100) {
    await producer.send(topic, Array.from({ length: 100 }, (_, k) => ({ key: `c-${(i + k) % 7}`, value: `v-${i + k}`, partition: (i + k) % PARTITIONS })));
  }
  const sentPerPartition = new Map((await admin.topicOffsets(topic)).map((o) => [o.partition, Number(o.high)] as const));
  // Small fetches, so each partition comes in many batches.
  const consumer = env.kafka.createConsumer({ groupId: uniqueName('group'), maxBytesPerPartition: 2_048, partitionsConsumedConcurrently: 2, readAhead: true });
  await consumer.connect();
  await consumer.subscribe([topic], { fromBeginning: true });
  return {
    consumer,
    sentPerPartition,
    async close() {
      await consumer.disconnect();
      await producer.disconnect();
      await admin.disconnect();
    },
  };
}

/** Records every handled offset per partition, and whether two batches of one partition overlapped. */
function recorder(inner: (offsets: number[], partition: number) => Promise<void> = () => new Promise((r) => setTimeout(r, 5))) {
  const seen = new Map<number, number[]>();
  const active = new Set<number>();
  let overlapped = false;
  const handler: PartitionBatchHandler = async (batch) => {
    if (active.has(batch.partition)) overlapped = true;
    active.add(batch.partition);
    try {
      const offsets = batch.records.map((r) => Number(r.offset));
      await inner(offsets, batch.partition);
      seen.set(batch.partition, [...(seen.get(batch.partition) ?? []), ...offsets]);
    } finally {
      active.delete(batch.partition);
    }
  };
  return { handler, seen, overlapped: () => overlapped };
}

describe('read-ahead consumer', () => {
  it('hands over every record once, in order, one batch at a time per partition', async () => {
    const { consumer, sentPerPartition, close } = await setup();
    try {
      const r = recorder();
      await consumer.run(r.handler);
      const complete = () => [...sentPerPartition].every(([p, n]) => (r.seen.get(p)?.length ?? 0) >= n);
      expect(await waitFor(complete, 30_000, 20)).toBe(true);
      await consumer.drain();
      for (const [p, n] of sentPerPartition) expect(r.seen.get(p)).toEqual(Array.from({ length: n }, (_, i) => i));
      expect(r.overlapped()).toBe(false);
    } finally {
      await close();
    }
  });

  it('starts a batch over after a retriable failure, so nothing is skipped', async () => {
    const { consumer, sentPerPartition, close } = await setup();
    try {
      let failed = false;
      const r = recorder(async (offsets) => {
        await new Promise((resolve) => setTimeout(resolve, 5));
        // The third batch seen fails once, after its successor has already been fetched.
        if (!failed && offsets[0] !== undefined && offsets[0] > 0) {
          failed = true;
          throw new PyramidError('REDIS_UNAVAILABLE', 'connection dropped', { retriable: true });
        }
      });
      await consumer.run(r.handler);
      const complete = () => [...sentPerPartition].every(([p, n]) => new Set(r.seen.get(p)).size >= n);
      expect(await waitFor(complete, 30_000, 20)).toBe(true);
      await consumer.drain();
      expect(failed).toBe(true);
      for (const [p, n] of sentPerPartition) {
        // Order kept after the restart point, and every offset handed over.
        const offsets = r.seen.get(p) ?? [];
        expect(new Set(offsets).size).toBe(n);
        expect([...offsets].sort((a, b) => a - b)).toEqual([...new Set(offsets)].sort((a, b) => a - b));
      }
    } finally {
      await close();
    }
  });

  it('reports a failure that is not retriable as a crash, not as a skipped batch', async () => {
    const { consumer, close } = await setup();
    try {
      const crashes: Array<{ error: PyramidError; restarting: boolean }> = [];
      consumer.onCrash((error, restarting) => crashes.push({ error, restarting }));
      await consumer.run(() => Promise.reject(new PyramidError('STATE_LAYOUT_MISMATCH', 'written by another policy version')));
      expect(await waitFor(() => crashes.length > 0, 30_000, 20)).toBe(true);
      expect(crashes[0]).toMatchObject({ restarting: false, error: { code: 'STATE_LAYOUT_MISMATCH' } });
    } finally {
      await close();
    }
  });
});
