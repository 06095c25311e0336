import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { instantEpoch } from '../../src/engine/barrier.js';
import type { KafkaRecord } from '../../src/kafka/types.js';
import { createScorer, type Scorer } from '../../src/pipeline/scorer.js';
import { RankingStore } from '../../src/state/ranking.js';
import { StateStore } from '../../src/state/store.js';
import { createRandom } from '../../src/simulator/random.js';
import { uniqueName } from '../helpers/unique.js';
import { cliEnv, runCli } from '../cli/spawn-cli.js';
import { indexChanges } from './replay-equivalence.js';
import { createTopics, readTopic, testConfig, testKafka, uniqueNames, useE2eStack, waitFor } from './support.js';

const PARTITIONS = 4;
const CUSTOMERS = 240;
const HOUR = 3_600_000;
const EVERY = 6 * HOUR;
/** A multiple of EVERY well in the past (the validator refuses event times in the future). */
const START = Date.UTC(2026, 0, 5);

// A 2-day window in hourly buckets, 1-day inactivity, boundaries every 6 h: the input's 40 to 52
// hours span seven instants, and buckets leave the window and customers go quiet in between.
const POLICY = `
version: "evclock-replay-1"
name: share-evclock-replay
currency: CNY
window: 2d
bucket: 1h
inactivity: { after: 1d, tier: lapsed }
ranking: { every: 6h }
tiers:
  - name: vip
    relative: { monetary: { top: "10%" } }
  - name: major
    relative: { monetary: { from: "10%", to: "40%" } }
fallback: small
`;

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

  it('scores the same input three times (one scorer, a group that changes membership, pyramid replay) into identical tier-change streams and epochs', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pyramid-evclock-'));
    const policyFile = join(dir, 'share-evclock.yaml');
    writeFileSync(policyFile, POLICY);
    const topic = uniqueName('evclock-tx');
    await createTopics(e2e.stack.brokers, [topic], PARTITIONS);
    const records = input();
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
    const end = expectedEnd(records);
    const partitionOf = new Map(records.flat().map((r) => [r.customerId, r.partition]));

    const configFor = (names: ReturnType<typeof uniqueNames>) =>
      testConfig({
        brokers: e2e.stack.brokers,
        redisUrl: inject('redisUrl'),
        names: { ...names, transactions: topic },
        overrides: { policyFile, clock: 'event', topics: { transactions: topic, tierChanges: names.tierChanges, signals: names.signals, dlq: names.dlq, boundaries: `${names.keyPrefix}-boundaries` }, ranking: { interval: 200, lease: 3000 } },
      });

    /** True once every partition stands where the barrier leaves it, with the last epoch re-evaluated. */
    const finished = (store: StateStore) => async (): Promise<boolean> => {
      for (let p = 0; p < PARTITIONS; p++) {
        const meta = await store.readMeta(topic, p);
        if (meta?.lastOffset !== end.lastOffsets[p] || meta?.boundaryEpoch !== instantEpoch(end.instant, EVERY)) return false;
      }
      return true;
    };

    /** The tier-change topic once every change the outboxes took has arrived, and the epochs published. */
    async function outcome(names: ReturnType<typeof uniqueNames>, store: StateStore) {
      let appended = 0;
      for (let p = 0; p < PARTITIONS; p++) appended += (await store.readMeta(topic, p))?.outboxSeq ?? 0;
      const published = await readTopic(e2e.stack.brokers, names.tierChanges, (r) => r.length >= appended);
      const epochs = (await new RankingStore(e2e.redis, names.keyPrefix).readAll()).map((e) => e.boundaries);
      return { appended, published, epochs };
    }

    // Run 1: one scorer.
    const one = uniqueNames('evclock-one');
    const storeOne = new StateStore({ redis: e2e.redis, prefix: one.keyPrefix, partitionCount: PARTITIONS });
    const single = e2e.track(createScorer(configFor(one)));
    await single.start();
    expect(await waitFor(finished(storeOne), 90_000, 100)).toBe(true);
    const first = await outcome(one, storeOne);
    await single.stop();

    // Run 2: a group of two; a second member joins after the first epoch, the first leaves later.
    const two = uniqueNames('evclock-two');
    const storeTwo = new StateStore({ redis: e2e.redis, prefix: two.keyPrefix, partitionCount: PARTITIONS });
    const rankingTwo = new RankingStore(e2e.redis, two.keyPrefix);
    const a = e2e.track(createScorer(configFor(two)));
    await a.start();
    expect(await waitFor(async () => (await rankingTwo.latestEpoch()) >= instantEpoch(START, EVERY), 60_000, 50)).toBe(true);
    const b: Scorer = e2e.track(createScorer(configFor(two)));
    await b.start();
    expect(await waitFor(() => b.assignment().length > 0 && a.assignment().length + b.assignment().length === PARTITIONS, 60_000, 50)).toBe(true);
    expect(await waitFor(async () => (await rankingTwo.latestEpoch()) >= instantEpoch(START + 3 * EVERY, EVERY), 60_000, 50)).toBe(true);
    await a.stop();
    expect(await waitFor(finished(storeTwo), 90_000, 100)).toBe(true);
    const second = await outcome(two, storeTwo);
    await b.stop();

    // Run 3: `pyramid replay` into a fresh prefix stops where the barrier stops, and says why.
    const three = uniqueNames('evclock-three');
    const storeThree = new StateStore({ redis: e2e.redis, prefix: three.keyPrefix, partitionCount: PARTITIONS });
    const env = cliEnv({
      brokers: e2e.stack.brokers,
      redisUrl: inject('redisUrl'),
      names: { ...three, transactions: topic },
      extra: { PYRAMID_POLICY_FILE: policyFile, PYRAMID_RANKING_INTERVAL: '200', PYRAMID_RANKING_LEASE: '3s', PYRAMID_TOPIC_BOUNDARIES: `${three.keyPrefix}-boundaries` },
    });
    const replayed = await runCli(['replay', '--prefix', three.keyPrefix, '--output-topic', three.tierChanges, '--progress-every', '1'], env, 120_000);
    expect(replayed.code, replayed.stderr).toBe(0);
    const waitingOn = records.flatMap((r, p) => (Math.max(...r.map((x) => x.eventTime)) < end.instant + EVERY ? [p] : []));
    expect(replayed.stdout).toContain(`the boundary barrier holds at the boundary instant ${new Date(end.instant + EVERY).toISOString()}: partitions ${waitingOn.join(', ')} have no record at or after it`);
    expect(await finished(storeThree)()).toBe(true);
    const third = await outcome(three, storeThree);

    // The input spans several epochs, and the barrier held the tail: records at or after the
    // instant after the last one wait for a partition that never gets there.
    expect(first.epochs.map((e) => e.at)).toEqual(Array.from({ length: (end.instant - START) / EVERY + 1 }, (_, k) => START + k * EVERY));
    expect(first.epochs.length).toBeGreaterThanOrEqual(5);
    expect(end.lastOffsets.some((last, p) => last < (records[p] as Purchase[]).length - 1)).toBe(true);

    // Identical epochs, and identical tier-change streams: the same ids, the same records (no
    // payload field is wall-clock time, so whole values are compared), each once.
    expect(second.epochs).toEqual(first.epochs);
    expect(third.epochs).toEqual(first.epochs);
    const byId = (published: KafkaRecord[]) => indexChanges(published);
    const firstIndex = byId(first.published);
    const secondIndex = byId(second.published);
    expect(firstIndex.repeated).toBe(0);
    expect(secondIndex.repeated).toBe(0);
    expect(first.published).toHaveLength(first.appended);
    expect(second.appended).toBe(first.appended);
    expect([...secondIndex.byId].sort()).toEqual([...firstIndex.byId].sort());
    expect([...byId(third.published).byId].sort()).toEqual([...firstIndex.byId].sort());
    const causes = new Set([...firstIndex.byId.values()].map((text) => (JSON.parse(text) as { cause: string }).cause));
    expect([...causes].sort()).toEqual(['BOUNDARY', 'TIME', 'TRANSACTION']);

    // The same order per partition: within each output partition, the changes of each input
    // partition (one relay producer each) in the order they were published.
    const order = (published: KafkaRecord[]): Map<string, string[]> => {
      const sequences = new Map<string, string[]>();
      for (const record of [...published].sort((x, y) => x.partition - y.partition || Number(BigInt(x.offset) - BigInt(y.offset)))) {
        const change = JSON.parse(record.value!.toString()) as { eventId: string; customerId: string };
        const key = `${record.partition}<-${partitionOf.get(change.customerId) ?? '?'}`;
        sequences.set(key, [...(sequences.get(key) ?? []), change.eventId]);
      }
      return sequences;
    };
    expect([...order(second.published)].sort()).toEqual([...order(first.published)].sort());
    expect([...order(third.published)].sort()).toEqual([...order(first.published)].sort());
  }, 240_000);
});
