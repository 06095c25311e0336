import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startDevStack, type DevStackHandle } from '@pyramid/devstack';
import { PyramidError } from '../../src/errors.js';
import { Instrumentation } from '../../src/instrumentation.js';
import type { BatchControl } from '../../src/kafka/consumer.js';
import type { PyramidProducer } from '../../src/kafka/producer.js';
import type { KafkaRecord, PartitionBatch, TopicPartition } from '../../src/kafka/types.js';
import { silentLogger } from '../../src/logger.js';
import { createDecoder } from '../../src/pipeline/decode.js';
import { createDlqPublisher } from '../../src/pipeline/dlq-publisher.js';
import { createOutboxRelay } from '../../src/pipeline/outbox-relay.js';
import { createBatchHandler, MAX_UNPUBLISHED_CHANGES } from '../../src/pipeline/partition-batch.js';
import { PartitionPositions } from '../../src/pipeline/partition-positions.js';
import { FORMAT_VERSION } from '../../src/state/layout.js';
import { createJsonSignalEncoder } from '../../src/pipeline/signal-encoder.js';
import { createJsonTierChangeEncoder } from '../../src/pipeline/tier-change-encoder.js';
import { createTransactionValidator } from '../../src/pipeline/validate.js';
import { inspectCustomer } from '../../src/pipeline/inspect.js';
import type { OwnedPartition } from '../../src/pipeline/owned-partition.js';
import { Ownership } from '../../src/pipeline/ownership.js';
import { loadPolicyFile } from '../../src/policy/load.js';
import type { CompiledPolicy } from '../../src/policy/types.js';
import type { StateStore } from '../../src/state/store.js';
import { createTopics, DEFAULT_POLICY, readTopic, testKafka, uniqueNames, waitFor } from '../e2e/support.js';
import { ownedPartition } from './owned-partition-fixture.js';

