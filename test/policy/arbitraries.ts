import fc from 'fast-check';
import type { Bucket } from '../../src/engine/types.js';
import { bucketsOf } from './fixtures.js';
import type { PriorTier } from '../../src/engine/evaluate.js';
import type { Comparison, CompiledPolicy, Condition } from '../../src/policy/types.js';

/** One generated evaluation input: a small random policy and a customer at `now`. */
export interface EvaluationCase {
  policy: CompiledPolicy;
  buckets: Bucket[];
  lastPurchaseAt: number | null;
  now: number;
  prior: PriorTier;
}

const OPS: Comparison[] = ['gt', 'gte', 'lt', 'lte'];

const condition: fc.Arbitrary<Condition> = fc.oneof(
  fc.record({ metric: fc.constant('monetary' as const), op: fc.constantFrom(...OPS), value: fc.integer({ min: -20, max: 60 }) }),
  fc.record({ metric: fc.constant('frequency' as const), op: fc.constantFrom(...OPS), value: fc.integer({ min: 0, max: 6 }) }),
  fc.record({ metric: fc.constant('recencyMs' as const), op: fc.constantFrom(...OPS), value: fc.integer({ min: 0, max: 80 }) }),
);

/**
 * Evaluation cases on a tiny time scale (10 ms buckets, windows of 1–6 buckets, times up to 130)
 * so that thresholds, bucket exits, recency flips, inactivity and grace ends all collide often.
 * Policies are hand-built (not loaded), so they include shapes the loader would refuse, such as
 * overlapping or unsorted tiers: the evaluator must still follow the semantics on them.
 */
export const evaluationCase: fc.Arbitrary<EvaluationCase> = fc
  .record({
    windowBuckets: fc.integer({ min: 1, max: 6 }),
    tiers: fc.array(fc.array(condition, { maxLength: 3 }), { minLength: 1, maxLength: 4 }),
    inactivityMs: fc.option(fc.integer({ min: 1, max: 90 }), { nil: null }),
    graceMs: fc.integer({ min: 0, max: 30 }),
    marginBps: fc.integer({ min: 0, max: 5000 }),
    buckets: fc.array(fc.tuple(fc.integer({ min: 0, max: 12 }), fc.integer({ min: -30, max: 40 }), fc.integer({ min: 0, max: 3 })), { maxLength: 6 }),
    lastPurchaseAt: fc.option(fc.integer({ min: 0, max: 125 }), { nil: null }),
    now: fc.integer({ min: 0, max: 130 }),
    priorIndex: fc.option(fc.integer({ min: 0, max: 5 }), { nil: null }),
    pendingAgo: fc.option(fc.integer({ min: 0, max: 30 }), { nil: null }),
  })
  .map((s): EvaluationCase => {
    const bucketMs = 10;
    const policy: CompiledPolicy = {
      version: 'generated',
      name: 'generated',
      currency: 'CNY',
      minorUnitDigits: 2,
      windowMs: s.windowBuckets * bucketMs,
      bucketMs,
      inactivityMs: s.inactivityMs,
      inactiveTier: s.inactivityMs === null ? null : 'inactive',
      tiers: s.tiers.map((conditions, i) => ({ name: `t${i}`, rank: s.tiers.length - i + 1, conditions })),
      fallbackTier: 'fallback',
      hysteresis: { downgradeGraceMs: s.graceMs, downgradeMarginBps: s.marginBps },
    };
    const names = [...policy.tiers.map((tier) => tier.name), policy.fallbackTier, ...(policy.inactiveTier === null ? [] : [policy.inactiveTier])];
    const tier = s.priorIndex === null ? null : (names[s.priorIndex % names.length] ?? null);
    return {
      policy,
      buckets: bucketsOf(...s.buckets),
      lastPurchaseAt: s.lastPurchaseAt,
      now: s.now,
      prior: { tier, pendingDowngradeSince: tier === null || s.pendingAgo === null || s.graceMs === 0 ? null : s.now - s.pendingAgo },
    };
  });
