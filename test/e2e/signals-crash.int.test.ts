import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
import { appliedPosition, indexSignals } from './replay-equivalence.js';
import { createTopics, DEFAULT_POLICY, readTopic, testConfig, testKafka, uniqueNames, waitFor } from './support.js';

const EVENTS = 30_000;
const PARTITIONS = 4;
const DAY = 86_400_000;

/**
 * The shipped pyramid policy under a version of its own, with both signals switched on and a
 * longer grace (45 days), so more downgrades wait and some are cancelled by new spend.
 */
const SIGNAL_POLICY = `${readFileSync(DEFAULT_POLICY, 'utf8')
  .replace(/^version: .*$/m, 'version: "signals-e2e"')
  .replace(/^ {2}downgradeGrace: 7d$/m, '  downgradeGrace: 45d')}
signals:
  nearUpgrade:
    within: { ofThreshold: "25%" }
    cooldown: 30d
  downgradePending: true
`;

/** Seed of the kill moments, printed so a failing run can be replayed with CRASH_TEST_SEED=<seed>. */
function crashSeed(): number {
  const given = process.env.CRASH_TEST_SEED;
  if (given === undefined || given === '') return Math.floor(Math.random() * 2 ** 32);
  if (!/^\d+$/.test(given) || Number(given) >= 2 ** 32) throw new Error(`CRASH_TEST_SEED must be an integer from 0 to 2^32 - 1, got '${given}'`);
  return Number(given);
}

/**
 * Issue 13's signal check: the same input scored by an uninterrupted scorer and by a scorer
 * process SIGKILLed at random moments publishes the same signals, each seen exactly once by
 * read_committed readers (kafkajs and kcat), with identical content; the tier-change topic
 * carries tier changes only.
 */
