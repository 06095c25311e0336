import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { startScorerOps, type ScorerOps } from '../../src/cli/ops-wiring.js';
import { startDevStack, type DevStackHandle } from '@pyramid/devstack';
import { Instrumentation } from '../../src/instrumentation.js';
import type { OutgoingRecord } from '../../src/kafka/types.js';
import { silentLogger } from '../../src/logger.js';
import { createScorer, type Scorer } from '../../src/pipeline/scorer.js';
import { createTopics, testConfig, testKafka, uniqueNames } from '../e2e/support.js';
import { startRedisServer, type RedisServerHandle } from '../helpers/redis-server.js';
import { httpGet, parseExposition, pollUntil, sampleValue } from './live-support.js';

const DAY = 86_400_000;

function transactions(count: number, partition: number, from: number): OutgoingRecord[] {
  return Array.from({ length: count }, (_, k) => {
    const i = from + k;
    return {
      partition,
      key: `c-${i % 11}`,
      value: JSON.stringify({ transactionId: `t-${i}`, customerId: `c-${i % 11}`, kind: 'PURCHASE', amountMinor: 5_000, currency: 'CNY', eventTime: Date.now() - DAY + i }),
    };
  });
}

/**
 * A real scorer (embedded broker, real redis-server) behind the same ops wiring `pyramid run`
 * uses (`startScorerOps`), checked only through its HTTP surface: /metrics and /readyz.
 */
