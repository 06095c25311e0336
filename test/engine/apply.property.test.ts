import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { windowTotals, firstCountedBucket } from '../../src/engine/aggregates.js';
import { averageDailyBalance } from '../../src/engine/balances.js';
import type { CompiledPolicy } from '../../src/policy/types.js';
import { MemoryPartition } from './memory-partition.js';
import { ReferenceModel } from './reference-model.js';
import { buildCalls, buildRecords, comparable, CUSTOMERS, POLICIES, scenario, signalScenario } from './scenarios.js';

/** The engine's stored customers agree with the model's at `now`. */
function expectSameCustomers(partition: MemoryPartition, model: ReferenceModel, policy: CompiledPolicy, now: number): void {
  for (const id of CUSTOMERS) {
    const stored = partition.customers.get(id);
    const expected = model.customers.get(id);
    if (expected === undefined || expected.tier === null) {
      expect(stored?.tier ?? null).toBeNull();
      continue;
    }
    expect(stored).toBeDefined();
    if (stored === undefined) continue;
    const snap = model.snapshot(expected, now);
    expect({
      tier: stored.tier,
      seq: stored.seq,
      signalSeq: stored.signalSeq,
      nearUpgradeAt: stored.nearUpgradeAt,
      tierSince: stored.tierSince,
      pendingDowngradeSince: stored.pendingDowngradeSince,
      lastPurchaseAt: stored.lastPurchaseAt,
      ...windowTotals(stored.buckets, firstCountedBucket(policy, now)),
      averageDailyBalance: averageDailyBalance(policy, stored.balances, now),
    }).toEqual({
      tier: expected.tier,
      seq: expected.seq,
      signalSeq: expected.signalSeq,
      nearUpgradeAt: expected.nearUpgradeAt,
      tierSince: expected.tierSince,
      pendingDowngradeSince: expected.pendingDowngradeSince,
      lastPurchaseAt: expected.lastPurchaseAt,
      monetary: snap.monetary,
      frequency: snap.frequency,
      profit: snap.profit,
      averageDailyBalance: snap.averageDailyBalance,
    });
    // The timer may be early (harmless), never late.
    if (expected.due !== null) expect(partition.timers.get(id)).toBeLessThanOrEqual(expected.due);
    else expect(partition.timers.has(id)).toBe(false);
  }
}

const totalsOf = (partition: MemoryPartition) => {
  const { claimsShortened: _c, timersFired: _t, ...counts } = partition.counts;
  return counts;
};

