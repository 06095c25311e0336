import kafkajs from 'kafkajs';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startDevStack, type DevStackHandle } from '@pyramid/devstack';
import { createScorer } from '../../src/pipeline/scorer.js';
import { runSimulator } from '../../src/simulator/run.js';
import { StateStore } from '../../src/state/store.js';
import { cliEnv, runCli } from '../cli/spawn-cli.js';
import { appliedPosition } from './replay-equivalence.js';
import { createTopics, testConfig, testKafka, uniqueNames, waitFor } from './support.js';

const PARTITIONS = 4;
const DAY = 86_400_000;

/**
 * The reported cases: the input topic deleted and created again (with another partition count,
 * and with the same one) under state built from its first incarnation. `pyramid run` must refuse
 * to start, naming the reason, instead of starting ready and skipping or mixing records.
 */
describe('input topic re-created under existing state', () => {
  let stack: DevStackHandle;
  const redis = new Redis(inject('redisUrl'));
  const names = uniqueNames('recreated');

  async function produce(count: number, seed: number, startTime: number): Promise<void> {
    const producer = testKafka(stack.brokers).createProducer();
    await runSimulator({ producer, topic: names.transactions, format: 'json', seed, customers: 300, count, startTime, spacingMs: (100 * DAY) / count, batchSize: 500 });
    await producer.disconnect();
  }

  async function recreate(partitions: number): Promise<void> {
    const admin = new kafkajs.Kafka({ brokers: stack.brokers, logLevel: kafkajs.logLevel.NOTHING }).admin();
    await admin.connect();
    try {
      await admin.deleteTopics({ topics: [names.transactions] });
    } finally {
      await admin.disconnect();
    }
    await createTopics(stack.brokers, [names.transactions], partitions);
  }

  const env = (): Record<string, string> =>
    cliEnv({ brokers: stack.brokers, redisUrl: inject('redisUrl'), names, extra: { PYRAMID_CLOCK: 'event' } });

  beforeAll(async () => {
    stack = await startDevStack({ brokerPort: 0, registryPort: 0 });
    await createTopics(stack.brokers, [names.transactions], PARTITIONS);
    await produce(2_000, 7, Date.now() - 200 * DAY);
    const scorer = createScorer(testConfig({ brokers: stack.brokers, redisUrl: inject('redisUrl'), names, overrides: { clock: 'event' } }));
    await scorer.start();
    const store = new StateStore({ redis, prefix: names.keyPrefix, partitionCount: PARTITIONS });
    expect(await waitFor(async () => (await appliedPosition(redis, store, names.transactions, PARTITIONS)) === 2_000, 60_000, 100)).toBe(true);
    await scorer.stop();
    for (let p = 0; p < PARTITIONS; p++) expect((await store.readMeta(names.transactions, p))?.topicIncarnation).toMatch(/^0@\d+$/);
  }, 120_000);

  afterAll(async () => {
    await stack.close();
    redis.disconnect();
  });

  it('re-created with 6 partitions instead of 4: start-up refuses, naming the partition count', async () => {
    await recreate(6);
    await produce(500, 8, Date.now() - 50 * DAY);
    const result = await runCli(['run'], env());
    expect(result.code, result.stderr).toBe(1);
    expect(result.stderr).toContain(`of ${names.transactions}: the stored state has partition count 4, this scorer has 6`);
  }, 60_000);

  it('re-created with the same 4 partitions and more records than before: start-up refuses, naming what changed', async () => {
    await recreate(PARTITIONS);
    await produce(3_000, 9, Date.now() - 50 * DAY);
    const result = await runCli(['run'], env());
    expect(result.code, result.stderr).toBe(1);
    expect(result.stderr).toMatch(new RegExp(`partition \\d of ${names.transactions} is not the topic the stored state was built from: its first record \\(offset 0\\) has timestamp \\d+, the state was built from one with timestamp \\d+`));
    expect(result.stderr).toContain('pyramid replay --prefix');
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
  }, 60_000);

  it('re-created with the same 4 partitions and fewer records than were applied: start-up refuses', async () => {
    await recreate(PARTITIONS);
    await produce(40, 10, Date.now() - 50 * DAY);
    const result = await runCli(['run'], env());
    expect(result.code, result.stderr).toBe(1);
    expect(result.stderr).toMatch(new RegExp(`partition \\d of ${names.transactions} is not the topic the stored state was built from`));
  }, 60_000);
});
