import { resolve } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, inject } from 'vitest';
import { configSchema, type PyramidConfig, type PyramidConfigInput } from '../../src/config/schema.js';
import { startDevStack, type DevStackHandle } from '@pyramid/devstack';
import { createKafkaClient, type PyramidKafka } from '../../src/kafka/client.js';
import type { KafkaRecord } from '../../src/kafka/types.js';
import type { Scorer } from '../../src/pipeline/scorer.js';
import { uniqueName } from '../helpers/unique.js';

/** The shipped customer-pyramid policy. */
export const DEFAULT_POLICY = resolve(import.meta.dirname, '../../policies/default.yaml');

/** Unique topic, group and key-prefix names for one test. */
export function uniqueNames(base: string): { transactions: string; tierChanges: string; signals: string; dlq: string; groupId: string; keyPrefix: string } {
  const id = uniqueName(base);
  return { transactions: `${id}-tx`, tierChanges: `${id}-tiers`, signals: `${id}-signals`, dlq: `${id}-dlq`, groupId: `${id}-group`, keyPrefix: id };
}

export interface TestConfigOptions {
  brokers: string[];
  registryUrl?: string;
  redisUrl: string;
  names: ReturnType<typeof uniqueNames>;
  overrides?: Partial<PyramidConfigInput>;
}

/** A validated scorer configuration against the embedded stack, with fast group timeouts. */
export function testConfig(options: TestConfigOptions): PyramidConfig {
  const { names } = options;
  return configSchema.parse({
    kafka: { brokers: options.brokers, clientId: 'pyramid-test' },
    redis: { url: options.redisUrl },
    registry: options.registryUrl === undefined ? {} : { url: options.registryUrl },
    topics: { transactions: names.transactions, tierChanges: names.tierChanges, signals: names.signals, dlq: names.dlq },
    groupId: names.groupId,
    keyPrefix: names.keyPrefix,
    policyFile: DEFAULT_POLICY,
    inputFormat: 'json',
    consumer: { sessionTimeout: 6_000, heartbeatInterval: 500, concurrency: 2 },
    logLevel: 'silent',
    ...options.overrides,
  });
}

/** Creates topics with `partitions` partitions. */
export async function createTopics(brokers: string[], topics: string[], partitions: number): Promise<void> {
  const admin = createKafkaClient({ brokers, clientId: 'pyramid-test', tls: { enabled: false, rejectUnauthorized: true } }).createAdmin();
  await admin.connect();
  try {
    await admin.ensureTopics(topics.map((topic) => ({ topic, numPartitions: partitions })));
  } finally {
    await admin.disconnect();
  }
}

/** A kafka client for test producers and readers. */
export function testKafka(brokers: string[]): PyramidKafka {
  return createKafkaClient({ brokers, clientId: 'pyramid-test', tls: { enabled: false, rejectUnauthorized: true } });
}

/**
 * Reads a topic from the beginning until `done(records)` holds (or `timeoutMs` passes, then
 * returns what it has; the caller's assertions fail with a useful diff). `isolation` defaults to
 * the consumer's, `read_committed`.
 */
export async function readTopic(
  brokers: string[],
  topic: string,
  done: (records: KafkaRecord[]) => boolean,
  timeoutMs = 60_000,
  isolation: 'read_committed' | 'read_uncommitted' = 'read_committed',
): Promise<KafkaRecord[]> {
  const consumer = testKafka(brokers).createConsumer({ groupId: uniqueName('reader'), isolation, maxWaitTimeMs: 100, sessionTimeoutMs: 6_000, heartbeatIntervalMs: 500 });
  const records: KafkaRecord[] = [];
  await consumer.connect();
  await consumer.subscribe([topic], { fromBeginning: true });
  await consumer.run(async (batch) => {
    records.push(...batch.records);
  });
  const deadline = Date.now() + timeoutMs;
  while (!done(records) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  await consumer.disconnect();
  return records;
}

/** Waits until `check()` is true, polling; false on timeout. */
export async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs = 60_000, everyMs = 100): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** The embedded stack, a Redis client and the scorers one e2e test file starts. */
export interface E2eStack {
  /** The running dev stack; available from the first test on. */
  readonly stack: DevStackHandle;
  /** A client of the suite's private Redis, for reading state. */
  readonly redis: Redis;
  /** Registers a scorer so it is stopped after the test that started it. */
  track(scorer: Scorer): Scorer;
}

/**
 * Starts the embedded broker + registry for the file and registers its own cleanup: every tracked
 * scorer stops after its test, the stack and the Redis client after the file.
 */
export function useE2eStack(): E2eStack {
  let stack: DevStackHandle | undefined;
  const scorers: Scorer[] = [];
  const redis = new Redis(inject('redisUrl'));
  beforeAll(async () => {
    stack = await startDevStack({ brokerPort: 0, registryPort: 0 });
  });
  afterEach(async () => {
    await Promise.all(scorers.splice(0).map((scorer) => scorer.stop()));
  });
  afterAll(async () => {
    await stack?.close();
    redis.disconnect();
  });
  return {
    get stack(): DevStackHandle {
      if (stack === undefined) throw new Error('the e2e stack starts in beforeAll; use it inside a test');
      return stack;
    },
    redis,
    track(scorer: Scorer): Scorer {
      scorers.push(scorer);
      return scorer;
    },
  };
}
