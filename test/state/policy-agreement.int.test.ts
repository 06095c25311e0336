import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decideTierChange,
  headroom,
  nextDueTime,
  rawTier,
  rollingAggregates,
  ruleText,
  type BucketTotals,
  type CompiledPolicy,
  type CompiledTier,
  type Condition,
  type CustomerTierState,
  type TierChange,
} from '../../src/policy/index.js';
import { StateStore } from '../../src/state/store.js';
import { readWholeOutbox, useStateRedis } from './store-helpers.js';

/**
 * The Lua engine and the pure TypeScript evaluator of src/policy must agree exactly
 * (semantics.md). Random policies and one customer's random events: a driver built only from
 * src/policy functions predicts every change record, and inspect() at a random later instant must
 * agree with rawTier / headroom / nextDueTime.
 */

const BUCKET_MS = 10;

const condition: fc.Arbitrary<Condition> = fc.oneof(
  fc.record({ metric: fc.constant('monetary' as const), op: fc.constantFrom('gt' as const, 'gte' as const, 'lt' as const, 'lte' as const), value: fc.integer({ min: -200, max: 2000 }) }),
  fc.record({ metric: fc.constant('frequency' as const), op: fc.constantFrom('gt' as const, 'gte' as const, 'lt' as const, 'lte' as const), value: fc.integer({ min: 0, max: 5 }) }),
  fc.record({ metric: fc.constant('recencyMs' as const), op: fc.constantFrom('gt' as const, 'gte' as const, 'lt' as const, 'lte' as const), value: fc.integer({ min: 0, max: 300 }) }),
);

const policyArb: fc.Arbitrary<CompiledPolicy> = fc
  .record({
    tiers: fc.array(fc.record({ conditions: fc.array(condition, { maxLength: 3 }), relative: fc.boolean() }), { minLength: 1, maxLength: 4 }),
    windowBuckets: fc.integer({ min: 2, max: 20 }),
    inactivity: fc.option(fc.integer({ min: 20, max: 400 })),
    grace: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 80 })),
    margin: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 5000 })),
    relativeAllowed: fc.boolean(),
  })
  .map((g) => {
    const tiers: CompiledTier[] = g.tiers.map((t, i) => ({
      name: `t${i}`,
      rank: g.tiers.length - i + 1,
      conditions: t.conditions,
      ...(t.relative && g.relativeAllowed ? { relative: { topPercent: 5, of: 'monetary' as const } } : {}),
    }));
    return {
      version: 'agree',
      name: 'agree',
      currency: 'EUR',
      minorUnitDigits: 2,
      windowMs: g.windowBuckets * BUCKET_MS,
      bucketMs: BUCKET_MS,
      inactivityMs: g.inactivity,
      inactiveTier: g.inactivity === null ? null : 'inactive',
      tiers,
      fallbackTier: 'fallback',
      hysteresis: { downgradeGraceMs: g.grace, downgradeMarginBps: g.margin },
    };
  });

const eventsArb = fc.array(
  fc.record({
    kind: fc.constantFrom('purchase' as const, 'purchase' as const, 'refund' as const),
    amount: fc.integer({ min: 1, max: 900 }),
    advance: fc.oneof({ weight: 4, arbitrary: fc.integer({ min: 0, max: 30 }) }, { weight: 1, arbitrary: fc.integer({ min: 30, max: 400 }) }),
  }),
  { minLength: 1, maxLength: 25 },
);

