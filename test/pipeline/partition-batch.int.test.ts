import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startDevStack, type DevStackHandle } from '../../src/devstack/index.js';
import { PyramidError } from '../../src/errors.js';
import { Instrumentation } from '../../src/instrumentation.js';
import type { BatchControl } from '../../src/kafka/consumer.js';
import type { PyramidProducer } from '../../src/kafka/producer.js';
import type { KafkaRecord, PartitionBatch, TopicPartition } from '../../src/kafka/types.js';
import { silentLogger } from '../../src/logger.js';
import { createDecoder } from '../../src/pipeline/decode.js';
import { createDlqPublisher } from '../../src/pipeline/dlq-publisher.js';
import { createOutboxRelay } from '../../src/pipeline/outbox-relay.js';
import { createBatchHandler } from '../../src/pipeline/partition-batch.js';
import { PartitionPositions } from '../../src/pipeline/partition-positions.js';
import { createJsonTierChangeEncoder } from '../../src/pipeline/tier-change-encoder.js';
import { createTransactionValidator } from '../../src/pipeline/validate.js';
import { loadPolicyFile } from '../../src/policy/load.js';
import { StateStore } from '../../src/state/store.js';
import { createTopics, DEFAULT_POLICY, testKafka, uniqueNames } from '../e2e/support.js';

/** A batch as the consumer wrapper hands it over, with JSON purchases at `offsets`. */
function batchOf(topic: string, offsets: number[], fetchedOffset = offsets[0] ?? 0): PartitionBatch {
  const records: KafkaRecord[] = offsets.map((offset) => ({
    topic,
    partition: 0,
    offset: String(offset),
    key: Buffer.from('c-1'),
    value: Buffer.from(JSON.stringify({ transactionId: `t-${offset}`, customerId: 'c-1', kind: 'PURCHASE', amountMinor: 1_000, currency: 'CNY', eventTime: Date.now() - 1_000 })),
    headers: {},
    timestamp: Date.now(),
  }));
  return { topic, partition: 0, records, lastOffset: String(offsets[offsets.length - 1] ?? fetchedOffset), highWatermark: '100', fetchedOffset: String(fetchedOffset) };
}

/** The batch controls of a current batch; `staleAfter` turns it stale after that many checks. */
function control(staleAfter = Number.POSITIVE_INFINITY): BatchControl & { commits: number } {
  let checks = 0;
  const c = {
    commits: 0,
    isStale: () => ++checks > staleAfter,
    heartbeat: () => Promise.resolve(),
    keepAlive: <T>(work: Promise<T>) => work,
    commit: () => {
      c.commits += 1;
      return Promise.resolve(true);
    },
  };
  return c;
}

