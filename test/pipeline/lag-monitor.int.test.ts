import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Instrumentation } from '../../src/instrumentation.js';
import { silentLogger } from '../../src/logger.js';
import { startLagMonitor } from '../../src/pipeline/lag-monitor.js';
import { createMetrics } from '../../src/ops/metrics.js';
import { createLagSource } from '../../src/pipeline/lag-source.js';
import { groupLagFromBroker } from '../helpers/group-offsets.js';
import { uniqueName } from '../helpers/unique.js';
import { consumeBatches, startEmbeddedKafka, type EmbeddedKafka } from '../kafka/embedded-broker.js';
import { parseExposition, sampleValue } from '../ops/live-support.js';

let env: EmbeddedKafka;
beforeAll(async () => {
  env = await startEmbeddedKafka();
});
afterAll(async () => {
  await env?.close();
});

/**
 * Lag must not depend on Redis answering: a lag read from the Redis watermark reads 0 on every
 * partition while Redis stalls with 10k new records and Kafka reads 11,006. Here there is no Redis
 * at all: the applied position is the scorer's in-memory one, and it does not advance.
 */
describe('lag monitor against the broker, with the scorer stuck', () => {
  it("grows as records are produced while nothing is applied, and reports the group's committed lag exactly as the broker does", async () => {
    const topic = uniqueName('lag-tx');
    const admin = env.kafka.createAdmin();
    const producer = env.kafka.createProducer();
    await admin.connect();
    await admin.ensureTopics([{ topic, numPartitions: 2 }]);
    const produce = (perPartition: number) =>
      producer.send(
        topic,
        [0, 1].flatMap((partition) => Array.from({ length: perPartition }, (_, i) => ({ partition, key: `k${i}`, value: 'v' }))),
      );
    await produce(10);
    // A group that read everything and committed after each batch, then went idle.
    const { groupId } = await consumeBatches(env.kafka, topic, 20);

    // The scorer took over at offset 4 of each partition and is stuck there (Redis or the apply hangs).
    const applied = new Map([
      [0, '4'],
      [1, '4'],
    ]);
    const bus = new Instrumentation();
    const metrics = createMetrics(bus, { collectDefaults: false });
    const monitor = startLagMonitor({
      instrumentation: bus,
      logger: silentLogger,
      intervalMs: 600_000,
      source: createLagSource({
        admin,
        groupId,
        owned: () => [0, 1].map((partition) => ({ topic, partition })),
        nextOffsetToApply: (_topic, partition) => applied.get(partition),
        recordTimestamp: () => null,
      }),
    });
    const gauges = async () => {
      await monitor.refresh();
      const samples = parseExposition(await metrics.registry.metrics());
      return [0, 1].map((p) => ({
        applied: sampleValue(samples, `pyramid_consumer_lag_messages{topic="${topic}",partition="${p}"}`),
        committed: sampleValue(samples, `pyramid_consumer_committed_lag_messages{topic="${topic}",partition="${p}"}`),
      }));
    };
    try {
      expect(await gauges()).toEqual([
        { applied: 6, committed: 0 },
        { applied: 6, committed: 0 },
      ]);
      await produce(25);
      expect(await gauges()).toEqual([
        { applied: 31, committed: 25 },
        { applied: 31, committed: 25 },
      ]);
      await produce(5);
      const last = await gauges();
      expect(last.map((g) => g.applied)).toEqual([36, 36]);

      // Kafka's view, read from the broker by a plain kafkajs admin: log end − committed.
      const broker = await groupLagFromBroker([env.broker.address], groupId, topic);
      expect([...broker.values()].map((p) => [p.committed, p.lag])).toEqual([
        [10n, 30n],
        [10n, 30n],
      ]);
      expect(last.map((g) => BigInt(g.committed))).toEqual([0, 1].map((p) => broker.get(p)?.lag));
    } finally {
      await monitor.stop();
      metrics.close();
      await producer.disconnect();
      await admin.disconnect();
    }
  }, 60_000);
});