describe('live scorer: lag and readiness over HTTP', () => {
  let stack: DevStackHandle;
  const cleanup: Array<() => Promise<unknown>> = [];

  const produce = async (topic: string, records: OutgoingRecord[]): Promise<void> => {
    const producer = testKafka(stack.brokers).createProducer();
    await producer.send(topic, records);
    await producer.disconnect();
  };
  const startLive = async (scorer: Scorer): Promise<string> => {
    const ops: ScorerOps = await startScorerOps({ scorer, port: 0, censusIntervalMs: 60_000, logger: silentLogger });
    cleanup.unshift(() => ops.close());
    cleanup.unshift(() => scorer.stop());
    await scorer.start();
    ops.scorerStarted();
    return `http://127.0.0.1:${ops.port}`;
  };
  const metrics = async (base: string): Promise<Map<string, number>> => parseExposition((await httpGet(`${base}/metrics`)).body);
  const scored = (samples: Map<string, number>, topic: string, partitions: number): number =>
    Array.from({ length: partitions }, (_, p) => samples.get(`pyramid_consumer_records_processed_total{topic="${topic}",partition="${p}",outcome="scored"}`) ?? 0).reduce((a, b) => a + b, 0);

  beforeAll(async () => {
    stack = await startDevStack({ brokerPort: 0, registryPort: 0 });
  });
  afterEach(async () => {
    for (const step of cleanup.splice(0)) await step().catch(() => undefined);
  });
  afterAll(async () => {
    await stack.close();
  });

  it('/metrics lag is exactly N per partition while paused, seconds grow from the oldest unprocessed record, and both return to 0', async () => {
    const names = uniqueNames('live-lag');
    const topic = names.transactions;
    await createTopics(stack.brokers, [topic], 3);
    const initialFrom = Date.now();
    await produce(topic, [0, 1, 2].flatMap((p) => transactions(5, p, p * 100)));
    // Lag measured only when asked (refreshLag), so every /metrics read below has a known source.
    const scorer = createScorer(testConfig({ brokers: stack.brokers, redisUrl: inject('redisUrl'), names }), { instrumentation: new Instrumentation(), tuning: { lagIntervalMs: 600_000 } });
    const base = await startLive(scorer);
    expect(await pollUntil(async () => scored(await metrics(base), topic, 3) === 15, 30_000)).toBe(true);

    scorer.pause();
    await produce(topic, [...transactions(4, 0, 1_000), ...transactions(7, 2, 2_000)]);
    const producedTo = Date.now();
    const lagOf = (samples: Map<string, number>, p: number): { messages: number; seconds: number } => ({
      messages: sampleValue(samples, `pyramid_consumer_lag_messages{topic="${topic}",partition="${p}"}`),
      seconds: sampleValue(samples, `pyramid_consumer_lag_seconds{topic="${topic}",partition="${p}"}`),
    });

    // Lag seconds = now - Kafka timestamp T of the oldest unprocessed record (or of the last
    // processed one just before it, a lower bound); T lies between initialFrom and producedTo.
    // Only bounds read from the same clock around each measurement are asserted, no durations.
    const slack = 1e-6;
    const t1 = Date.now();
    await scorer.refreshLag();
    const t1end = Date.now();
    const first = await metrics(base);
    expect([0, 1, 2].map((p) => lagOf(first, p).messages)).toEqual([4, 0, 7]);
    expect(lagOf(first, 1).seconds).toBe(0);
    for (const p of [0, 2]) {
      expect(lagOf(first, p).seconds).toBeGreaterThanOrEqual((t1 - producedTo) / 1000 - slack);
      expect(lagOf(first, p).seconds).toBeLessThanOrEqual((t1end - initialFrom) / 1000 + slack);
    }

    // Still paused a moment later: the same record is the oldest, so seconds grew by exactly the
    // wall time between the two measurements (bounded by the clocks around them), counts unchanged.
    expect(await pollUntil(() => Date.now() - t1end >= 1_000, 5_000, 100)).toBe(true);
    const t2 = Date.now();
    await scorer.refreshLag();
    const t2end = Date.now();
    const second = await metrics(base);
    expect([0, 1, 2].map((p) => lagOf(second, p).messages)).toEqual([4, 0, 7]);
    expect(lagOf(second, 1).seconds).toBe(0);
    for (const p of [0, 2]) {
      const grew = lagOf(second, p).seconds - lagOf(first, p).seconds;
      expect(grew).toBeGreaterThanOrEqual((t2 - t1end) / 1000 - slack);
      expect(grew).toBeLessThanOrEqual((t2end - t1) / 1000 + slack);
    }

    scorer.resume();
    expect(await pollUntil(async () => scored(await metrics(base), topic, 3) === 26, 30_000)).toBe(true);
    await scorer.refreshLag();
    const caughtUp = await metrics(base);
    expect([0, 1, 2].map((p) => lagOf(caughtUp, p))).toEqual([0, 1, 2].map(() => ({ messages: 0, seconds: 0 })));
  }, 60_000);

  it('/readyz answers 503 naming Redis while redis-server is stopped, 200 once it is back, and no record is lost', async () => {
    const names = uniqueNames('live-ready');
    const topic = names.transactions;
    const own: RedisServerHandle = await startRedisServer({ args: ['--appendonly', 'yes', '--appendfsync', 'always'] });
    cleanup.push(() => own.stop());
    await createTopics(stack.brokers, [topic], 2);
    await produce(topic, [...transactions(10, 0, 0), ...transactions(10, 1, 100)]);
    const scorer = createScorer(testConfig({ brokers: stack.brokers, redisUrl: own.url, names }), {
      instrumentation: new Instrumentation(),
      tuning: { retry: { initialMs: 50, maxMs: 300, factor: 2, jitter: 0.5 } },
    });
    const base = await startLive(scorer);
    expect(await pollUntil(async () => scored(await metrics(base), topic, 2) === 20, 30_000)).toBe(true);
    expect(await pollUntil(async () => (await httpGet(`${base}/readyz`)).status === 200, 15_000)).toBe(true);

    await own.kill();
    await produce(topic, [...transactions(15, 0, 1_000), ...transactions(15, 1, 2_000)]);
    expect(await pollUntil(async () => (await httpGet(`${base}/readyz`)).status === 503, 15_000)).toBe(true);
    const down = JSON.parse((await httpGet(`${base}/readyz`)).body) as { status: string; checks: Record<string, { ok: boolean; detail?: string }> };
    expect(down.checks.redis?.ok).toBe(false);
    expect(down.checks.redis?.detail ?? '').not.toBe('');
    expect(down.checks['kafka-group']?.ok).toBe(true);
    expect(scored(await metrics(base), topic, 2)).toBe(20);
    // Lag is measured without Redis (regression: it read the Redis watermark, so a stalled Redis
    // showed 0 or nothing): the 15 new records per partition are behind, on both views.
    await scorer.refreshLag();
    const stalled = await metrics(base);
    expect([0, 1].map((p) => stalled.get(`pyramid_consumer_lag_messages{topic="${topic}",partition="${p}"}`))).toEqual([15, 15]);
    expect([0, 1].map((p) => stalled.get(`pyramid_consumer_committed_lag_messages{topic="${topic}",partition="${p}"}`))).toEqual([15, 15]);

    const restarted = await startRedisServer({ port: own.port, dir: own.dir, args: ['--appendonly', 'yes'] });
    cleanup.push(() => restarted.stop());
    expect(await pollUntil(async () => (await httpGet(`${base}/readyz`)).status === 200, 30_000)).toBe(true);
    expect(await pollUntil(async () => scored(await metrics(base), topic, 2) === 50, 30_000)).toBe(true);
    const samples = await metrics(base);
    // Every record scored exactly once: nothing dead-lettered, nothing counted as a duplicate.
    expect(
      [...samples].filter(([series, n]) => series.startsWith('pyramid_consumer_records_processed_total{') && series.includes(`topic="${topic}"`) && !series.includes('outcome="scored"') && n > 0),
    ).toEqual([]);
    await scorer.refreshLag();
    const after = await metrics(base);
    expect([0, 1].map((p) => after.get(`pyramid_consumer_lag_messages{topic="${topic}",partition="${p}"}`))).toEqual([0, 0]);
  }, 90_000);
});
