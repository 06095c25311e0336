import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startDevStack, type DevStackHandle } from '../../src/devstack/index.js';
import { createSchemaRegistryClient } from '../../src/kafka/schema-registry.js';
import { createScorer, type Scorer } from '../../src/pipeline/scorer.js';
import { runSimulator } from '../../src/simulator/run.js';
import { createTopics, testConfig, testKafka, uniqueNames, waitFor } from './support.js';

describe('schema evolution', () => {
  let stack: DevStackHandle;
  let scorer: Scorer | undefined;
  const redis = new Redis(inject('redisUrl'));

  beforeAll(async () => {
    stack = await startDevStack({ brokerPort: 0, registryPort: 0 });
  });
  afterAll(async () => {
    await scorer?.stop();
    await stack.close();
    redis.disconnect();
  });

  it('Transaction v1 and v2 records alternating in one partition are all scored', async () => {
    const names = uniqueNames('evolution');
    await createTopics(stack.brokers, [names.transactions], 1);
    const producer = testKafka(stack.brokers).createProducer();
    const registry = createSchemaRegistryClient({ url: stack.registryUrl });
    const count = 1_000;
    await runSimulator({
      producer,
      registry,
      topic: names.transactions,
      format: 'avro',
      schemaVersion: 'mixed',
      seed: 11,
      customers: 50,
      count,
      startTime: Date.now() - 30 * 86_400_000,
      spacingMs: 60_000,
      duplicateRatio: 0,
      lateRatio: 0,
    });
    await producer.disconnect();

    const config = testConfig({ brokers: stack.brokers, registryUrl: stack.registryUrl, redisUrl: inject('redisUrl'), names, overrides: { inputFormat: 'avro', clock: 'event' } });
    let dlq = 0;
    scorer = createScorer(config);
    scorer.instrumentation.on('consumer.dlq', () => {
      dlq += 1;
    });
    await scorer.start();
    const meta = scorer.store.keys(names.transactions, 0).meta;
    expect(await waitFor(async () => Number(await redis.hget(meta, 'applied')) === count, 30_000)).toBe(true);
    expect(dlq).toBe(0);
    expect(Number(await redis.hget(meta, 'wo'))).toBe(count - 1);
  });
});
