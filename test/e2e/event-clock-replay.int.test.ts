import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { instantEpoch } from '../../src/engine/barrier.js';
import type { RelativeBoundaries } from '../../src/engine/boundaries.js';
import type { KafkaRecord } from '../../src/kafka/types.js';
import { createScorer, type Scorer } from '../../src/pipeline/scorer.js';
import { RankingStore } from '../../src/state/ranking.js';
import { SHARE_EVCLOCK_POLICY } from '../helpers/share-evclock-policy.js';
import { StateStore } from '../../src/state/store.js';
import { createRandom } from '../../src/simulator/random.js';
import { uniqueName } from '../helpers/unique.js';
import { cliEnv, runCli, startCli, type CliProcess } from '../cli/spawn-cli.js';
import { indexChanges } from './replay-equivalence.js';
import { createTopics, readTopic, testConfig, testKafka, uniqueNames, useE2eStack, waitFor } from './support.js';

const PARTITIONS = 4;
const CUSTOMERS = 240;
const HOUR = 3_600_000;
const EVERY = 6 * HOUR;
/** A multiple of EVERY well in the past (the validator refuses event times in the future). */
const START = Date.UTC(2026, 0, 5);

// The input's 40 to 52 hours span seven instants of the policy's 6 h.
const POLICY = SHARE_EVCLOCK_POLICY;

interface Purchase {
  partition: number;
  customerId: string;
  transactionId: string;
  amountMinor: number;
  eventTime: number;
}

/**
 * The input, partition by partition in offset order: each customer lives in partition
 * customer % 4 and buys a few times over 40 hours (partition p: 40 + 4p hours, so the later
 * partitions have records past the last instant all of them reach); event times rise within a
 * partition but for a few late records, and a few transactions are sent twice (the copy is a
 * duplicate).
 */
function input(): Purchase[][] {
  const random = createRandom(2026);
  const byPartition: Purchase[][] = Array.from({ length: PARTITIONS }, () => []);
  for (let p = 0; p < PARTITIONS; p++) {
    const out = byPartition[p] as Purchase[];
    for (let i = 0; i < 150; i++) {
      const customer = p + PARTITIONS * Math.floor(random.next() * (CUSTOMERS / PARTITIONS));
      const late = random.next() < 0.05 ? 3 * HOUR : 0;
      const eventTime = START + Math.floor((i / 150) * (40 + 4 * p) * HOUR) - late;
      out.push({ partition: p, customerId: `cust-${String(customer).padStart(4, '0')}`, transactionId: `t-${p}-${i}`, amountMinor: 100 + Math.floor(random.next() * 100_000), eventTime });
      if (random.next() < 0.03) out.push({ ...(out.at(-1) as Purchase) });
    }
  }
  return byPartition;
}

/** Where the barrier leaves each partition: the last instant every partition reaches, and each partition's last applied offset. */
function expectedEnd(records: Purchase[][]): { instant: number; lastOffsets: number[] } {
  const instant = Math.min(...records.map((r) => Math.floor(Math.max(...r.map((x) => x.eventTime)) / EVERY) * EVERY));
  const lastOffsets = records.map((r) => {
    const held = r.findIndex((x) => x.eventTime >= instant + EVERY);
    return (held < 0 ? r.length : held) - 1;
  });
  return { instant, lastOffsets };
}

