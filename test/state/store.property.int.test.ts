import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { CompiledPolicy } from '../../src/policy/types.js';
import { createCensus } from '../../src/pipeline/census.js';
import { scanCustomers } from '../../src/state/customer-hash.js';
import { StateStore } from '../../src/state/store.js';
import { testPolicy } from './fixtures.js';
import { ReferenceModel, type ModelRecord } from './reference-model.js';
import { readWholeOutbox, sweepAll, useStateRedis } from './store-helpers.js';

const HORIZON_MS = 200;
const TOPIC = 'tx';
const CUSTOMERS = ['a', 'b', 'c', 'd'];

const POLICIES: Record<string, CompiledPolicy> = {
  plain: testPolicy(),
  grace: testPolicy({ version: 't-grace', hysteresis: { downgradeGraceMs: 30, downgradeMarginBps: 0 } }),
  margin: testPolicy({ version: 't-margin', hysteresis: { downgradeGraceMs: 0, downgradeMarginBps: 2500 } }),
  both: testPolicy({ version: 't-both', hysteresis: { downgradeGraceMs: 25, downgradeMarginBps: 1000 } }),
};

/** One generated step: a new transaction (or a re-sent id) some time after the previous one. */
const step = fc.record({
  customer: fc.constantFrom(...CUSTOMERS),
  kind: fc.constantFrom('purchase', 'purchase', 'purchase', 'refund') as fc.Arbitrary<'purchase' | 'refund'>,
  amount: fc.oneof(fc.integer({ min: 1, max: 300 }), fc.integer({ min: 300, max: 1500 })),
  // Mostly small advances, sometimes a long silence past window, grace and inactivity.
  advance: fc.oneof({ weight: 6, arbitrary: fc.integer({ min: 0, max: 20 }) }, { weight: 1, arbitrary: fc.integer({ min: 50, max: 450 }) }),
  // Out of order (inside the window) or late (beyond it).
  lateBy: fc.oneof({ weight: 5, arbitrary: fc.constant(0) }, { weight: 2, arbitrary: fc.integer({ min: 1, max: 60 }) }, { weight: 1, arbitrary: fc.integer({ min: 90, max: 200 }) }),
  // Re-send an earlier transaction id as a new record.
  duplicateOf: fc.oneof({ weight: 5, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: fc.nat() }),
});

const scenario = fc.record({
  policy: fc.constantFrom(...Object.keys(POLICIES)),
  steps: fc.array(step, { minLength: 1, maxLength: 40 }),
  cuts: fc.array(fc.nat(), { maxLength: 8 }),
  replays: fc.array(fc.record({ batch: fc.nat(), from: fc.nat(), extend: fc.boolean() }), { maxLength: 4 }),
  sweepLimit: fc.integer({ min: 1, max: 4 }),
  wallLag: fc.array(fc.integer({ min: 0, max: 40 }), { minLength: 1, maxLength: 8 }),
});

type Scenario = typeof scenario extends fc.Arbitrary<infer T> ? T : never;

function buildRecords(s: Scenario): ModelRecord[] {
  const records: ModelRecord[] = [];
  let clock = 10_000;
  s.steps.forEach((st, i) => {
    clock += st.advance;
    const dupSource = st.duplicateOf === null || records.length === 0 ? undefined : records[st.duplicateOf % records.length];
    records.push({
      offset: i,
      transactionId: dupSource?.transactionId ?? `t${i}`,
      customerId: dupSource?.customerId ?? st.customer,
      kind: dupSource?.kind ?? st.kind,
      amountMinor: st.amount,
      eventTime: clock - st.lateBy,
    });
  });
  return records;
}

/** Cut the records into batches; then insert replays of earlier ranges (crash / rebalance). */
function buildCalls(records: ModelRecord[], s: Scenario): ModelRecord[][] {
  const cuts = [...new Set(s.cuts.map((c) => c % (records.length + 1)))].sort((a, b) => a - b);
  const bounds = [0, ...cuts.filter((c) => c > 0 && c < records.length), records.length];
  const batches: ModelRecord[][] = [];
  for (let i = 0; i + 1 < bounds.length; i++) batches.push(records.slice(bounds[i], bounds[i + 1]));
  const calls: ModelRecord[][] = [];
  batches.forEach((batch, i) => {
    for (const replay of s.replays.filter((r) => r.batch % batches.length === i)) {
      const end = records.indexOf(batch[0] as ModelRecord);
      const from = end === 0 ? 0 : replay.from % (end + 1);
      // extend: the replay runs on into the new batch (a consumer restarting from an old commit).
      calls.push(replay.extend ? records.slice(from, end + batch.length) : records.slice(from, end));
    }
    calls.push(batch);
  });
  return calls.filter((c) => c.length > 0);
}

