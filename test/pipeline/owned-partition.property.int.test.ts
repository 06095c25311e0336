import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { firstCountedBucket, windowTotals } from '../../src/engine/aggregates.js';
import { averageDailyBalance } from '../../src/engine/balances.js';
import type { CompiledPolicy } from '../../src/policy/types.js';
import { ReferenceModel } from '../engine/reference-model.js';
import { buildCalls, buildRecords, comparable, CUSTOMERS, POLICIES, scenario } from '../engine/scenarios.js';
import { useStateRedis } from '../state/store-helpers.js';
import { addCounts, outboxChanges, outboxSignals, ownedPartition, sweepAll } from './owned-partition-fixture.js';
import type { StateStore } from '../../src/state/store.js';

const TOPIC = 'tx';

/**
 * The engine behind the Redis store, the way the scorer runs it: a cache that may hold fewer
 * customers than the partition has (eviction), timers loaded in bounded pages, commits pipelined
 * and fenced. Against the reference model: the same changes, final states and counters.
 */
describe('an owned partition (engine + Redis store) against the reference model', () => {
  const { redis, newPrefix } = useStateRedis();

  async function expectStoredLikeModel(store: StateStore, model: ReferenceModel, policy: CompiledPolicy, now: number): Promise<void> {
    for (const id of CUSTOMERS) {
      const stored = await store.readCustomer(TOPIC, 0, id);
      const expected = model.customers.get(id);
      if (expected === undefined || expected.tier === null) {
        expect(stored?.tier ?? null).toBeNull();
        continue;
      }
      const snap = model.snapshot(expected, now);
      expect({ tier: stored?.tier, seq: stored?.seq, signalSeq: stored?.signalSeq, nearUpgradeAt: stored?.nearUpgradeAt, pending: stored?.pendingDowngradeSince, lp: stored?.lastPurchaseAt, ...windowTotals(stored?.buckets ?? [], firstCountedBucket(policy, now)), averageDailyBalance: averageDailyBalance(policy, stored?.balances, now) }).toEqual({
        tier: expected.tier,
        seq: expected.seq,
        signalSeq: expected.signalSeq,
        nearUpgradeAt: expected.nearUpgradeAt,
        pending: expected.pendingDowngradeSince,
        lp: expected.lastPurchaseAt,
        monetary: snap.monetary,
        frequency: snap.frequency,
        profit: snap.profit,
        averageDailyBalance: snap.averageDailyBalance,
      });
      const timer = await store.readTimer(TOPIC, 0, id);
      if (expected.due !== null) expect(timer).toBeLessThanOrEqual(expected.due);
    }
    // The per-tier counters equal a count of the stored customers.
    const counted: Record<string, { customers: number; revenueMinor: number; profitMinor: number }> = {};
    for await (const { state } of store.scanCustomers(TOPIC, 0)) {
      if (state.tier === null) continue;
      const entry = (counted[state.tier] ??= { customers: 0, revenueMinor: 0, profitMinor: 0 });
      entry.customers += 1;
      entry.revenueMinor += state.buckets.reduce((sum, b) => sum + b.monetary, 0);
      entry.profitMinor += state.buckets.reduce((sum, b) => sum + (b.profit ?? 0), 0);
    }
    const meta = await store.readMeta(TOPIC, 0);
    const counters = Object.fromEntries(
      [...(meta?.counters ?? [])]
        .map(([tier, e]) => [tier, { customers: e.customers, revenueMinor: e.revenueMinor, profitMinor: e.profitMinor ?? 0 }] as const)
        .filter(([, e]) => e.customers !== 0 || e.revenueMinor !== 0 || e.profitMinor !== 0),
    );
    expect(counters).toEqual(counted);
  }

  const settings = fc.record({ cacheMax: fc.constantFrom(1, 2, 1000), chunk: fc.integer({ min: 1, max: 12 }), timerLoadLimit: fc.integer({ min: 1, max: 3 }) });

  it('event clock', async () => {
    await fc.assert(
      fc.asyncProperty(scenario, settings, async (s, { cacheMax, chunk, timerLoadLimit }) => {
        const policy = POLICIES[s.policy] as CompiledPolicy;
        const { store, owned } = await ownedPartition({ redis, prefix: newPrefix('op-ev'), policy, clock: 'event', cacheMax, timerLoadLimit });
        const model = new ReferenceModel(policy, 'event');
        const records = buildRecords(s);
        const totals = { applied: 0, duplicate: 0, late: 0, stale: 0, changes: 0, signals: 0 };
        for (const call of buildCalls(records, s)) {
          for (let from = 0; from < call.length; from += chunk) addCounts(totals, await owned.apply(call.slice(from, from + chunk)));
          await owned.settled();
          model.applyBatch(call);
        }
        expect(totals).toEqual(model.counts);
        expect(comparable(await outboxChanges(store, TOPIC, 0))).toEqual(model.changes);
        expect(await outboxSignals(store, TOPIC, 0)).toEqual(model.signals);
        await expectStoredLikeModel(store, model, policy, Math.max(...records.map((r) => r.eventTime)));
      }),
      { numRuns: 150 },
    );
  });

  it('wall clock, with sweeps in small pages', async () => {
    await fc.assert(
      fc.asyncProperty(scenario, settings, async (s, { cacheMax, chunk }) => {
        const policy = POLICIES[s.policy] as CompiledPolicy;
        const { store, owned } = await ownedPartition({ redis, prefix: newPrefix('op-wall'), policy, clock: 'wall', cacheMax });
        const model = new ReferenceModel(policy, 'wall');
        const records = buildRecords(s);
        let now = 0;
        const totals = { applied: 0, duplicate: 0, late: 0, stale: 0, changes: 0, signals: 0 };
        for (const [i, call] of buildCalls(records, s).entries()) {
          now = Math.max(now, ...call.map((r) => r.eventTime)) + (s.wallLag[i % s.wallLag.length] ?? 0);
          for (let from = 0; from < call.length; from += chunk) addCounts(totals, await owned.apply(call.slice(from, from + chunk), now));
          await owned.settled();
          model.applyBatch(call, now);
          if (i % 2 === 1) {
            await sweepAll(owned, now, s.sweepLimit);
            model.fireAll(now);
          }
        }
        now += 2500;
        await sweepAll(owned, now, s.sweepLimit);
        model.fireAll(now);
        const { changes: _c, signals: _s, ...counts } = totals;
        const { changes: _m, signals: _ms, ...expected } = model.counts;
        expect(counts).toEqual(expected);
        expect(comparable(await outboxChanges(store, TOPIC, 0))).toEqual(model.changes);
        expect(await outboxSignals(store, TOPIC, 0)).toEqual(model.signals);
        await expectStoredLikeModel(store, model, policy, now);
      }),
      { numRuns: 150 },
    );
  });
});
