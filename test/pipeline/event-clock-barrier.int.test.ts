import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { epochInstant, instantEpoch } from '../../src/engine/barrier.js';
import { computeBoundaries, rankedValues, type RankedCustomer, type RelativeBoundaries } from '../../src/engine/boundaries.js';
import type { TierChange } from '../../src/engine/change.js';
import type { EngineRecord } from '../../src/engine/types.js';
import { Instrumentation } from '../../src/instrumentation.js';
import { silentLogger } from '../../src/logger.js';
import { policyContentHash } from '../../src/policy/content-hash.js';
import { parsePolicy } from '../../src/policy/parse.js';
import { SHARE_EVCLOCK_POLICY } from '../helpers/share-evclock-policy.js';
import { CacheBudget } from '../../src/pipeline/customer-cache.js';
import { boundariesInForce } from '../../src/pipeline/inspect.js';
import { OwnedPartition } from '../../src/pipeline/owned-partition.js';
import { startBoundaryCoordinator, watchBoundaries } from '../../src/pipeline/relative-boundaries.js';
import { RankingStore } from '../../src/state/ranking.js';
import { StateStore } from '../../src/state/store.js';
import { useStateRedis } from '../state/store-helpers.js';
import { outboxChanges } from './owned-partition-fixture.js';

const TOPIC = 'tx';
const PARTITIONS = 3;
const HOUR = 3_600_000;
const EVERY = 6 * HOUR;
/** A Monday 00:00 UTC: a multiple of EVERY, so the input's instants are easy to read. */
const START = Date.UTC(2026, 10, 30);

// Within the input's 3 days the policy's buckets leave the window and customers go quiet.
const policy = parsePolicy(SHARE_EVCLOCK_POLICY, 'evclock.yaml');
const policyHash = policyContentHash(policy);

/** One partition's input: records in offset order (customers of partition p end in p). */
type Input = EngineRecord[][];

const inputArbitrary: fc.Arbitrary<Input> = fc
  .array(
    fc.array(fc.record({ customer: fc.nat(5), minutes: fc.nat(72 * 60), amount: fc.integer({ min: 1, max: 50_000 }), back: fc.constantFrom(0, 0, 0, 90) }), { minLength: 0, maxLength: 40 }),
    { minLength: PARTITIONS, maxLength: PARTITIONS },
  )
  .map((partitions) =>
    partitions.map((draws, p) => {
      // Mostly ascending event times, with a few late records (back: 90 minutes before the previous one).
      let time = START;
      return draws
        .sort((a, b) => a.minutes - b.minutes)
        .map((d, offset): EngineRecord => {
          time = Math.max(time, START + d.minutes * 60_000) - d.back * 60_000;
          return { offset, transactionId: `t-${p}-${offset}`, customerId: `c${d.customer}-${p}`, kind: 'purchase', amountMinor: d.amount, eventTime: time };
        });
    }),
  );

interface Run {
  changes: TierChange[][];
  epochs: RelativeBoundaries[];
  applied: (number | null)[];
}

/** A full sort of every stored customer's ranked value at `at`: what an epoch at `at` must say. */
async function fullSortAt(store: StateStore, at: number, epoch: number): Promise<RelativeBoundaries> {
  const ranked: RankedCustomer[] = [];
  for (let p = 0; p < PARTITIONS; p++) {
    for await (const { customerId, state } of store.scanCustomers(TOPIC, p)) {
      const values = rankedValues(policy, state, at);
      if (values !== null) ranked.push({ customerId, ...values });
    }
  }
  return computeBoundaries(policy, ranked, epoch, at);
}

/**
 * Drives three partitions by hand, `chunk` records per apply, visiting the partitions in `order`:
 * each applies until its next instant, reaches it and holds; the coordinator publishes once all
 * have; each partition's BOUNDARY pass releases it. Checks the barrier at every epoch.
 */