describe('partition batch handler', () => {
  let stack: DevStackHandle;
  let producer: PyramidProducer;
  const redis = new Redis(inject('redisUrl'));

  beforeAll(async () => {
    stack = await startDevStack({ brokerPort: 0, registryPort: 0 });
    producer = testKafka(stack.brokers).createProducer();
  });
  afterAll(async () => {
    await producer.disconnect();
    await stack.close();
    redis.disconnect();
  });

  /**
   * `applyChunk`: records per Lua call. `beforeApply(call)`: runs before the handler's n-th apply
   * call reaches Redis; throwing there fails that call without it running.
   */
  async function setup(options: { stopping?: boolean; applyChunk?: number; beforeApply?: (call: number, store: StateStore) => Promise<void> } = {}) {
    const names = uniqueNames('batch');
    await createTopics(stack.brokers, [names.tierChanges, names.dlq], 1);
    const instrumentation = new Instrumentation();
    const outcomes: string[] = [];
    instrumentation.on('consumer.records', (e) => outcomes.push(...Array<string>(e.count).fill(e.outcome)));
    const store = new StateStore({ redis, policy: await loadPolicyFile(DEFAULT_POLICY), clock: 'wall', prefix: names.keyPrefix });
    let applyCalls = 0;
    const handlerStore = Object.create(store) as StateStore;
    handlerStore.applyPartitionBatch = async (...args) => {
      await options.beforeApply?.(++applyCalls, store);
      return store.applyPartitionBatch(...args);
    };
    const positions = new PartitionPositions();
    const seeks: Array<{ tp: TopicPartition; offset: string }> = [];
    const handler = createBatchHandler({
      decoder: createDecoder({ format: 'json' }),
      validate: createTransactionValidator({ maxAmountMinor: 10 ** 13, maxFutureSkewMs: 300_000 }),
      currency: 'CNY',
      dlq: createDlqPublisher({ producer, topic: names.dlq, instrumentation }),
      store: handlerStore,
      relay: createOutboxRelay({ store, producer, topic: names.tierChanges, encoder: createJsonTierChangeEncoder(), instrumentation }),
      positions,
      seek: (tp, offset) => seeks.push({ tp, offset }),
      aborted: () => false,
      stopping: () => options.stopping ?? false,
      instrumentation,
      logger: silentLogger,
      commitIntervalMs: 0,
      retry: { initialMs: 1, maxMs: 5, factor: 2, jitter: 0 },
      ...(options.applyChunk === undefined ? {} : { applyChunk: options.applyChunk }),
    });
    const watermark = async (): Promise<number | null> => (await store.readWatermark(names.transactions, 0)).offset;
    return { names, handler, positions, seeks, outcomes, watermark, store };
  }

  it('refuses a batch fetched beyond the next offset to process: seeks back, applies nothing', async () => {
    const { names, handler, positions, seeks, outcomes, watermark } = await setup();
    positions.reset(names.transactions, 0, 5n);
    const c = control();
    await handler(batchOf(names.transactions, [8, 9, 10]), c);
    expect(seeks).toEqual([{ tp: { topic: names.transactions, partition: 0 }, offset: '5' }]);
    expect(await watermark()).toBeNull();
    expect(outcomes).toEqual([]);
    expect(c.commits).toBe(0);
    expect(positions.next(names.transactions, 0)).toBe(5n);
  });

  it('skips records below the position, applies the rest and moves past the batch', async () => {
    const { names, handler, positions, outcomes, watermark } = await setup();
    positions.reset(names.transactions, 0, 3n);
    const c = control();
    await handler(batchOf(names.transactions, [0, 1, 2, 3, 4, 5], 0), c);
    expect(await watermark()).toBe(5);
    expect(outcomes.filter((o) => o === 'stale')).toHaveLength(3);
    expect(outcomes.filter((o) => o === 'scored')).toHaveLength(3);
    expect(positions.next(names.transactions, 0)).toBe(6n);
    expect(c.commits).toBe(1);
  });

  it('a batch that goes stale before its apply has no further effects', async () => {
    const { names, handler, positions, watermark } = await setup();
    const c = control(0);
    await handler(batchOf(names.transactions, [0, 1, 2]), c);
    expect(await watermark()).toBeNull();
    expect(c.commits).toBe(0);
    expect(positions.next(names.transactions, 0)).toBeUndefined();
  });

  it('while stopping, a batch not yet started is handed back untouched', async () => {
    const { names, handler, seeks, watermark } = await setup({ stopping: true });
    await handler(batchOf(names.transactions, [4, 5], 4), control());
    expect(seeks).toEqual([{ tp: { topic: names.transactions, partition: 0 }, offset: '4' }]);
    expect(await watermark()).toBeNull();
  });

  it('sends chunks without waiting; after a failed one the rest apply in order, none skipped', async () => {
    // Call 2 (offsets 3-5) fails before reaching Redis; calls 3 and 4 were sent right behind it
    // and must refuse, since the watermark never reached offset 5 and 8.
    const retriable = new PyramidError('REDIS_UNAVAILABLE', 'connection dropped', { retriable: true });
    const { names, handler, positions, seeks, outcomes, watermark, store } = await setup({
      applyChunk: 3,
      beforeApply: (call) => (call === 2 ? Promise.reject(retriable) : Promise.resolve()),
    });
    const c = control();
    await handler(batchOf(names.transactions, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]), c);
    expect(await watermark()).toBe(9);
    expect(outcomes.filter((o) => o === 'scored')).toHaveLength(10);
    expect(outcomes.filter((o) => o !== 'scored')).toEqual([]);
    expect((await store.inspect(names.transactions, 'c-1', { partition: 0 }))?.frequency).toBe(10);
    expect(seeks).toEqual([]);
    expect(positions.next(names.transactions, 0)).toBe(10n);
    expect(c.commits).toBe(1);
  });

  it('seeks back to the Redis watermark when the state is behind what the batch applied', async () => {
    // Between chunk 1 and its successor, the partition's state disappears (a Redis without
    // persistence restarted): the successor must not apply on top of nothing.
    const { names, handler, positions, seeks, watermark } = await setup({
      applyChunk: 2,
      beforeApply: async (call, store) => {
        if (call !== 2) return;
        await redis.del(store.keys(names.transactions, 0).meta);
        throw new PyramidError('REDIS_UNAVAILABLE', 'connection dropped', { retriable: true });
      },
    });
    const c = control();
    await handler(batchOf(names.transactions, [0, 1, 2, 3]), c);
    expect(seeks).toEqual([{ tp: { topic: names.transactions, partition: 0 }, offset: '0' }]);
    expect(positions.next(names.transactions, 0)).toBe(0n);
    expect(await watermark()).toBeNull();
    expect(c.commits).toBe(0);
  });
});
