import { mkdtempSync, readdirSync, rmSync, statSync, truncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startDevStack, type DevStackHandle } from '@pyramid/devstack';
import { createScorer } from '../../src/pipeline/scorer.js';
import { runSimulator } from '../../src/simulator/run.js';
import { StateStore } from '../../src/state/store.js';
import { startRedisServer, type RedisServerHandle } from '../helpers/redis-server.js';
import { appliedPosition, indexChanges, snapshotState } from './replay-equivalence.js';
import { createTopics, readTopic, testConfig, testKafka, uniqueNames, waitFor } from './support.js';

const PARTITIONS = 4;
const DAY = 86_400_000;
/** Events per half of the input; the second half is produced after the Redis restart. */
const HALF = 10_000;
const CUSTOMERS = 2_500;
/** What `appendfsync everysec` can lose at most, about: the cut from the AOF's tail. */
const AOF_CUT_BYTES = 300_000;
/** Event time of the first event: one instant for every topic, so their inputs are identical. */
const EPOCH = Date.now() - 400 * DAY;

type Names = ReturnType<typeof uniqueNames>;

/**
 * The reported cases of Redis losing state under a running scorer: restarted without persistence
 * (everything gone), and restarted from an AOF whose tail was lost (every partition set back to
 * some earlier commit). Each run must end with the state and the tier-change events (ids and
 * content) of an uninterrupted run, and never publish one event id with two contents.
 *
 * The input comes in two halves: Redis goes down while the scorer applies the first, and the
 * second arrives after the restart, so every partition commits again and meets the loss.
 */
