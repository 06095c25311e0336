import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { rollingAggregates } from '../../src/engine/aggregates.js';
import { nextDueTime } from '../../src/engine/due.js';
import { evaluateTier } from '../../src/engine/evaluate.js';
import type { CompiledPolicy } from '../../src/policy/types.js';
import { evaluationCase } from '../policy/arbitraries.js';
import { DAY, bucketsOf, shippedPolicy } from '../policy/fixtures.js';

const pyramid = shippedPolicy('default'); // 365 × 1d, inactive after 180d, grace 7d
const now = 1000 * DAY + 123;

describe('nextDueTime', () => {
  it('is the exit time of the oldest counted bucket when nothing else is earlier', () => {
    const buckets = bucketsOf([500, 99, 1], [700, 10, 1], [990, 20, 1]); // 500 no longer counts
    expect(nextDueTime(pyramid, { buckets, lastPurchaseAt: 990 * DAY, pendingDowngradeSince: null }, now)).toBe((700 + 365) * DAY);
  });

  it('includes the inactivity horizon', () => {
    const buckets = bucketsOf([900, 10, 1]);
    expect(nextDueTime(pyramid, { buckets, lastPurchaseAt: 900 * DAY, pendingDowngradeSince: null }, now)).toBe(1080 * DAY);
  });

  it('includes the end of a pending grace period', () => {
    const buckets = bucketsOf([999, 10, 1]);
    expect(nextDueTime(pyramid, { buckets, lastPurchaseAt: 999 * DAY, pendingDowngradeSince: now - DAY }, now)).toBe(now + 6 * DAY);
  });

  it('includes both flip instants of every recency condition, only after now', () => {
    const recent: CompiledPolicy = {
      ...pyramid,
      inactivityMs: null,
      inactiveTier: null,
      tiers: [{ name: 'fresh', rank: 2, conditions: [{ metric: 'recencyMs', op: 'lte', value: 30 * DAY }] }],
    };
    const state = { buckets: bucketsOf(), lastPurchaseAt: now - 30 * DAY, pendingDowngradeSince: null };
    expect(nextDueTime(recent, state, now)).toBe(now + 1); // lastPurchaseAt + v == now is not > now
    expect(nextDueTime(recent, state, now - 1)).toBe(now);
    expect(nextDueTime(recent, state, now + 1)).toBeNull();
  });

  it('is null when nothing can change on its own, and never equal to now', () => {
    expect(nextDueTime(pyramid, { buckets: bucketsOf(), lastPurchaseAt: null, pendingDowngradeSince: null }, now)).toBeNull();
    const atHorizon = { buckets: bucketsOf(), lastPurchaseAt: now - 180 * DAY, pendingDowngradeSince: null };
    expect(nextDueTime(pyramid, atHorizon, now)).toBeNull();
  });

  // The property the timers rely on: between now and the due time nothing can change, so firing
  // at the due time (never later) is enough.
  it('leaves the tier unchanged at every instant strictly between now and the due time', () => {
    fc.assert(
      fc.property(evaluationCase, ({ policy, buckets, lastPurchaseAt, now, prior }) => {
        const due = nextDueTime(policy, { buckets, lastPurchaseAt, pendingDowngradeSince: prior.pendingDowngradeSince }, now);
        const at = (t: number) => evaluateTier(policy, rollingAggregates(policy, buckets, lastPurchaseAt, t), prior, t);
        const base = at(now);
        const end = due ?? now + 200;
        for (let t = now + 1; t < end; t += 1) {
          const later = at(t);
          if (later.tier !== base.tier || later.rawTier !== base.rawTier) {
            throw new Error(`tier changed at ${t} before due ${due}: ${base.tier}/${base.rawTier} -> ${later.tier}/${later.rawTier}`);
          }
        }
        if (due !== null) expect(due).toBeGreaterThan(now);
      }),
      { numRuns: 300 },
    );
  });
});
