import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { startDevStack, type DevStackHandle } from '@pyramid/devstack';
import { Instrumentation, type InstrumentationEvents } from '../../src/instrumentation.js';
import type { OutgoingRecord } from '../../src/kafka/types.js';
import { createHealth } from '../../src/ops/health.js';
import { createScorer, type Scorer } from '../../src/pipeline/scorer.js';
import { createTopics, DEFAULT_POLICY, readTopic, testConfig, testKafka, uniqueNames, waitFor } from '../e2e/support.js';
import { groupLagFromBroker } from '../helpers/group-offsets.js';
import { startRedisServer, type RedisServerHandle } from '../helpers/redis-server.js';

const DAY = 86_400_000;

function transactions(count: number, partitions: number, from = 0, eventTime = Date.now() - DAY): OutgoingRecord[] {
  return Array.from({ length: count }, (_, k) => {
    const i = from + k;
    return {
      partition: i % partitions,
      key: `c-${i % 13}`,
      value: JSON.stringify({ transactionId: `t-${i}`, customerId: `c-${i % 13}`, kind: 'PURCHASE', amountMinor: 5_000, currency: 'CNY', eventTime: eventTime + i }),
    };
  });
}

describe('scorer', () => {
  let stack: DevStackHandle;
  const scorers: Scorer[] = [];
  const redis = new Redis(inject('redisUrl'));

  const started = async (scorer: Scorer): Promise<Scorer> => {
    scorers.push(scorer);
    await scorer.start();
    return scorer;
  };
  const produce = async (topic: string, records: OutgoingRecord[]): Promise<void> => {
    const producer = testKafka(stack.brokers).createProducer();
    await producer.send(topic, records);
    await producer.disconnect();
  };
  const outcomes = (instrumentation: Instrumentation): Record<string, number> => {
    const counts: Record<string, number> = {};
    instrumentation.on('consumer.records', (e) => {
      counts[e.outcome] = (counts[e.outcome] ?? 0) + e.count;
    });
    return counts;
  };

  beforeAll(async () => {
    stack = await startDevStack({ brokerPort: 0, registryPort: 0 });
  });
  afterEach(async () => {
    for (const scorer of scorers.splice(0)) await scorer.stop().catch(() => undefined);
  });
  afterAll(async () => {
    await stack.close();
    redis.disconnect();
  });

  it('reports lag of exactly N per partition for N records produced while paused, and 0 once resumed', async () => {
    const names = uniqueNames('lag');
    await createTopics(stack.brokers, [names.transactions], 3);
    await produce(names.transactions, transactions(30, 3));
    const instrumentation = new Instrumentation();
    const counts = outcomes(instrumentation);
    const scorer = await started(createScorer(testConfig({ brokers: stack.brokers, redisUrl: inject('redisUrl'), names }), { instrumentation, tuning: { lagIntervalMs: 60_000 } }));
    expect(await waitFor(() => counts.scored === 30)).toBe(true);

    scorer.pause();
    await produce(names.transactions, [...transactions(4, 1, 100).map((r) => ({ ...r, partition: 0 })), ...transactions(7, 1, 200).map((r) => ({ ...r, partition: 2 }))]);
    const lag = new Map<number, InstrumentationEvents['consumer.lag']>();
    instrumentation.on('consumer.lag', (e) => lag.set(e.partition, e));
    await scorer.refreshLag();
    expect([0, 1, 2].map((p) => lag.get(p)?.messages)).toEqual([4, 0, 7]);
    // Only the caught-up partition's age is fixed here; the age of a lagging one follows the wall
    // clock, which test/ops/lag-monitor.test.ts pins with an injected clock.
    expect(lag.get(1)!.seconds).toBe(0);

    scorer.resume();
    expect(await waitFor(() => counts.scored === 41)).toBe(true);
    await scorer.refreshLag();
    expect([0, 1, 2].map((p) => lag.get(p)?.messages)).toEqual([0, 0, 0]);
  });

  it('a graceful stop publishes the outbox and commits each partition up to what it processed', async () => {
    const names = uniqueNames('stop-commit');
    await createTopics(stack.brokers, [names.transactions], 2);
    await produce(names.transactions, transactions(10, 2));
    const instrumentation = new Instrumentation();
    const counts = outcomes(instrumentation);
    const scorer = await started(createScorer(testConfig({ brokers: stack.brokers, redisUrl: inject('redisUrl'), names }), { instrumentation }));
    expect(await waitFor(() => counts.scored === 10)).toBe(true);
    // Within the commit throttle's second: these batches are not committed until the stop.
    await produce(names.transactions, transactions(15, 2, 10));
    expect(await waitFor(() => counts.scored === 25)).toBe(true);
    await scorer.stop();
    const admin = testKafka(stack.brokers).createAdmin();
    await admin.connect();
    const committed = await admin.committedOffsets(names.groupId, names.transactions);
    await admin.disconnect();
    expect(committed.sort((a, b) => a.partition - b.partition)).toEqual([
      { partition: 0, offset: '13' },
      { partition: 1, offset: '12' },
    ]);
    for (let p = 0; p < 2; p++) expect(await redis.xlen(scorer.store.keys(names.transactions, p).outbox)).toBe(0);
  });

  it('after a burst followed by silence, the group has committed the log end of every partition (a trailing commit)', async () => {
    const names = uniqueNames('trailing-commit');
    await createTopics(stack.brokers, [names.transactions], 3);
    const instrumentation = new Instrumentation();
    const counts = outcomes(instrumentation);
    // Small fetches: each partition's burst arrives as many batches, well within one commit interval.
    const config = testConfig({ brokers: stack.brokers, redisUrl: inject('redisUrl'), names, overrides: { consumer: { sessionTimeout: 6_000, heartbeatInterval: 500, concurrency: 2, maxBytesPerPartition: 2_048 } } });
    await started(createScorer(config, { instrumentation }));
    await produce(names.transactions, transactions(30, 3));
    expect(await waitFor(() => counts.scored === 30)).toBe(true);
    await produce(names.transactions, transactions(600, 3, 30));
    expect(await waitFor(() => counts.scored === 630)).toBe(true);
    const settled = await waitFor(async () => [...(await groupLagFromBroker(stack.brokers, names.groupId, names.transactions)).values()].every((p) => p.lag === 0n), 15_000, 200);
    const lag = await groupLagFromBroker(stack.brokers, names.groupId, names.transactions);
    expect(settled, JSON.stringify([...lag], (_, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))).toBe(true);
    expect([...lag.values()].map((p) => p.end)).toEqual([210n, 210n, 210n]);
  });

  it('re-reads from the Redis watermark, not the committed offset, when Redis lost its latest writes', async () => {
    const names = uniqueNames('watermark');
    await createTopics(stack.brokers, [names.transactions], 1);
    await produce(names.transactions, transactions(100, 1));
    const first = new Instrumentation();
    const firstCounts = outcomes(first);
    const scorer = await started(createScorer(testConfig({ brokers: stack.brokers, redisUrl: inject('redisUrl'), names }), { instrumentation: first }));
    expect(await waitFor(() => firstCounts.scored === 100)).toBe(true);
    await scorer.stop();
    // As if an AOF tail of the last 50 applies was lost (the dedupe set survived in this simulation).
    await redis.hset(scorer.store.keys(names.transactions, 0).meta, 'wo', '49');

    const second = new Instrumentation();
    const secondCounts = outcomes(second);
    await started(createScorer(testConfig({ brokers: stack.brokers, redisUrl: inject('redisUrl'), names }), { instrumentation: second }));
    expect(await waitFor(() => secondCounts.duplicate === 50)).toBe(true);
    expect(secondCounts.scored ?? 0).toBe(0);
  });

  it('backs off while Redis is down, turns readiness 503, and scores every record once Redis is back', async () => {
    const names = uniqueNames('redis-down');
    const own: RedisServerHandle = await startRedisServer({ args: ['--appendonly', 'yes', '--appendfsync', 'always'] });
    try {
      await createTopics(stack.brokers, [names.transactions], 2);
      await produce(names.transactions, transactions(20, 2));
      const instrumentation = new Instrumentation();
      const counts = outcomes(instrumentation);
      const scorer = await started(
        createScorer(testConfig({ brokers: stack.brokers, redisUrl: own.url, names }), { instrumentation, tuning: { retry: { initialMs: 50, maxMs: 300, factor: 2, jitter: 0.5 } } }),
      );
      expect(await waitFor(() => counts.scored === 20)).toBe(true);
      const health = createHealth({ probes: scorer.probes(), timeoutMs: 1_000 });
      expect((await health.ready()).ok).toBe(true);

      await own.kill();
      await produce(names.transactions, transactions(30, 2, 20));
      expect(await waitFor(async () => !(await health.ready()).ok, 10_000)).toBe(true);
      const body = (await health.ready()).body;
      expect(body.checks.redis?.ok).toBe(false);
      await new Promise((r) => setTimeout(r, 1_000));
      expect(counts.scored).toBe(20);

      const restarted = await startRedisServer({ port: own.port, dir: own.dir, args: ['--appendonly', 'yes'] });
      try {
        expect(await waitFor(() => counts.scored === 50, 30_000)).toBe(true);
        expect(await waitFor(async () => (await health.ready()).ok, 10_000)).toBe(true);
        const changes = await readTopic(stack.brokers, names.tierChanges, (r) => r.length >= 13, 20_000);
        expect(new Set(changes.map((r) => r.key?.toString())).size).toBe(13);
      } finally {
        await scorer.stop();
        await restarted.stop();
      }
    } finally {
      await own.stop().catch(() => undefined);
    }
  });

  it('wall clock: the sweeper fires a due inactivity timer and publishes it with cause TIME', async () => {
    const names = uniqueNames('sweeper');
    await createTopics(stack.brokers, [names.transactions], 1);
    const lastPurchase = Date.now() - 180 * DAY + 2_000;
    await produce(names.transactions, [
      { key: 'quiet', value: JSON.stringify({ transactionId: 'q-1', customerId: 'quiet', kind: 'PURCHASE', amountMinor: 50_000, currency: 'CNY', eventTime: lastPurchase }) },
    ]);
    await started(createScorer(testConfig({ brokers: stack.brokers, redisUrl: inject('redisUrl'), names, overrides: { clock: 'wall' } }), { tuning: { sweepIntervalMs: 200 } }));
    const changes = await readTopic(stack.brokers, names.tierChanges, (r) => r.length >= 2, 30_000);
    const parsed = changes.map((r) => JSON.parse(r.value!.toString()) as { eventId: string; newTier: string; cause: string; effectiveAt: number });
    expect(parsed.map(({ eventId, newTier, cause }) => ({ eventId, newTier, cause }))).toEqual([
      { eventId: 'quiet:1', newTier: 'small', cause: 'TRANSACTION' },
      { eventId: 'quiet:2', newTier: 'inactive', cause: 'TIME' },
    ]);
    expect(parsed[1]!.effectiveAt).toBe(lastPurchase + 180 * DAY);
  });

  it('wall clock: the sweeper fires a NEAR_UPGRADE cooldown end and publishes the reminder on the signals topic with cause TIME', async () => {
    const names = uniqueNames('sweeper-signals');
    await createTopics(stack.brokers, [names.transactions], 1);
    const policyFile = join(mkdtempSync(join(tmpdir(), 'pyramid-sweep-signals-')), 'policy.yaml');
    writeFileSync(policyFile, `${readFileSync(DEFAULT_POLICY, 'utf8').replace(/^version: .*$/m, 'version: "sweep-signals"')}\nsignals:\n  nearUpgrade:\n    within: { amount: "500.00" }\n    cooldown: 2s\n`);
    // 4,500.00 CNY: small, 320.01 short of medium.
    await produce(names.transactions, [
      { key: 'close', value: JSON.stringify({ transactionId: 'c-1', customerId: 'close', kind: 'PURCHASE', amountMinor: 450_000, currency: 'CNY', eventTime: Date.now() - DAY }) },
    ]);
    await started(createScorer(testConfig({ brokers: stack.brokers, redisUrl: inject('redisUrl'), names, overrides: { clock: 'wall', policyFile } }), { tuning: { sweepIntervalMs: 200 } }));
    const signals = await readTopic(stack.brokers, names.signals, (r) => r.length >= 2, 30_000);
    const parsed = signals.slice(0, 2).map((r) => JSON.parse(r.value!.toString()) as { signalId: string; type: string; cause: string; effectiveAt: number; spendToUpgrade: number });
    expect(parsed.map(({ signalId, type, cause, spendToUpgrade }) => ({ signalId, type, cause, spendToUpgrade }))).toEqual([
      { signalId: 'close:s:1', type: 'NEAR_UPGRADE', cause: 'TRANSACTION', spendToUpgrade: 32_001 },
      { signalId: 'close:s:2', type: 'NEAR_UPGRADE', cause: 'TIME', spendToUpgrade: 32_001 },
    ]);
    // The reminder is evaluated at the cooldown's end, whenever the sweep ran.
    expect(parsed[1]!.effectiveAt - parsed[0]!.effectiveAt).toBe(2_000);
  });
});