describe('the engine against the reference model', () => {
  it('event clock: same changes, tiers and aggregates under any batching and replay', () => {
    fc.assert(
      fc.property(scenario, (s) => {
        const policy = POLICIES[s.policy] as CompiledPolicy;
        const partition = new MemoryPartition(policy, 'event');
        const model = new ReferenceModel(policy, 'event');
        const records = buildRecords(s);
        for (const call of buildCalls(records, s)) {
          partition.apply(call);
          model.applyBatch(call);
        }
        expect(totalsOf(partition)).toEqual(model.counts);
        expect(comparable(partition.changes)).toEqual(model.changes);
        expect(partition.signals).toEqual(model.signals);
        expectSameCustomers(partition, model, policy, partition.eventWatermark ?? 0);
      }),
      { numRuns: 1000 },
    );
  });

  it('wall clock: same changes, tiers and aggregates with sweeps between batches', () => {
    fc.assert(
      fc.property(scenario, (s) => {
        const policy = POLICIES[s.policy] as CompiledPolicy;
        const partition = new MemoryPartition(policy, 'wall');
        const model = new ReferenceModel(policy, 'wall');
        const records = buildRecords(s);
        let now = 0;
        for (const [i, call] of buildCalls(records, s).entries()) {
          // The wall clock never runs behind the newest event time seen so far.
          now = Math.max(now, ...call.map((r) => r.eventTime)) + (s.wallLag[i % s.wallLag.length] ?? 0);
          partition.apply(call, now);
          model.applyBatch(call, now);
          if (i % 2 === 1) {
            partition.sweep(now);
            model.fireAll(now);
          }
        }
        now += 2500;
        partition.sweep(now);
        model.fireAll(now);
        expect(totalsOf(partition)).toEqual(model.counts);
        expect(comparable(partition.changes)).toEqual(model.changes);
        expect(partition.signals).toEqual(model.signals);
        expectSameCustomers(partition, model, policy, now);
      }),
      { numRuns: 1000 },
    );
  });

  it('an opted-in dedupe horizon shortens claims as the model says, and counts what it shortened', () => {
    fc.assert(
      fc.property(scenario, fc.integer({ min: 1, max: 120 }), (s, horizon) => {
        const policy = POLICIES[s.policy] as CompiledPolicy;
        const partition = new MemoryPartition(policy, 'event', horizon);
        const model = new ReferenceModel(policy, 'event', horizon);
        for (const call of buildCalls(buildRecords(s), s)) {
          partition.apply(call);
          model.applyBatch(call);
        }
        expect(totalsOf(partition)).toEqual(model.counts);
        expect(comparable(partition.changes)).toEqual(model.changes);
        expect(partition.signals).toEqual(model.signals);
      }),
      { numRuns: 300 },
    );
  });

  it('signal invariants hold on their own: NEAR_UPGRADE at least a cooldown apart, one DOWNGRADE_PENDING per wait, ids counting up per customer', () => {
    fc.assert(
      fc.property(scenario, (s) => {
        const policy = POLICIES[s.policy] as CompiledPolicy;
        const partition = new MemoryPartition(policy, 'event');
        for (const call of buildCalls(buildRecords(s), s)) partition.apply(call);
        const lastNear = new Map<string, number>();
        const waiting = new Map<string, number>();
        const count = new Map<string, number>();
        const changesAt = partition.changes.map((c) => `${c.customerId}@${c.effectiveAt}`);
        for (const signal of partition.signals) {
          const n = (count.get(signal.customerId) ?? 0) + 1;
          count.set(signal.customerId, n);
          expect(signal.signalId).toBe(`${signal.customerId}:s:${n}`);
          if (signal.type === 'NEAR_UPGRADE') {
            const last = lastNear.get(signal.customerId);
            if (last !== undefined) expect(signal.effectiveAt - last).toBeGreaterThanOrEqual(policy.signals?.nearUpgrade?.cooldownMs ?? Infinity);
            lastNear.set(signal.customerId, signal.effectiveAt);
            expect(signal.spendToUpgrade).toBeGreaterThan(0);
            continue;
          }
          const since = waiting.get(signal.customerId);
          if (signal.type === 'DOWNGRADE_PENDING') {
            // A second wait starts only after the first ended: in a cancellation or a tier change.
            if (since !== undefined) expect(changesAt.some((c) => c.startsWith(`${signal.customerId}@`) && Number(c.split('@')[1]) >= since)).toBe(true);
            expect(signal.takesEffectAt).toBe(signal.effectiveAt + policy.hysteresis.downgradeGraceMs);
            waiting.set(signal.customerId, signal.effectiveAt);
          } else {
            expect(since).toBeDefined();
            expect(signal.takesEffectAt).toBe((since as number) + policy.hysteresis.downgradeGraceMs);
            waiting.delete(signal.customerId);
          }
        }
        if (policy.signals === undefined) expect(partition.signals).toEqual([]);
      }),
      { numRuns: 1000 },
    );
  });

  it('the generated histories exercise every signal rule (so the comparisons above can fail)', () => {
    const seen = new Map<string, number>();
    const cooledDown = { repeats: 0 };
    // Only the signal policies: the others can emit none (and their number must not thin the sample).
    for (const s of fc.sample(signalScenario, { numRuns: 3000, seed: 13 })) {
      const policy = POLICIES[s.policy] as CompiledPolicy;
      if (policy.signals === undefined) continue;
      const model = new ReferenceModel(policy, 'event');
      for (const call of buildCalls(buildRecords(s), s)) model.applyBatch(call);
      const nearAt = new Map<string, number>();
      for (const signal of model.signals) {
        seen.set(`${signal.type}/${signal.cause}`, (seen.get(`${signal.type}/${signal.cause}`) ?? 0) + 1);
        if (signal.type !== 'NEAR_UPGRADE') continue;
        const last = nearAt.get(signal.customerId);
        if (last !== undefined) cooledDown.repeats += 1;
        nearAt.set(signal.customerId, signal.effectiveAt);
      }
    }
    for (const key of ['NEAR_UPGRADE/TRANSACTION', 'NEAR_UPGRADE/TIME', 'DOWNGRADE_PENDING/REFUND', 'DOWNGRADE_PENDING/TIME', 'DOWNGRADE_CANCELLED/TRANSACTION']) {
      expect(seen.get(key) ?? 0, key).toBeGreaterThan(10);
    }
    expect(cooledDown.repeats).toBeGreaterThan(10);
  });
});
