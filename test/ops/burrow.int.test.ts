import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startScorerOps } from '../../src/cli/ops-wiring.js';
import { startDevStack, type DevStackHandle } from '@pyramid/devstack';
import { Instrumentation } from '../../src/instrumentation.js';
import type { OutgoingRecord } from '../../src/kafka/types.js';
import { silentLogger } from '../../src/logger.js';
import { createScorer, type Scorer } from '../../src/pipeline/scorer.js';
import { createTopics, testConfig, testKafka, uniqueNames } from '../e2e/support.js';
import { startBurrow, type BurrowHandle, type BurrowPartition } from '../helpers/burrow.js';
import { startZooKeeper, type ZooKeeperHandle } from '../helpers/zookeeper.js';
import { httpGet, parseExposition, pollUntil, sampleValue } from './live-support.js';

const DAY = 86_400_000;
const PARTITIONS = 3;

function transactions(count: number, partition: number, from: number): OutgoingRecord[] {
  return Array.from({ length: count }, (_, k) => {
    const i = from + k;
    return {
      partition,
      key: `c-${i % 7}`,
      value: JSON.stringify({ transactionId: `t-${i}`, customerId: `c-${i % 7}`, kind: 'PURCHASE', amountMinor: 5_000, currency: 'CNY', eventTime: Date.now() - DAY + i }),
    };
  });
}

/**
 * Burrow (Debian's 1.2.1, a real third-party lag monitor) against the embedded broker: it reads
 * the group's commits from `__consumer_offsets` and log ends via ListOffsets, and must report the
 * same per-partition lag as pyramid's own `pyramid_consumer_lag_messages` at the points where
 * pyramid's commits equal its Redis watermarks (after a final commit on stop, and while a new
 * scorer is paused on a backlog). Between those points they legitimately differ: pyramid commits
 * at most once a second per partition (the commit is informational, the Redis watermark is the
 * position), so Burrow can show up to a second of records as lag that pyramid has applied; the
 * README's Operations section says so.
 */
describe('Burrow agrees with pyramid on consumer lag', () => {
  let stack: DevStackHandle;
  let zookeeper: ZooKeeperHandle | undefined;
  let burrow: BurrowHandle | undefined;
  const names = uniqueNames('burrow');
  const topic = names.transactions;

  beforeAll(async () => {
    stack = await startDevStack({ brokerPort: 0, registryPort: 0 });
    // The topic exists before Burrow starts, so its first metadata refresh knows it: Burrow drops
    // commits for partitions whose log end it has not fetched yet.
    await createTopics(stack.brokers, [topic], PARTITIONS);
    zookeeper = await startZooKeeper();
    burrow = await startBurrow({ broker: stack.brokers[0] as string, zookeeper: zookeeper.address, cluster: 'pyramid', groupWhitelist: `^${names.groupId}$` });
  }, 180_000);
  afterAll(async () => {
    await burrow?.stop();
    await zookeeper?.stop();
    await stack?.close();
  });

  const produce = async (records: OutgoingRecord[]): Promise<void> => {
    const producer = testKafka(stack.brokers).createProducer();
    await producer.send(topic, records);
    await producer.disconnect();
  };
  const start = async (paused: boolean): Promise<{ scorer: Scorer; base: string; close: () => Promise<void> }> => {
    // Lag measured only when asked, so each /metrics read has a known measurement behind it.
    const scorer = createScorer(testConfig({ brokers: stack.brokers, redisUrl: inject('redisUrl'), names }), { instrumentation: new Instrumentation(), tuning: { lagIntervalMs: 600_000 } });
    const ops = await startScorerOps({ scorer, port: 0, censusIntervalMs: 60_000, logger: silentLogger });
    if (paused) scorer.pause();
    await scorer.start();
    ops.scorerStarted();
    return { scorer, base: `http://127.0.0.1:${ops.port}`, close: async () => (await scorer.stop(), await ops.close()) };
  };
  const pyramidLag = async (scorer: Scorer, base: string): Promise<number[]> => {
    await scorer.refreshLag();
    const samples = parseExposition((await httpGet(`${base}/metrics`)).body);
    return Array.from({ length: PARTITIONS }, (_, p) => sampleValue(samples, `pyramid_consumer_lag_messages{topic="${topic}",partition="${p}"}`));
  };
  const scored = async (base: string): Promise<number> => {
    const samples = parseExposition((await httpGet(`${base}/metrics`)).body);
    return Array.from({ length: PARTITIONS }, (_, p) => samples.get(`pyramid_consumer_records_processed_total{topic="${topic}",partition="${p}",outcome="scored"}`) ?? 0).reduce((a, b) => a + b, 0);
  };
  /** Waits until Burrow reports `expected` (lag per partition); fails with what it last saw. */
  const expectBurrowLag = async (expected: number[], committed: number[]): Promise<void> => {
    let last: BurrowPartition[] = [];
    const reached = await pollUntil(async () => {
      last = ((await burrow?.consumer(names.groupId)) ?? []).filter((p) => p.topic === topic);
      return JSON.stringify(last.map((p) => [p.committed, p.currentLag])) === JSON.stringify(expected.map((lag, p) => [committed[p], lag]));
    }, 20_000);
    expect(reached, `Burrow reported ${JSON.stringify(last)}; expected lag ${JSON.stringify(expected)} at committed ${JSON.stringify(committed)}\n${burrow?.output() ?? ''}`).toBe(true);
  };

  it('both show 0 after a scorer stops, both show exactly the backlog while a new one is paused, both return to 0 once it drained', async () => {
    await produce([0, 1, 2].flatMap((p) => transactions(5, p, p * 100)));
    const first = await start(false);
    expect(await pollUntil(async () => (await scored(first.base)) === 15, 30_000)).toBe(true);
    expect(await pyramidLag(first.scorer, first.base)).toEqual([0, 0, 0]);
    // Stopping commits every partition's Redis watermark: commits and watermarks are equal now.
    await first.close();
    await expectBurrowLag([0, 0, 0], [5, 5, 5]);

    // A backlog arrives while no scorer runs; the next one starts paused on it.
    await produce([...transactions(4, 0, 1_000), ...transactions(7, 2, 2_000)]);
    const second = await start(true);
    try {
      expect(await pollUntil(async () => (await pyramidLag(second.scorer, second.base).catch(() => [])).length === PARTITIONS, 30_000)).toBe(true);
      expect(await pyramidLag(second.scorer, second.base)).toEqual([4, 0, 7]);
      await expectBurrowLag([4, 0, 7], [5, 5, 5]);

      second.scorer.resume();
      expect(await pollUntil(async () => (await scored(second.base)) === 11, 30_000)).toBe(true);
      expect(await pyramidLag(second.scorer, second.base)).toEqual([0, 0, 0]);
    } finally {
      await second.close();
    }
    await expectBurrowLag([0, 0, 0], [9, 5, 12]);
  }, 120_000);
});