describe('Redis losing state under a running scorer (event clock)', () => {
  let stack: DevStackHandle;
  const suiteRedis = new Redis(inject('redisUrl'));
  let reference: { state: Map<string, string>; changes: Map<string, string> };
  let total = 0;

  async function produceHalf(topic: string, half: 0 | 1): Promise<number> {
    const producer = testKafka(stack.brokers).createProducer();
    const startTime = EPOCH + half * 200 * DAY;
    const sim = await runSimulator({ producer, topic, format: 'json', seed: 4100 + half, customers: CUSTOMERS, count: HALF, startTime, spacingMs: (190 * DAY) / HALF, batchSize: 2_000 });
    await producer.disconnect();
    return sim.sent;
  }

  const configFor = (names: Names, redisUrl: string): ReturnType<typeof testConfig> =>
    testConfig({ brokers: stack.brokers, redisUrl, names, overrides: { clock: 'event' } });

  async function changesOf(names: Names): Promise<ReturnType<typeof indexChanges>> {
    return indexChanges(await readTopic(stack.brokers, names.tierChanges, (r) => indexChanges(r).byId.size >= reference.changes.size, 60_000));
  }

  beforeAll(async () => {
    stack = await startDevStack({ brokerPort: 0, registryPort: 0 });
    const names = uniqueNames('restart-reference');
    await createTopics(stack.brokers, [names.transactions], PARTITIONS);
    total = (await produceHalf(names.transactions, 0)) + (await produceHalf(names.transactions, 1));
    const scorer = createScorer(configFor(names, inject('redisUrl')));
    await scorer.start();
    const store = new StateStore({ redis: suiteRedis, prefix: names.keyPrefix, partitionCount: PARTITIONS });
    expect(await waitFor(async () => (await appliedPosition(suiteRedis, store, names.transactions, PARTITIONS)) === total, 60_000, 100)).toBe(true);
    await scorer.stop();
    const state = await snapshotState(suiteRedis, store, names.transactions, PARTITIONS);
    // Every change ever appended to an outbox took the next outbox sequence number.
    const appended = await Promise.all(Array.from({ length: PARTITIONS }, async (_, p) => (await store.readMeta(names.transactions, p))?.outboxSeq ?? 0));
    const expected = appended.reduce((a, b) => a + b, 0);
    const records = await readTopic(stack.brokers, names.tierChanges, (r) => r.length >= expected, 60_000);
    reference = { state, changes: indexChanges(records).byId };
    expect(reference.changes.size).toBe(expected);
    expect(reference.state.size).toBeGreaterThan(CUSTOMERS * 0.9);
  }, 120_000);

  afterAll(async () => {
    await stack?.close();
    suiteRedis.disconnect();
  });

  /**
   * Runs a scorer on `server`'s Redis over both halves of a fresh input topic; `restart` takes the
   * Redis down while the first half is applied and returns the one the scorer must go on with
   * (same port). Writes are paused just before, so `before` is exactly what the old server held.
   * Returns the records applied before and after the restart and the resyncs the scorer reported.
   */
  async function runThroughRestart(names: Names, server: RedisServerHandle, restart: () => Promise<RedisServerHandle>): Promise<{ before: number; after: number; resyncs: string[] }> {
    await createTopics(stack.brokers, [names.transactions], PARTITIONS);
    const first = await produceHalf(names.transactions, 0);
    const scorer = createScorer(configFor(names, server.url), { tuning: { retry: { initialMs: 20, maxMs: 300, factor: 2, jitter: 0.5 } } });
    const resyncs: string[] = [];
    scorer.instrumentation.on('state.resync', ({ partition, reason }) => resyncs.push(`${partition}:${reason}`));
    let redis = new Redis(server.url);
    try {
      await scorer.start();
      let store = new StateStore({ redis, prefix: names.keyPrefix, partitionCount: PARTITIONS });
      const applied = (): Promise<number> => appliedPosition(redis, store, names.transactions, PARTITIONS);
      expect(await waitFor(async () => (await applied()) >= first * 0.4, 60_000, 10)).toBe(true);
      await redis.call('CLIENT', 'PAUSE', '30000', 'WRITE');
      const before = await applied();
      redis.disconnect();
      const restarted = await restart();
      redis = new Redis(restarted.url);
      store = new StateStore({ redis, prefix: names.keyPrefix, partitionCount: PARTITIONS });
      const after = await applied();
      await produceHalf(names.transactions, 1);
      expect(await waitFor(async () => (await applied()) === total, 80_000, 100)).toBe(true);
      await scorer.stop();
      const state = await snapshotState(redis, store, names.transactions, PARTITIONS);
      const changes = await changesOf(names);
      expect(changes.conflicting).toEqual([]);
      expect(state.size).toBe(reference.state.size);
      expect([...state].filter(([k, v]) => reference.state.get(k) !== v)).toEqual([]);
      expect([...reference.changes.keys()].filter((id) => !changes.byId.has(id))).toEqual([]);
      expect([...changes.byId].filter(([id, text]) => reference.changes.get(id) !== text)).toEqual([]);
      return { before, after, resyncs };
    } finally {
      await scorer.stop();
      redis.disconnect();
    }
  }

  it('Redis restarted without persistence mid-run: every partition is rebuilt from offset 0 and ends like the uninterrupted run', async () => {
    const names = uniqueNames('restart-lost');
    let server = await startRedisServer();
    try {
      const run = await runThroughRestart(names, server, async () => {
        await server.kill();
        server = await startRedisServer({ port: server.port });
        return server;
      });
      expect(run.before).toBeGreaterThan(0);
      expect(run.after).toBe(0);
      // Every partition met the loss (a commit refused for state that is gone).
      expect(new Set(run.resyncs.filter((r) => r.endsWith(':lost')).map((r) => r.split(':')[0]))).toEqual(new Set(['0', '1', '2', '3']));
    } finally {
      await server.stop();
    }
  }, 120_000);

  it('Redis restarted from an AOF whose tail was cut: every partition resumes from what survived and ends like the uninterrupted run', async () => {
    const names = uniqueNames('restart-aof');
    const dir = mkdtempSync(join(tmpdir(), 'pyramid-aof-'));
    const aofArgs = ['--appendonly', 'yes', '--appendfsync', 'always', '--aof-load-truncated', 'yes'];
    let server = await startRedisServer({ dir, args: aofArgs });
    let cut = 0;
    try {
      const run = await runThroughRestart(names, server, async () => {
        await server.kill();
        // Redis 7 keeps a multi-part AOF: the writes since the last rewrite are in the *.incr.aof.
        const aofDir = join(dir, 'appendonlydir');
        const incr = readdirSync(aofDir).filter((f) => f.endsWith('.incr.aof'));
        expect(incr).toHaveLength(1);
        const file = join(aofDir, incr[0] as string);
        const size = statSync(file).size;
        cut = Math.min(AOF_CUT_BYTES, Math.floor(size / 3));
        truncateSync(file, size - cut);
        server = await startRedisServer({ port: server.port, dir, args: aofArgs });
        return server;
      });
      expect(cut).toBeGreaterThan(0);
      // The cut set partitions back (the old server held exactly `before`): their next commit was
      // refused, or its outcome unknown when Redis went down under it, and they were re-read.
      expect(run.after).toBeLessThan(run.before);
      expect(run.resyncs.length).toBeGreaterThanOrEqual(1);
    } finally {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