describe('signals survive a SIGKILL of the scorer (event clock)', () => {
  let stack: DevStackHandle;
  const redis = new Redis(inject('redisUrl'));
  const input = uniqueNames('signals-eq');
  const dir = mkdtempSync(join(tmpdir(), 'pyramid-signals-'));
  const policyFile = join(dir, 'signals.yaml');
  let total = 0;
  let reference: Map<string, string>;

  const storeFor = (prefix: string): StateStore => new StateStore({ redis, prefix, partitionCount: PARTITIONS });

  /** Entries still waiting in the outboxes: 0 once everything applied is published. */
  async function pending(store: StateStore): Promise<number> {
    let sum = 0;
    for (let p = 0; p < PARTITIONS; p++) sum += await store.outboxLength(input.transactions, p);
    return sum;
  }

  /** The signals topic as kcat reads it to the end, read_committed: signal ids in log order. */
  async function kcatSignalIds(topic: string): Promise<string[]> {
    const out = await kcat(['-C', '-b', stack.brokers[0]!, '-t', topic, '-o', 'beginning', '-e', '-q', '-X', 'isolation.level=read_committed', '-f', '%k\t%s\n'], undefined, 120_000);
    expect(out.code, out.stderr).toBe(0);
    return out.stdout
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => {
        const [key, value] = line.split('\t') as [string, string];
        const signal = JSON.parse(value) as { signalId: string; customerId: string };
        // Keyed by customer, like tier changes.
        expect(key).toBe(signal.customerId);
        return signal.signalId;
      });
  }

  beforeAll(async () => {
    writeFileSync(policyFile, SIGNAL_POLICY);
    stack = await startDevStack({ brokerPort: 0, registryPort: 0 });
    await createTopics(stack.brokers, [input.transactions], PARTITIONS);
    const producer = testKafka(stack.brokers).createProducer();
    // Whole days, so the seeded history falls into the same daily buckets on every run.
    const startTime = Math.floor(Date.now() / DAY) * DAY - 500 * DAY;
    const sim = await runSimulator({ producer, topic: input.transactions, format: 'json', seed: 1313, customers: 1_500, count: EVENTS, startTime, spacingMs: (480 * DAY) / EVENTS, batchSize: 2_000 });
    await producer.disconnect();
    total = sim.sent;

    const names = uniqueNames('signals-ref');
    const config = testConfig({ brokers: stack.brokers, redisUrl: inject('redisUrl'), names: { ...names, transactions: input.transactions }, overrides: { clock: 'event', policyFile } });
    const scorer = createScorer(config);
    await scorer.start();
    const store = storeFor(names.keyPrefix);
    expect(await waitFor(async () => (await appliedPosition(redis, store, input.transactions, PARTITIONS)) === total && (await pending(store)) === 0, 120_000, 200)).toBe(true);
    await scorer.stop();
    const ids = await kcatSignalIds(names.signals);
    reference = indexSignals(await readTopic(stack.brokers, names.signals, (r) => r.length >= ids.length, 60_000)).byId;
    expect(reference.size).toBe(ids.length);
  }, 240_000);

  afterAll(async () => {
    await stack.close();
    redis.disconnect();
    rmSync(dir, { recursive: true, force: true });
  });

  it('the uninterrupted run emits every kind of signal, on the signals topic only', async () => {
    const types = new Map<string, number>();
    for (const text of reference.values()) {
      const { type } = JSON.parse(text) as { type: string };
      types.set(type, (types.get(type) ?? 0) + 1);
    }
    console.error(`signals run: ${reference.size} signals of ${total} records: ${JSON.stringify(Object.fromEntries(types))}`);
    expect(types.get('NEAR_UPGRADE') ?? 0).toBeGreaterThan(100);
    expect(types.get('DOWNGRADE_PENDING') ?? 0).toBeGreaterThan(5);
    expect(types.get('DOWNGRADE_CANCELLED') ?? 0).toBeGreaterThan(0);
  });

  it('a scorer process SIGKILLed at random moments and restarted publishes each signal exactly once, the same set as the uninterrupted run', async () => {
    const names = uniqueNames('signals-crash');
    const env = cliEnv({
      brokers: stack.brokers,
      redisUrl: inject('redisUrl'),
      names: { ...names, transactions: input.transactions },
      extra: { PYRAMID_CLOCK: 'event', PYRAMID_POLICY_FILE: policyFile, PYRAMID_CONSUMER_MAX_BYTES_PER_PARTITION: '32768', PYRAMID_CONSUMER_CONCURRENCY: '2' },
    });
    const store = storeFor(names.keyPrefix);
    const seed = crashSeed();
    const random = createRandom(seed);
    console.error(`signals crash run: kill moments from seed ${seed} (replay with CRASH_TEST_SEED=${seed})`);
    let kills = 0;
    let cli: CliProcess = startCli(['run'], env);
    for (let k = 1; k <= 3; k++) {
      // Kill somewhere inside the k-th quarter of the input, at a random point.
      const target = Math.floor((total * (k + random.next() * 0.8)) / 5);
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
    expect(await waitFor(async () => (await appliedPosition(redis, store, input.transactions, PARTITIONS)) === total && (await pending(store)) === 0, 120_000, 200), cli.stderr()).toBe(true);
    cli.child.kill('SIGTERM');
    expect(await cli.exited, cli.stderr()).toBe(0);
    expect(kills).toBeGreaterThanOrEqual(2);

    const kcatIds = await kcatSignalIds(names.signals);
    expect(kcatIds).toHaveLength(reference.size);
    expect(new Set(kcatIds).size).toBe(reference.size);
    const committed = indexSignals(await readTopic(stack.brokers, names.signals, (r: KafkaRecord[]) => r.length >= reference.size, 60_000));
    expect(committed.repeated).toBe(0);
    expect(committed.conflicting).toEqual([]);
    expect([...reference.keys()].filter((id) => !committed.byId.has(id))).toEqual([]);
    expect([...committed.byId].filter(([id, text]) => reference.get(id) !== text)).toEqual([]);
    // The tier-change topic holds tier changes only: no signal leaked into it.
    const out = await kcat(['-C', '-b', stack.brokers[0]!, '-t', names.tierChanges, '-o', 'beginning', '-e', '-q', '-X', 'isolation.level=read_committed', '-f', '%s\n'], undefined, 120_000);
    expect(out.code, out.stderr).toBe(0);
    const changes = out.stdout.split('\n').filter((line) => line !== '').map((line) => JSON.parse(line) as { eventId?: string; signalId?: string });
    expect(changes.length).toBeGreaterThan(1_000);
    expect(changes.filter((c) => c.eventId === undefined || c.signalId !== undefined)).toEqual([]);
  }, 300_000);
});