async function drive(redis: ReturnType<typeof useStateRedis>['redis'], prefix: string, input: Input, chunk: number, order: readonly number[]): Promise<Run> {
  const store = new StateStore({ redis, prefix, partitionCount: PARTITIONS, customerShards: 2 });
  const ranking = new RankingStore(redis, prefix);
  const watcher = watchBoundaries({ ranking, policyHash, intervalMs: 3_600_000, logger: silentLogger });
  const partitions: OwnedPartition[] = [];
  for (let p = 0; p < PARTITIONS; p++) {
    const owned = new OwnedPartition({ store, topic: TOPIC, partition: p, policy, policyHash, clock: 'event', dedupeHorizonMs: null, budget: new CacheBudget(10_000), timerLoadLimit: 3, logger: silentLogger, boundaries: watcher });
    await owned.claim();
    partitions.push(owned);
  }
  const coordinator = startBoundaryCoordinator({
    ranking, store, topic: TOPIC, partitions: [0, 1, 2], policy, policyHash, instance: 'a', intervalMs: 3_600_000, leaseMs: 60_000, everyMs: EVERY, eventClock: true, instrumentation: new Instrumentation(), logger: silentLogger,
  });
  const epochs: RelativeBoundaries[] = [];
  const inForce = boundariesInForce({ ranking, store, policy, clock: 'event', topic: TOPIC });
  try {
    for (let progress = true; progress; ) {
      progress = false;
      for (const p of order) {
        const owned = partitions[p] as OwnedPartition;
        if (owned.holding) continue;
        const next = Number(owned.nextOffset ?? 0n);
        const records = (input[p] as EngineRecord[]).slice(next, next + chunk);
        if (records.length === 0) continue;
        const cut = owned.barrierCut(records);
        const before = cut === null ? records : records.slice(0, cut.index);
        if (before.length > 0) await owned.apply(before);
        if (cut !== null) {
          await owned.reachBarrier(cut.instant);
          // Held: the record at the instant, and everything after it, is refused.
          await expect(owned.apply(records.slice(cut.index))).rejects.toThrow(/boundary instant/);
          expect(owned.holding).toBe(true);
        }
        await owned.settled();
        progress = true;
      }
      // The coordinator's own first tick may publish too: look at what is stored.
      await coordinator.tick();
      const published = (await ranking.readLatest())?.boundaries ?? null;
      if (published !== null && published.epoch !== epochs.at(-1)?.epoch) {
        const at = published.at;
        expect(published.epoch).toBe(instantEpoch(at, EVERY));
        expect(epochInstant(published.epoch, EVERY)).toBe(at);
        for (let p = 0; p < PARTITIONS; p++) {
          const meta = await store.readMeta(TOPIC, p);
          // Every partition reached the instant and applied nothing at or after it.
          expect(meta?.barrierInstant).toBeGreaterThanOrEqual(at);
          const applied = (input[p] as EngineRecord[]).slice(0, (meta?.lastOffset ?? -1) + 1);
          expect(applied.filter((r) => r.eventTime >= at)).toEqual([]);
        }
        // The boundaries equal a full sort of the state at the instant.
        expect(published).toEqual(await fullSortAt(store, at, published.epoch));
        epochs.push(published);
        progress = true;
      }
      await watcher.refresh();
      for (const p of order) {
        const owned = partitions[p] as OwnedPartition;
        const due = owned.boundaryPassDue;
        // Inspection reads the epoch in force in the partition: the published one only once re-evaluated.
        if (due) expect((await inForce(p))?.epoch ?? 0).toBeLessThan((epochs.at(-1) as RelativeBoundaries).epoch);
        while (owned.boundaryPassDue) {
          await owned.boundaryStep(0, 2);
          progress = true;
        }
        if (due) expect(await inForce(p)).toEqual(epochs.at(-1));
      }
    }
  } finally {
    await coordinator.stop();
    watcher.stop();
  }
  const changes: TierChange[][] = [];
  const applied: (number | null)[] = [];
  for (let p = 0; p < PARTITIONS; p++) {
    changes.push(await outboxChanges(store, TOPIC, p));
    applied.push((await store.readMeta(TOPIC, p))?.lastOffset ?? null);
  }
  return { changes, epochs, applied };
}