/** A batch as the consumer wrapper hands it over, with JSON purchases at `offsets`. */
function batchOf(topic: string, offsets: number[], fetchedOffset = offsets[0] ?? 0, key: (offset: number) => Buffer | null = () => Buffer.from('c-1')): PartitionBatch {
  const records: KafkaRecord[] = offsets.map((offset) => ({
    topic,
    partition: 0,
    offset: String(offset),
    key: key(offset),
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
   * `applyChunk`: records per engine call and commit. `beforeCommit(call, store)`: runs before the
   * handler's n-th commit reaches Redis; throwing there fails that commit without it running.
   */
  async function setup(options: { stopping?: boolean; applyChunk?: number; commitIntervalMs?: number; beforeCommit?: (call: number, store: StateStore) => Promise<void>; beforePublish?: () => Promise<void>; logStartOffset?: number } = {}) {
    const names = uniqueNames('batch');
    // The input topic too: the relay records its progress against the input partition.
    await createTopics(stack.brokers, [names.transactions, names.tierChanges, names.dlq], 1);
    const instrumentation = new Instrumentation();
    const outcomes: string[] = [];
    instrumentation.on('consumer.records', (e) => outcomes.push(...Array<string>(e.count).fill(e.outcome)));
    const dlqReasons: string[] = [];
    instrumentation.on('consumer.dlq', (e) => dlqReasons.push(e.reason));
    const policy: CompiledPolicy = await loadPolicyFile(DEFAULT_POLICY);
    const { store, owned } = await ownedPartition({ redis, prefix: names.keyPrefix, policy, clock: 'wall', topic: names.transactions });
    let commits = 0;
    const commit = store.commit.bind(store);
    store.commit = async (...args) => {
      await options.beforeCommit?.(++commits, store);
      return commit(...args);
    };
    const ownership = new Ownership();
    ownership.startGeneration(1);
    ownership.adopt(owned);
    const positions = new PartitionPositions();
    const seeks: Array<{ tp: TopicPartition; offset: string }> = [];
    const paused: TopicPartition[] = [];
    const trailingCommits: Array<TopicPartition & { offset: string }> = [];
    const kafka = testKafka(stack.brokers);
    const stopped: Array<{ tp: TopicPartition; error: PyramidError }> = [];
    /** Relay transactions started (each publishes a chunk of the outbox). */
    const publishes = { count: 0 };
    const handler = createBatchHandler({
      decoder: createDecoder({ format: 'json' }),
      validate: createTransactionValidator({ maxAmountMinor: 10 ** 13, maxFutureSkewMs: 300_000 }),
      currency: 'CNY',
      dlq: createDlqPublisher({ producer, topic: names.dlq, instrumentation }),
      ownership,
      relay: createOutboxRelay({
        store,
        groupId: names.groupId,
        createProducer: (transactionalId) => {
          const real = kafka.createTransactionalProducer({ transactionalId });
          const publish = real.publish.bind(real);
          real.publish = async (batch) => {
            publishes.count += 1;
            await options.beforePublish?.();
            return publish(batch);
          };
          return real;
        },
        topic: names.tierChanges,
        encoder: createJsonTierChangeEncoder(),
        signals: { topic: names.signals, encoder: createJsonSignalEncoder() },
        instrumentation,
      }),
      positions,
      seek: (tp, offset) => seeks.push({ tp, offset }),
      pause: (tp) => paused.push(tp),
      commitOffsets: (offsets) => {
        trailingCommits.push(...offsets);
        return Promise.resolve(offsets);
      },
      // The embedded broker keeps every record (log start 0); a Kafka whose retention deleted the
      // first offsets answers a later log start.
      readLog: (tp) => Promise.resolve({ partition: tp.partition, logStartOffset: options.logStartOffset ?? 0, highWatermark: 100, first: null }),
      stopPartition: (tp, error) => stopped.push({ tp, error }),
      aborted: () => false,
      stopping: () => options.stopping ?? false,
      instrumentation,
      logger: silentLogger,
      commitIntervalMs: options.commitIntervalMs ?? 0,
      retry: { initialMs: 1, maxMs: 5, factor: 2, jitter: 0 },
      ...(options.applyChunk === undefined ? {} : { applyChunk: options.applyChunk }),
    });
    const watermark = async (): Promise<number | null> => (await store.readMeta(names.transactions, 0))?.lastOffset ?? null;
    const frequency = async (): Promise<number | undefined> =>
      (await inspectCustomer({ store, policy, clock: 'wall', topic: names.transactions, customerId: 'c-1', partition: 0 }))?.frequency;
    return { names, handler, positions, seeks, paused, trailingCommits, stopped, outcomes, dlqReasons, watermark, frequency, store, owned, policy, publishes };
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

  it('the last batch of a burst, which the commit throttle skipped, is committed by a trailing commit without any further batch', async () => {
    // An interval the three batches surely fit in, also on a loaded host (they take milliseconds).
    const { names, handler, trailingCommits, watermark } = await setup({ commitIntervalMs: 4_000 });
    const first = control();
    await handler(batchOf(names.transactions, [0, 1, 2]), first);
    const second = control();
    await handler(batchOf(names.transactions, [3, 4]), second);
    const third = control();
    await handler(batchOf(names.transactions, [5, 6]), third);
    await handler.publications();
    expect(await watermark()).toBe(6);
    // The first batch committed itself; the throttle skipped the other two.
    expect([first.commits, second.commits, third.commits]).toEqual([1, 0, 0]);
    expect(await waitFor(() => trailingCommits.length > 0, 20_000, 20)).toBe(true);
    expect(trailingCommits).toEqual([{ topic: names.transactions, partition: 0, offset: '7' }]);
  });

  it('a batch returns once its commits are durable, without waiting for the relay; batches handled while a transaction runs go out together in ONE next transaction, each change once', async () => {
    let release = (): void => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const { names, handler, watermark, publishes } = await setup({ beforePublish: () => gate });
    // Each record is a new customer's first purchase: one tier change each.
    const newCustomers = (offsets: number[]): PartitionBatch => batchOf(names.transactions, offsets, offsets[0], (offset) => Buffer.from(`n-${offset}`));
    const [first, ...behind] = [newCustomers([0, 1]), newCustomers([2, 3]), newCustomers([4])].map((batch) => {
      for (const r of batch.records) r.value = Buffer.from(JSON.stringify({ ...JSON.parse(r.value?.toString() ?? '{}'), customerId: r.key?.toString() }));
      return batch;
    });
    await handler(first as PartitionBatch, control());
    // The first batch's transaction starts and is held.
    expect(await waitFor(() => publishes.count === 1, 10_000, 10)).toBe(true);
    // These would never return while that transaction is held, if the handler awaited it.
    for (const batch of behind) await handler(batch, control());
    expect(await watermark()).toBe(4);
    expect(publishes.count).toBe(1);
    release();
    await handler.publications();
    // The first transaction carried the first batch; the two batches behind it, one more.
    expect(publishes.count).toBe(2);
    const changes = await readTopic(stack.brokers, names.tierChanges, (records) => records.length >= 5, 20_000);
    expect(changes.map((r) => r.key?.toString())).toEqual(['n-0', 'n-1', 'n-2', 'n-3', 'n-4']);
  });

  it('once the relay lags by MAX_UNPUBLISHED_CHANGES, a batch waits for the running transaction before it returns', async () => {
    let release = (): void => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const { names, handler, watermark, publishes } = await setup({ beforePublish: () => gate });
    const newCustomers = (offsets: number[]): PartitionBatch => {
      const batch = batchOf(names.transactions, offsets, offsets[0], (offset) => Buffer.from(`m-${offset}`));
      for (const r of batch.records) r.value = Buffer.from(JSON.stringify({ ...JSON.parse(r.value?.toString() ?? '{}'), customerId: r.key?.toString() }));
      return batch;
    };
    await handler(newCustomers([0]), control());
    expect(await waitFor(() => publishes.count === 1, 10_000, 10)).toBe(true);
    // A batch whose changes alone reach the bound, behind the held transaction.
    const offsets = Array.from({ length: MAX_UNPUBLISHED_CHANGES }, (_, i) => i + 1);
    let released = false;
    // The batch's offset commit comes after its publication request (and the wait, if any).
    const commits: boolean[] = [];
    const secondControl = { ...control(), commit: () => Promise.resolve(commits.push(released) > 0) };
    const second = handler(newCustomers(offsets), secondControl).then(() => released);
    expect(await waitFor(async () => (await watermark()) === MAX_UNPUBLISHED_CHANGES, 20_000, 10)).toBe(true);
    // Applied and durable, but held: it does not get to its offset commit while the relay lags.
    expect(await waitFor(() => commits.length > 0, 500, 10)).toBe(false);
    released = true;
    release();
    // It went on only after the held transaction ended.
    expect(await second).toBe(true);
    expect(commits).toEqual([true]);
    await handler.publications();
    const changes = await readTopic(stack.brokers, names.tierChanges, (records) => records.length >= MAX_UNPUBLISHED_CHANGES + 1, 20_000);
    expect(changes).toHaveLength(MAX_UNPUBLISHED_CHANGES + 1);
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

  it('a commit that fails mid-batch (a dropped connection): the chunks behind it are refused, the partition is re-read and the batch resumes at its watermark, none skipped', async () => {
    const retriable = new PyramidError('REDIS_UNAVAILABLE', 'connection dropped', { retriable: true });
    const { names, handler, positions, seeks, outcomes, watermark, frequency } = await setup({
      applyChunk: 3,
      beforeCommit: (call) => (call === 2 ? Promise.reject(retriable) : Promise.resolve()),
    });
    const c = control();
    await handler(batchOf(names.transactions, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]), c);
    // Chunk 1 (0-2) committed; chunk 2 failed; chunks 3 and 4, sent behind it, were refused.
    expect(await watermark()).toBe(2);
    expect(seeks).toEqual([{ tp: { topic: names.transactions, partition: 0 }, offset: '3' }]);
    expect(positions.next(names.transactions, 0)).toBe(3n);
    expect(c.commits).toBe(0);
    // The consumer fetches again from 3.
    await handler(batchOf(names.transactions, [3, 4, 5, 6, 7, 8, 9]), control());
    expect(await watermark()).toBe(9);
    expect(await frequency()).toBe(10);
    expect(outcomes.filter((o) => o !== 'scored' && o !== 'stale')).toEqual([]);
  });

  it('seeks back to the start when the partition state is gone (a Redis restarted without persistence)', async () => {
    const { names, handler, positions, seeks, watermark, store } = await setup({
      applyChunk: 2,
      beforeCommit: async (call, store) => {
        if (call !== 2) return;
        const keys = store.keys(names.transactions, 0);
        await redis.del(keys.meta, keys.due, keys.tx, keys.outbox, ...Array.from({ length: keys.customerShards }, (_, s) => keys.customerShardPrefix + s));
      },
    });
    const c = control();
    await handler(batchOf(names.transactions, [0, 1, 2, 3]), c);
    expect(seeks).toEqual([{ tp: { topic: names.transactions, partition: 0 }, offset: '0' }]);
    expect(positions.next(names.transactions, 0)).toBeUndefined();
    expect(await watermark()).toBeNull();
    expect((await store.readMeta(names.transactions, 0))?.formatVersion).toBe(FORMAT_VERSION);
    expect(c.commits).toBe(0);
  });

  it('stops the partition with KAFKA_OFFSETS_GONE instead of seeking when the state is gone and Kafka no longer holds offset 0', async () => {
    const { names, handler, seeks, stopped, watermark } = await setup({
      applyChunk: 2,
      logStartOffset: 40,
      beforeCommit: async (call, store) => {
        if (call !== 2) return;
        const keys = store.keys(names.transactions, 0);
        await redis.del(keys.meta, keys.due, keys.tx, keys.outbox, ...Array.from({ length: keys.customerShards }, (_, s) => keys.customerShardPrefix + s));
      },
    });
    await handler(batchOf(names.transactions, [40, 41, 42, 43]), control());
    expect(seeks).toEqual([]);
    expect(stopped.map(({ tp, error }) => [tp, error.code])).toEqual([[{ topic: names.transactions, partition: 0 }, 'KAFKA_OFFSETS_GONE']]);
    expect(stopped[0]?.error.message).toBe(
      `partition 0 of ${names.transactions}: the state was lost from Redis mid-run and needs offset 0 next, Kafka's log starts at 40 (retention deleted the records in between); the partition stops rather than skip records (rebuild the state for this topic with \`pyramid replay --prefix <fresh prefix>\` and run the scorers on that prefix (PYRAMID_KEY_PREFIX), or delete this prefix's keys of the topic to start over, or restore the topic's records)`,
    );
    expect(await watermark()).toBeNull();
  });

  it('stops the partition when its state was set back (a commit lost) to an offset Kafka no longer holds; seeks when it still does', async () => {
    const setBack = async (logStartOffset: number) => {
      const fixture = await setup({
        applyChunk: 2,
        logStartOffset,
        // Commit 2 is lost (as with an AOF tail cut): commit 3, fenced by it, is refused.
        beforeCommit: (call) => (call === 2 ? Promise.reject(new PyramidError('REDIS_UNAVAILABLE', 'connection dropped', { retriable: true })) : Promise.resolve()),
      });
      await fixture.handler(batchOf(fixture.names.transactions, [0, 1, 2, 3, 4, 5]), control());
      return fixture;
    };
    const gone = await setBack(3);
    expect(gone.seeks).toEqual([]);
    expect(gone.stopped.map(({ error }) => error.code)).toEqual(['KAFKA_OFFSETS_GONE']);
    expect(gone.stopped[0]?.error.message).toContain(`partition 0 of ${gone.names.transactions}: the state in Redis was set back mid-run (unknown) and needs offset 2 next, Kafka's log starts at 3`);
    const held = await setBack(2);
    expect(held.stopped).toEqual([]);
    expect(held.seeks).toEqual([{ tp: { topic: held.names.transactions, partition: 0 }, offset: '2' }]);
  });

  it('a zombie batch (another instance claimed the partition meanwhile) writes nothing and gives the partition up', async () => {
    const { names, handler, seeks, paused, watermark, store, owned, policy } = await setup();
    await handler(batchOf(names.transactions, [0, 1]), control());
    await ownedPartition({ redis, prefix: store.prefix, policy, clock: 'wall', topic: names.transactions });
    await handler(batchOf(names.transactions, [2, 3]), control());
    expect(await watermark()).toBe(1);
    expect(seeks).toEqual([]);
    // Paused, so the consumer does not fetch the partition again and again until the rebalance.
    expect(paused).toEqual([{ topic: names.transactions, partition: 0 }]);
    expect((owned as OwnedPartition).owned).toBe(false);
  });

  it('sends a record whose key is not its customerId (or missing) to the DLQ with its reason', async () => {
    const { names, handler, dlqReasons, outcomes, frequency } = await setup();
    const keys: Record<number, Buffer | null> = { 1: Buffer.from('someone-else'), 2: null };
    await handler(batchOf(names.transactions, [0, 1, 2, 3], 0, (offset) => (offset in keys ? (keys[offset] as Buffer | null) : Buffer.from('c-1'))), control());
    expect(dlqReasons).toEqual(['KEY_MISMATCH', 'KEY_MISMATCH']);
    expect(outcomes.filter((o) => o === 'scored')).toHaveLength(2);
    expect(await frequency()).toBe(2);
  });
});