describe('event-clock replay with relative tiers: boundaries at ranking.every instants', () => {
  const e2e = useE2eStack();
  const topic = uniqueName('evclock-tx');
  const records = input();
  const end = expectedEnd(records);
  const partitionOf = new Map(records.flat().map((r) => [r.customerId, r.partition]));
  let policyFile = '';
  /** The first run, one scorer: what every other run must repeat. */
  let reference: Outcome;

  interface Outcome {
    appended: number;
    published: KafkaRecord[];
    epochs: RelativeBoundaries[];
  }

  const configFor = (names: ReturnType<typeof uniqueNames>) =>
    testConfig({
      brokers: e2e.stack.brokers,
      redisUrl: inject('redisUrl'),
      names: { ...names, transactions: topic },
      overrides: { policyFile, clock: 'event', topics: { transactions: topic, tierChanges: names.tierChanges, signals: names.signals, dlq: names.dlq, boundaries: `${names.keyPrefix}-boundaries` }, ranking: { interval: 200, lease: 3000 } },
    });

  const envFor = (names: ReturnType<typeof uniqueNames>): Record<string, string> =>
    cliEnv({
      brokers: e2e.stack.brokers,
      redisUrl: inject('redisUrl'),
      names: { ...names, transactions: topic },
      extra: { PYRAMID_CLOCK: 'event', PYRAMID_POLICY_FILE: policyFile, PYRAMID_RANKING_INTERVAL: '200', PYRAMID_RANKING_LEASE: '3s', PYRAMID_TOPIC_BOUNDARIES: `${names.keyPrefix}-boundaries` },
    });

  const storeFor = (names: ReturnType<typeof uniqueNames>): StateStore => new StateStore({ redis: e2e.redis, prefix: names.keyPrefix, partitionCount: PARTITIONS });

  /** True once every partition stands where the barrier leaves it, with the last epoch re-evaluated. */
  const finished = (store: StateStore) => async (): Promise<boolean> => {
    for (let p = 0; p < PARTITIONS; p++) {
      const meta = await store.readMeta(topic, p);
      if (meta?.lastOffset !== end.lastOffsets[p] || meta?.boundaryEpoch !== instantEpoch(end.instant, EVERY)) return false;
    }
    return true;
  };

  /** The tier-change topic once every change the outboxes took has arrived, and the epochs published. */
  async function outcome(names: ReturnType<typeof uniqueNames>): Promise<Outcome> {
    const store = storeFor(names);
    let appended = 0;
    for (let p = 0; p < PARTITIONS; p++) appended += (await store.readMeta(topic, p))?.outboxSeq ?? 0;
    const published = await readTopic(e2e.stack.brokers, names.tierChanges, (r) => r.length >= appended);
    const epochs = (await new RankingStore(e2e.redis, names.keyPrefix).readAll()).map((e) => e.boundaries);
    return { appended, published, epochs };
  }

  /** The same order per partition: within each output partition, the changes of each input partition (one relay producer each) as published. */
  function order(published: KafkaRecord[]): [string, string[]][] {
    const sequences = new Map<string, string[]>();
    for (const record of [...published].sort((x, y) => x.partition - y.partition || Number(BigInt(x.offset) - BigInt(y.offset)))) {
      const change = JSON.parse(record.value!.toString()) as { eventId: string; customerId: string };
      const key = `${record.partition}<-${partitionOf.get(change.customerId) ?? '?'}`;
      sequences.set(key, [...(sequences.get(key) ?? []), change.eventId]);
    }
    return [...sequences].sort(([a], [b]) => (a < b ? -1 : 1));
  }

  /**
   * Identical epochs and tier-change streams: the same ids and whole records (no payload field is
   * wall-clock time, so nothing is left out), each once, in the same order per partition.
   */
  function expectSameAsReference(run: Outcome): void {
    expect(run.epochs).toEqual(reference.epochs);
    const index = indexChanges(run.published);
    expect(index.repeated).toBe(0);
    expect(index.conflicting).toEqual([]);
    expect(run.appended).toBe(reference.appended);
    expect([...index.byId].sort()).toEqual([...indexChanges(reference.published).byId].sort());
    expect(order(run.published)).toEqual(order(reference.published));
  }

  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pyramid-evclock-'));
    policyFile = join(dir, 'share-evclock.yaml');
    writeFileSync(policyFile, POLICY);
    await createTopics(e2e.stack.brokers, [topic], PARTITIONS);
    const producer = testKafka(e2e.stack.brokers).createProducer();
    await producer.connect();
    for (const partition of records) {
      await producer.send(
        topic,
        partition.map((r) => ({
          key: r.customerId,
          partition: r.partition,
          value: JSON.stringify({ transactionId: r.transactionId, customerId: r.customerId, kind: 'PURCHASE', amountMinor: r.amountMinor, currency: 'CNY', eventTime: r.eventTime }),
        })),
      );
    }
    await producer.disconnect();

    const one = uniqueNames('evclock-one');
    const single = createScorer(configFor(one));
    await single.start();
    try {
      expect(await waitFor(finished(storeFor(one)), 90_000, 100)).toBe(true);
      reference = await outcome(one);
    } finally {
      await single.stop();
    }
    // The input spans several epochs, and the barrier held the tail: records at or after the
    // instant after the last one wait for a partition that never gets there.
    expect(reference.epochs.map((e) => e.at)).toEqual(Array.from({ length: (end.instant - START) / EVERY + 1 }, (_, k) => START + k * EVERY));
    expect(reference.epochs.length).toBeGreaterThanOrEqual(5);
    expect(end.lastOffsets.some((last, p) => last < (records[p] as Purchase[]).length - 1)).toBe(true);
    expect(reference.published).toHaveLength(reference.appended);
    const causes = new Set(reference.published.map((r) => (JSON.parse(r.value!.toString()) as { cause: string }).cause));
    expect([...causes].sort()).toEqual(['BOUNDARY', 'TIME', 'TRANSACTION']);
  }, 120_000);

  it('a group whose membership changes twice (a member joins after the first epoch, the other leaves later) gives the same epochs and stream', async () => {
    const two = uniqueNames('evclock-two');
    const ranking = new RankingStore(e2e.redis, two.keyPrefix);
    const a = e2e.track(createScorer(configFor(two)));
    await a.start();
    expect(await waitFor(async () => (await ranking.latestEpoch()) >= instantEpoch(START, EVERY), 60_000, 50)).toBe(true);
    const b: Scorer = e2e.track(createScorer(configFor(two)));
    await b.start();
    expect(await waitFor(() => b.assignment().length > 0 && a.assignment().length + b.assignment().length === PARTITIONS, 60_000, 50)).toBe(true);
    expect(await waitFor(async () => (await ranking.latestEpoch()) >= instantEpoch(START + 3 * EVERY, EVERY), 60_000, 50)).toBe(true);
    await a.stop();
    expect(await waitFor(finished(storeFor(two)), 90_000, 100)).toBe(true);
    expectSameAsReference(await outcome(two));
  }, 120_000);

  it('a scorer process SIGKILLed at two epochs and restarted resumes at its stored watermarks and instants: the same epochs and stream', async () => {
    const three = uniqueNames('evclock-crash');
    const ranking = new RankingStore(e2e.redis, three.keyPrefix);
    const given = process.env.CRASH_TEST_SEED;
    const seed = given !== undefined && /^\d+$/.test(given) ? Number(given) : Math.floor(Math.random() * 2 ** 32);
    const random = createRandom(seed);
    console.error(`event-clock crash run: kill delays from seed ${seed} (replay with CRASH_TEST_SEED=${seed})`);
    let cli: CliProcess = startCli(['run'], envFor(three));
    try {
      for (const k of [1, 3]) {
        const reached = await waitFor(async () => (await ranking.latestEpoch()) >= instantEpoch(START + k * EVERY, EVERY) || cli.child.exitCode !== null, 60_000, 20);
        expect(reached && cli.child.exitCode === null, `seed ${seed}: ${cli.stderr()}`).toBe(true);
        // Somewhere in the BOUNDARY passes and the records after them.
        await new Promise((r) => setTimeout(r, random.next() * 300));
        cli.child.kill('SIGKILL');
        expect(await cli.exited).toBe('SIGKILL');
        cli = startCli(['run'], envFor(three));
      }
      expect(await waitFor(finished(storeFor(three)), 90_000, 100), cli.stderr()).toBe(true);
      // Let the last outbox flush, then a clean stop.
      expect(await waitFor(async () => (await outboxLeft(three)) === 0, 30_000, 100)).toBe(true);
    } finally {
      cli.child.kill('SIGTERM');
      expect(await cli.exited, cli.stderr()).toBe(0);
    }
    expectSameAsReference(await outcome(three));
  }, 120_000);

  it('pyramid replay into a fresh prefix stops where the barrier stops, says why, and gives the same epochs and stream', async () => {
    const four = uniqueNames('evclock-replay');
    const replayed = await runCli(['replay', '--prefix', four.keyPrefix, '--output-topic', four.tierChanges, '--progress-every', '1'], envFor(four), 120_000);
    expect(replayed.code, replayed.stderr).toBe(0);
    const waitingOn = records.flatMap((r, p) => (Math.max(...r.map((x) => x.eventTime)) < end.instant + EVERY ? [p] : []));
    expect(replayed.stdout).toContain(`the boundary barrier holds at the boundary instant ${new Date(end.instant + EVERY).toISOString()}: partitions ${waitingOn.join(', ')} have no record at or after it`);
    expect(await finished(storeFor(four))()).toBe(true);
    expectSameAsReference(await outcome(four));
  }, 120_000);

  /** Outbox entries not yet trimmed (published) over all partitions. */
  async function outboxLeft(names: ReturnType<typeof uniqueNames>): Promise<number> {
    const store = storeFor(names);
    let left = 0;
    for (let p = 0; p < PARTITIONS; p++) left += await store.outboxLength(topic, p);
    return left;
  }
});
