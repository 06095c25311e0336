import type { CompiledPolicy } from '../../src/policy/types.js';

/**
 * Small policies in compact time units (buckets of 10 ms) so generated sequences cross window,
 * recency, inactivity and grace boundaries often. Built directly as CompiledPolicy so these tests
 * exercise the state engine, not the policy loader.
 */
export function testPolicy(overrides: Partial<CompiledPolicy> = {}): CompiledPolicy {
  return {
    version: 't1',
    name: 'test',
    currency: 'CNY',
    minorUnitDigits: 2,
    windowMs: 100,
    bucketMs: 10,
    inactivityMs: 300,
    inactiveTier: 'inactive',
    tiers: [
      { name: 'vip', rank: 5, conditions: [{ metric: 'monetary', op: 'gte', value: 1000 }] },
      {
        name: 'major',
        rank: 4,
        conditions: [
          { metric: 'monetary', op: 'gt', value: 400 },
          { metric: 'frequency', op: 'gte', value: 2 },
        ],
      },
      {
        name: 'medium',
        rank: 3,
        conditions: [
          { metric: 'monetary', op: 'gt', value: 100 },
          { metric: 'recencyMs', op: 'lte', value: 50 },
        ],
      },
      { name: 'small', rank: 2, conditions: [{ metric: 'monetary', op: 'lt', value: 5000 }] },
    ],
    fallbackTier: 'other',
    hysteresis: { downgradeGraceMs: 0, downgradeMarginBps: 0 },
    ...overrides,
  };
}
