import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startDevStack, type DevStackHandle } from '@pyramid/devstack';
import { createScorer } from '../../src/pipeline/scorer.js';
import { createRandom } from '../../src/simulator/random.js';
import { runSimulator } from '../../src/simulator/run.js';
import type { KafkaRecord } from '../../src/kafka/types.js';
import { StateStore } from '../../src/state/store.js';
import { cliEnv, startCli, type CliProcess } from '../cli/spawn-cli.js';
import { kcat } from '../../packages/devstack/test/helpers/kcat.js';
import { appliedPosition, indexChanges, snapshotState } from './replay-equivalence.js';
import { createTopics, readTopic, testConfig, testKafka, uniqueNames, waitFor } from './support.js';

const EVENTS = 100_000;
const PARTITIONS = 4;
const DAY = 86_400_000;

/**
 * Seed of the kill moments: fresh each run so runs explore different moments, printed so a failing
 * run can be replayed with CRASH_TEST_SEED=<seed>.
 */
function crashSeed(): number {
  const given = process.env.CRASH_TEST_SEED;
  if (given === undefined || given === '') return Math.floor(Math.random() * 2 ** 32);
  if (!/^\d+$/.test(given) || Number(given) >= 2 ** 32) throw new Error(`CRASH_TEST_SEED must be an integer from 0 to 2^32 - 1, got '${given}'`);
  return Number(given);
}

/**
 * Checks 2 and 3 of the pipeline issue: the same input scored by an uninterrupted scorer, by a
 * scorer process SIGKILLed at random moments, and by a group of three processes that changes
 * membership midway, ends in the same state and the same set of tier-change events, each seen
 * exactly once by read_committed readers (read_uncommitted ones may see identical repeats).
 */