describe('StateStore against the reference model', () => {
  const { redis, newPrefix } = useStateRedis();

  function comparable(changes: Awaited<ReturnType<typeof readWholeOutbox>>) {
    return changes.map(({ change: c }) => ({
      eventId: c.eventId,
      customerId: c.customerId,
      previousTier: c.previousTier,
      newTier: c.newTier,
      direction: c.direction,
      cause: c.cause,
      transactionId: c.transactionId,
      effectiveAt: c.effectiveAt,
      policyVersion: c.policyVersion,
      before: c.before,
      after: c.after,
      boundaryTier: c.boundary.tier,
      headroom: c.headroom,
    }));
  }

  async function checkFinalState(store: StateStore, model: ReferenceModel, now: number): Promise<void> {
    for (const id of CUSTOMERS) {
      const seen = await store.inspect(TOPIC, id, { partition: 0, now });
      const c = model.customers.get(id);
      if (c === undefined || c.tier === null) {
        expect(seen).toBeNull();
        continue;
      }
      const snap = model.snapshot(c, now);
      expect(seen).toMatchObject({
        tier: c.tier,
        seq: c.seq,
        tierSince: c.tierSince,
        pendingDowngradeSince: c.pendingDowngradeSince,
        lastPurchaseAt: c.lastPurchaseAt,
        monetary: snap.monetary,
        frequency: snap.frequency,
        rawTier: model.raw(snap, now).tier,
        dueAt: model.dueAfter(c, now, snap.oldest),
        headroom: model.headroom(c.tier, snap.monetary),
      });
      // The scheduled timer may be early (harmless), never late.
      if (c.due !== null) expect(seen?.timerAt).toBeLessThanOrEqual(c.due);
    }
  }

  /**
   * The per-tier counters in the partition meta equal a count of the stored customers: per tier,
   * how many and the sum of their stored monetary.
   */
  async function checkCounters(store: StateStore): Promise<void> {
    const keys = store.keys(TOPIC, 0);
    const expected: Record<string, { customers: number; revenueMinor: number }> = {};
    for await (const { state } of scanCustomers(redis, keys)) {
      if (state.tier === null) continue;
      const entry = (expected[state.tier] ??= { customers: 0, revenueMinor: 0 });
      entry.customers += 1;
      entry.revenueMinor += state.buckets.reduce((sum, b) => sum + b.monetary, 0);
    }
    const counters = await store.readTierCounters(TOPIC, 0);
    expect(counters).not.toBeNull();
    // A tier everyone left keeps its fields at zero.
    const counted = Object.fromEntries([...(counters ?? [])].filter(([, e]) => e.customers !== 0 || e.revenueMinor !== 0));
    expect(counted).toEqual(expected);
  }

  it('event clock: same changes, tiers and aggregates as the model under any batching and replay', async () => {
    await fc.assert(
      fc.asyncProperty(scenario, async (s) => {
        const policy = POLICIES[s.policy] as CompiledPolicy;
        const prefix = newPrefix('prop-ev');
        const store = new StateStore({ redis, policy, clock: 'event', prefix, dedupeHorizonMs: HORIZON_MS });
        const model = new ReferenceModel(policy, 'event', HORIZON_MS);
        const records = buildRecords(s);
        const totals = { applied: 0, duplicate: 0, late: 0, stale: 0, changes: 0 };
        for (const call of buildCalls(records, s)) {
          const counts = await store.applyPartitionBatch(TOPIC, 0, call);
          model.applyBatch(call);
          for (const k of Object.keys(totals) as (keyof typeof totals)[]) totals[k] += counts[k];
        }
        expect(totals).toEqual(model.counts);
        expect(comparable(await readWholeOutbox(store, TOPIC, 0))).toEqual(model.changes);
        const watermark = Math.max(...records.map((r) => r.eventTime));
        await checkFinalState(store, model, watermark);
        await checkCounters(store);
      }),
      { numRuns: 200 },
    );
  });

  it('wall clock: same changes, tiers and aggregates as the model with sweeps between batches', async () => {
    await fc.assert(
      fc.asyncProperty(scenario, async (s) => {
        const policy = POLICIES[s.policy] as CompiledPolicy;
        const prefix = newPrefix('prop-wall');
        const store = new StateStore({ redis, policy, clock: 'wall', prefix, dedupeHorizonMs: HORIZON_MS });
        const model = new ReferenceModel(policy, 'wall', HORIZON_MS);
        const records = buildRecords(s);
        let now = 0;
        let changes = 0;
        const calls = buildCalls(records, s);
        for (const [i, call] of calls.entries()) {
          // The wall clock never runs behind the newest event time seen so far.
          now = Math.max(now, ...call.map((r) => r.eventTime)) + (s.wallLag[i % s.wallLag.length] ?? 0);
          changes += (await store.applyPartitionBatch(TOPIC, 0, call, now)).changes;
          model.applyBatch(call, now);
          if (i % 2 === 1) {
            changes += await sweepAll(store, TOPIC, 0, now, s.sweepLimit);
            model.fireAll(now);
          }
        }
        now += 500;
        changes += await sweepAll(store, TOPIC, 0, now, s.sweepLimit);
        model.fireAll(now);
        expect(changes).toBe(model.changes.length);
        expect(comparable(await readWholeOutbox(store, TOPIC, 0))).toEqual(model.changes);
        await checkFinalState(store, model, now);
        await checkCounters(store);
        // Every timer due by now has fired, so the counters are the window at now: both census
        // methods agree.
        const census = (method: 'counters' | 'scan') =>
          createCensus({ redis, store, policy, topic: TOPIC, clock: 'wall', partitions: () => [0], now: () => now, method }).census();
        expect(await census('counters')).toEqual(await census('scan'));
      }),
      { numRuns: 200 },
    );
  });
});