/** One customer through the pure evaluator: timers fire at their due time before each event. */
function predict(policy: CompiledPolicy, events: { kind: 'purchase' | 'refund'; amount: number; time: number }[]) {
  const buckets = new Map<number, BucketTotals>();
  let lastPurchaseAt: number | null = null;
  let state: CustomerTierState = { tier: null, tierSince: null, pendingDowngradeSince: null, seq: 0 };
  let due: number | null = null;
  let lastEval = 0;
  const changes: TierChange[] = [];
  const evaluate = (now: number, cause: 'TRANSACTION' | 'REFUND' | 'TIME', txId: string | null, before: ReturnType<typeof rollingAggregates>) => {
    const after = rollingAggregates(policy, buckets, lastPurchaseAt, now);
    const outcome = decideTierChange({ policy, customerId: 'c', state, before, after, now, cause, transactionId: txId });
    state = outcome.state;
    if (outcome.change) changes.push(outcome.change);
    due = nextDueTime(policy, { buckets, lastPurchaseAt, pendingDowngradeSince: state.pendingDowngradeSince }, now);
    lastEval = now;
  };
  events.forEach((e, i) => {
    while (due !== null && due <= e.time) {
      const at: number = due;
      evaluate(at, 'TIME', null, rollingAggregates(policy, buckets, lastPurchaseAt, at));
    }
    const before = rollingAggregates(policy, buckets, lastPurchaseAt, e.time);
    const index = Math.floor(e.time / policy.bucketMs);
    const bucket = buckets.get(index) ?? { m: 0, f: 0 };
    buckets.set(index, e.kind === 'purchase' ? { m: bucket.m + e.amount, f: bucket.f + 1 } : { m: bucket.m - e.amount, f: bucket.f });
    if (e.kind === 'purchase') lastPurchaseAt = Math.max(lastPurchaseAt ?? -Infinity, e.time);
    evaluate(e.time, e.kind === 'purchase' ? 'TRANSACTION' : 'REFUND', `x${i}`, before);
  });
  return { changes, state, buckets, lastPurchaseAt, due, lastEval };
}

describe('Lua engine agrees with the pure evaluator of src/policy', () => {
  const { redis, newPrefix } = useStateRedis();

  it('on every change record, and on tier, rule, due time and headroom at a later instant', async () => {
    await fc.assert(
      fc.asyncProperty(policyArb, eventsArb, fc.integer({ min: 0, max: 500 }), async (policy, steps, later) => {
        const prefix = newPrefix('agree');
        let time = 5000;
        const events = steps.map((s) => ({ kind: s.kind, amount: s.amount, time: (time += s.advance) }));
        const store = new StateStore({ redis, policy, clock: 'event', prefix });
        await store.applyPartitionBatch(
          'tx',
          0,
          events.map((e, i) => ({ offset: i, transactionId: `x${i}`, customerId: 'c', kind: e.kind, amountMinor: e.amount, eventTime: e.time })),
        );
        const expected = predict(policy, events);
        const actual = (await readWholeOutbox(store, 'tx', 0)).map((e) => e.change);
        expect(actual).toEqual(expected.changes);
        for (const change of actual) expect(change.boundary.rule).toBe(ruleText(policy, change.boundary.tier));

        const now = expected.lastEval + later;
        const seen = await store.inspect('tx', 'c', { partition: 0, now });
        const snapshot = rollingAggregates(policy, expected.buckets, expected.lastPurchaseAt, now);
        const raw = rawTier(policy, snapshot, now);
        const rule = seen?.rule;
        const ruleTier = rule?.kind === 'inactive' ? policy.inactiveTier : rule?.kind === 'fallback' ? policy.fallbackTier : rule?.tier;
        expect({ tier: seen?.tier, rawTier: seen?.rawTier, ruleTier, dueAt: seen?.dueAt, headroom: seen?.headroom, monetary: seen?.monetary }).toEqual({
          tier: expected.state.tier,
          rawTier: raw,
          ruleTier: raw,
          dueAt: nextDueTime(policy, { buckets: expected.buckets, lastPurchaseAt: expected.lastPurchaseAt, pendingDowngradeSince: expected.state.pendingDowngradeSince }, now),
          headroom: headroom(policy, expected.state.tier ?? '', snapshot),
          monetary: snapshot.monetary,
        });
      }),
      { numRuns: 300 },
    );
  });
});