describe('crash and rebalance equivalence (event clock)', () => {
  let stack: DevStackHandle;
  const redis = new Redis(inject('redisUrl'));
  const input = uniqueNames('equivalence');
  let total = 0;
  let reference: { state: Map<string, string>; changes: Map<string, string> };

  const storeFor = (prefix: string): Promise<StateStore> => Promise.resolve(new StateStore({ redis, prefix, partitionCount: PARTITIONS }));

  const envFor = (names: ReturnType<typeof uniqueNames>): Record<string, string> =>
    cliEnv({
      brokers: stack.brokers,
      redisUrl: inject('redisUrl'),
      names: { ...names, transactions: input.transactions },
      extra: { PYRAMID_CLOCK: 'event', PYRAMID_CONSUMER_MAX_BYTES_PER_PARTITION: '65536', PYRAMID_CONSUMER_CONCURRENCY: '2' },
    });

  /**
   * The end state and the tier-change topic as read_committed readers see it (kafkajs until every
   * reference change arrived, and kcat to the end of every partition, so a late repeat is seen
   * too), and as a read_uncommitted kafkajs reader sees it (aborted transactions included).
   */
  async function finish(names: ReturnType<typeof uniqueNames>, store: StateStore) {
    const state = await snapshotState(redis, store, input.transactions, PARTITIONS);
    const complete = (r: KafkaRecord[]): boolean => indexChanges(r).byId.size >= reference.changes.size;
    const committed = indexChanges(await readTopic(stack.brokers, names.tierChanges, complete, 60_000));
    const uncommitted = indexChanges(await readTopic(stack.brokers, names.tierChanges, complete, 60_000, 'read_uncommitted'));
    const out = await kcat(['-C', '-b', stack.brokers[0]!, '-t', names.tierChanges, '-o', 'beginning', '-e', '-q', '-X', 'isolation.level=read_committed', '-f', '%s\n'], undefined, 120_000);
    expect(out.code, out.stderr).toBe(0);
    const kcatIds = out.stdout.split('\n').filter((line) => line !== '').map((line) => (JSON.parse(line) as { eventId: string }).eventId);
    return { state, changes: committed.byId, repeated: committed.repeated, conflicting: committed.conflicting, uncommitted, kcatIds };
  }

  /** Exactly once for read_committed readers, the reference's set; read_uncommitted: identical repeats only. */
  function expectExactlyOnce(result: Awaited<ReturnType<typeof finish>>): void {
    expect(result.repeated).toBe(0);
    expect(result.conflicting).toEqual([]);
    expect(result.changes.size).toBe(reference.changes.size);
    expect([...reference.changes.keys()].filter((id) => !result.changes.has(id))).toEqual([]);
    expect(result.kcatIds).toHaveLength(reference.changes.size);
    expect(new Set(result.kcatIds).size).toBe(reference.changes.size);
    expect(result.kcatIds.filter((id) => !reference.changes.has(id))).toEqual([]);
    expect(result.uncommitted.conflicting).toEqual([]);
    expect(result.uncommitted.byId.size).toBe(reference.changes.size);
    expect([...result.uncommitted.byId].filter(([id, text]) => result.changes.get(id) !== text)).toEqual([]);
  }

  beforeAll(async () => {
    stack = await startDevStack({ brokerPort: 0, registryPort: 0 });
    await createTopics(stack.brokers, [input.transactions], PARTITIONS);
    const producer = testKafka(stack.brokers).createProducer();
    const sim = await runSimulator({ producer, topic: input.transactions, format: 'json', seed: 2026, customers: 4_000, count: EVENTS, startTime: Date.now() - 500 * DAY, spacingMs: (480 * DAY) / EVENTS, batchSize: 2_000 });
    await producer.disconnect();
    total = sim.sent;

    // The uninterrupted reference run, in process.
    const names = uniqueNames('reference');
    const config = testConfig({ brokers: stack.brokers, redisUrl: inject('redisUrl'), names: { ...names, transactions: input.transactions }, overrides: { clock: 'event' } });
    const scorer = createScorer(config);
    await scorer.start();
    const store = await storeFor(names.keyPrefix);
    expect(await waitFor(async () => (await appliedPosition(redis, store, input.transactions, PARTITIONS)) === total, 120_000, 200)).toBe(true);
    await scorer.stop();
    const state = await snapshotState(redis, store, input.transactions, PARTITIONS);
    // Every change ever appended to an outbox took the next outbox sequence number.
    const appended = await Promise.all([0, 1, 2, 3].map(async (p) => (await store.readMeta(input.transactions, p))?.outboxSeq ?? 0));
    const expectedChanges = appended.reduce((a, b) => a + b, 0);
    const records = await readTopic(stack.brokers, names.tierChanges, (r) => r.length >= expectedChanges, 60_000);
    reference = { state, changes: indexChanges(records).byId };
    expect(reference.changes.size).toBe(expectedChanges);
    expect(reference.state.size).toBeGreaterThan(3_000);
  }, 240_000);

  afterAll(async () => {
    await stack.close();
    redis.disconnect();
  });

  it('a scorer process SIGKILLed at random moments, and restarted, ends exactly like the uninterrupted run', async () => {
    const names = uniqueNames('crash');
    const env = envFor(names);
    const store = await storeFor(names.keyPrefix);
    const startedAt = Date.now();
    let kills = 0;
    const seed = crashSeed();
    const random = createRandom(seed);
    console.error(`crash run: kill moments from seed ${seed} (replay with CRASH_TEST_SEED=${seed})`);
    let cli: CliProcess = startCli(['run'], env);
    for (let k = 1; k <= 6; k++) {
      // Kill somewhere inside the k-th seventh of the input, at a random point.
      const target = Math.floor((total * (k + random.next() * 0.8)) / 8);
      const reached = await waitFor(async () => (await appliedPosition(redis, store, input.transactions, PARTITIONS)) >= target || cli.child.exitCode !== null, 90_000, 10);
      expect(reached, `seed ${seed}`).toBe(true);
      expect(cli.child.exitCode, `seed ${seed}: ${cli.stderr()}`).toBeNull();
      await new Promise((r) => setTimeout(r, random.next() * 50));
      if ((await appliedPosition(redis, store, input.transactions, PARTITIONS)) >= total) break;
      cli.child.kill('SIGKILL');
      expect(await cli.exited).toBe('SIGKILL');
      kills += 1;
      cli = startCli(['run'], env);
    }
    expect(await waitFor(async () => (await appliedPosition(redis, store, input.transactions, PARTITIONS)) === total, 120_000, 200), cli.stderr()).toBe(true);
    // Let the last outbox flush, then a clean stop.
    cli.child.kill('SIGTERM');
    expect(await cli.exited, cli.stderr()).toBe(0);
    const result = await finish(names, store);
    console.error(`crash run: ${kills} SIGKILLs, ${result.uncommitted.repeated} repeats for read_uncommitted (identical content), ${((Date.now() - startedAt) / 1000).toFixed(1)} s`);
    expect(kills).toBeGreaterThanOrEqual(5);
    expectExactlyOnce(result);
    expect(result.state.size).toBe(reference.state.size);
    expect([...result.state].filter(([k, v]) => reference.state.get(k) !== v)).toEqual([]);
    expect([...result.changes].filter(([id, text]) => reference.changes.get(id) !== text)).toEqual([]);
  }, 300_000);

  /** The member's exit status, or 'still running' (then SIGKILLed) when it did not exit within `ms`. */
  async function exitWithin(member: CliProcess, ms: number): Promise<number | string> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<string>((resolve) => (timer = setTimeout(() => resolve('still running'), ms)));
    const outcome = await Promise.race([member.exited, late]);
    clearTimeout(timer);
    if (outcome === 'still running') member.child.kill('SIGKILL');
    return outcome;
  }

  it('three scorer processes in one group, one stopped and another started midway, end like the uninterrupted run', async () => {
    const names = uniqueNames('rebalance');
    const env = envFor(names);
    const store = await storeFor(names.keyPrefix);
    const group: CliProcess[] = [startCli(['run'], env), startCli(['run'], env), startCli(['run'], env)];
    try {
      expect(await waitFor(async () => (await appliedPosition(redis, store, input.transactions, PARTITIONS)) >= total / 3, 120_000, 20)).toBe(true);
      group[0]!.child.kill('SIGTERM');
      expect(await exitWithin(group[0]!, 60_000), group[0]!.stderr()).toBe(0);
      expect(await waitFor(async () => (await appliedPosition(redis, store, input.transactions, PARTITIONS)) >= (2 * total) / 3, 120_000, 20)).toBe(true);
      // The late member logs at info, so the test can tell when it runs: a SIGTERM that came
      // while it was still loading its modules would end it by the signal, before it had handlers.
      const late = startCli(['run'], { ...env, PYRAMID_LOG_LEVEL: 'info' });
      group.push(late);
      expect(await waitFor(async () => (await appliedPosition(redis, store, input.transactions, PARTITIONS)) === total, 120_000, 200)).toBe(true);
      expect(await waitFor(() => late.stdout().includes('"msg":"scorer running"') || late.child.exitCode !== null, 60_000, 100), late.stdout()).toBe(true);
    } finally {
      for (const member of group.slice(1)) member.child.kill('SIGTERM');
      for (const member of group.slice(1)) expect(await exitWithin(member, 60_000), `${member.stderr()}\n${member.stdout().slice(-4_000)}`).toBe(0);
    }
    const result = await finish(names, store);
    console.error(`rebalance run: ${result.uncommitted.repeated} repeats for read_uncommitted (identical content)`);
    expectExactlyOnce(result);
    expect([...result.state].filter(([k, v]) => reference.state.get(k) !== v)).toEqual([]);
    expect(result.state.size).toBe(reference.state.size);
  }, 300_000);
});