describe('event-clock boundary barrier (three partitions against Redis)', () => {
  const { redis, newPrefix } = useStateRedis();

  it('a partition without records holds the barrier, and the coordinator says which one', async () => {
    const prefix = newPrefix('barrier-empty');
    const store = new StateStore({ redis, prefix, partitionCount: PARTITIONS, customerShards: 2 });
    const ranking = new RankingStore(redis, prefix);
    const watcher = watchBoundaries({ ranking, policyHash, intervalMs: 3_600_000, logger: silentLogger });
    const instrumentation = new Instrumentation();
    const reports: { instant: number | null; waiting: number[] }[] = [];
    instrumentation.on('ranking.barrier', (e) => reports.push(e));
    const coordinator = startBoundaryCoordinator({
      ranking, store, topic: TOPIC, partitions: [0, 1, 2], policy, policyHash, instance: 'a', intervalMs: 3_600_000, leaseMs: 60_000, everyMs: EVERY, eventClock: true, instrumentation, logger: silentLogger,
    });
    try {
      const owned = await Promise.all(
        [0, 1, 2].map(async (p) => {
          const o = new OwnedPartition({ store, topic: TOPIC, partition: p, policy, policyHash, clock: 'event', dedupeHorizonMs: null, budget: new CacheBudget(10_000), logger: silentLogger, boundaries: watcher });
          await o.claim();
          return o;
        }),
      );
      const purchase = (p: number, offset: number, eventTime: number): EngineRecord => ({ offset, transactionId: `t-${p}-${offset}`, customerId: `c-${p}`, kind: 'purchase', amountMinor: 1000, eventTime });
      for (const p of [0, 1]) {
        const cut = owned[p]?.barrierCut([purchase(p, 0, START + HOUR)]);
        expect(cut).toEqual({ index: 0, instant: START });
        await owned[p]?.reachBarrier(START);
      }
      await coordinator.tick();
      expect(reports.at(-1)).toEqual({ instant: null, waiting: [2] });
      expect(await ranking.latestEpoch()).toBe(0);
      // Its first record, a day later, reaches a later instant: the first epoch is the earliest reached.
      await owned[2]?.reachBarrier(START + 4 * EVERY);
      await coordinator.tick();
      expect(reports.at(-1)).toEqual({ instant: START, waiting: [] });
      expect((await ranking.readLatest())?.boundaries).toMatchObject({ epoch: instantEpoch(START, EVERY), at: START, population: 0 });
      // Partition 2 waits for its own instant's epoch; 0 and 1 are released by theirs.
      await watcher.refresh();
      expect(owned.map((o) => o.boundaryPassDue)).toEqual([true, true, false]);
      for (const o of owned) while (o.boundaryPassDue) await o.boundaryStep(0, 10);
      expect(owned.map((o) => o.holding)).toEqual([false, false, true]);
      await coordinator.tick();
      expect(reports.at(-1)).toEqual({ instant: START + EVERY, waiting: [0, 1] });
    } finally {
      await coordinator.stop();
      watcher.stop();
    }
  });

  it('holds every partition at each instant until its epoch, whose boundaries equal a full sort of the state there; chunking and order change nothing', async () => {
    await fc.assert(
      fc.asyncProperty(inputArbitrary, fc.integer({ min: 1, max: 7 }), fc.constantFrom([0, 1, 2], [2, 0, 1], [1, 2, 0]), async (input, chunk, order) => {
        const one = await drive(redis, newPrefix('barrier-a'), input, 50, [0, 1, 2]);
        const two = await drive(redis, newPrefix('barrier-b'), input, chunk, order);
        expect(two.epochs).toEqual(one.epochs);
        expect(two.applied).toEqual(one.applied);
        expect(two.changes).toEqual(one.changes);
        // Where the input stops the barrier: the records at or after the instant after the last
        // epoch wait, because some partition has no record that late (or none at all).
        const last = one.epochs.at(-1)?.at;
        const lastByPartition = input.map((records) => Math.max(...records.map((r) => r.eventTime)));
        if (input.some((records) => records.length === 0)) expect(one.epochs).toEqual([]);
        else expect(last).toBe(Math.floor(Math.min(...lastByPartition) / EVERY) * EVERY);
      }),
      { numRuns: 12 },
    );
  }, 120_000);
});
