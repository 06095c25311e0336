import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { rollingAggregates, type RfmSnapshot } from '../../src/engine/aggregates.js';
import { evaluateTier, rankOf, rawTier } from '../../src/engine/evaluate.js';
import { relaxedBound } from '../../src/engine/relax.js';
import { evaluationCase } from '../policy/arbitraries.js';
import { DAY, shippedPolicy, withHysteresis } from '../policy/fixtures.js';

const pyramid = shippedPolicy('default'); // margin 5 %, grace 7d, inactive after 180d
const plain = withHysteresis(pyramid);
const now = 1000 * DAY;

/** A customer who last bought `daysAgo` days before `now` with this net spend (minor units). */
function customer(monetary: number, daysAgo = 1, frequency = 1): RfmSnapshot {
  return { monetary, frequency, recencyMs: daysAgo * DAY, lastPurchaseAt: now - daysAgo * DAY };
}

const noPrior = { tier: null, pendingDowngradeSince: null };
const inTier = (tier: string, pendingDowngradeSince: number | null = null) => ({ tier, pendingDowngradeSince });

describe('rawTier', () => {
  it('puts amounts on the right side of inclusive and exclusive thresholds', () => {
    expect(rawTier(pyramid, customer(5_890_001), now)).toBe('vip');
    expect(rawTier(pyramid, customer(5_890_000), now)).toBe('major');
    expect(rawTier(pyramid, customer(1_900_001), now)).toBe('major');
    expect(rawTier(pyramid, customer(1_900_000), now)).toBe('medium');
    expect(rawTier(pyramid, customer(482_000), now)).toBe('small');
  });

  it('gives inactivity precedence over every value tier, from exactly the horizon on', () => {
    expect(rawTier(pyramid, customer(9_000_000, 180), now)).toBe('inactive');
    const justBefore = { ...customer(9_000_000, 180), recencyMs: 180 * DAY - 1, lastPurchaseAt: now - 180 * DAY + 1 };
    expect(rawTier(pyramid, justBefore, now)).toBe('vip');
  });

  it('uses the fallback when nothing matches and never calls a non-buyer inactive', () => {
    const refundsOnly: RfmSnapshot = { monetary: -1_000, frequency: 0, recencyMs: null, lastPurchaseAt: null };
    expect(rawTier(pyramid, refundsOnly, now)).toBe('prospect');
  });
});

describe('rankOf', () => {
  it('ranks listed tiers by order, then the fallback, then the inactive tier', () => {
    expect(['vip', 'major', 'medium', 'small', 'prospect', 'inactive', 'nope'].map((name) => rankOf(pyramid, name))).toEqual([5, 4, 3, 2, 1, 0, null]);
  });
});

describe('evaluateTier', () => {
  it('classifies a new customer by the raw tier, without hysteresis', () => {
    const decision = evaluateTier(pyramid, customer(6_000_000), noPrior, now);
    expect(decision).toEqual({
      tier: 'vip',
      rawTier: 'vip',
      pendingDowngradeSince: null,
      changed: true,
      direction: 'NEW',
      boundary: { tier: 'vip', rule: 'monetary > 58900.00 CNY' },
      heldBy: null,
    });
  });

  it('treats a tier the policy no longer has like a first classification', () => {
    const decision = evaluateTier(pyramid, customer(100), inTier('gold', now - DAY), now);
    expect(decision).toMatchObject({ tier: 'small', changed: true, direction: 'NEW', pendingDowngradeSince: null });
  });

  it('upgrades immediately and names the new tier as the boundary', () => {
    const decision = evaluateTier(pyramid, customer(6_000_000), inTier('major', now - DAY), now);
    expect(decision).toMatchObject({ tier: 'vip', changed: true, direction: 'UP', pendingDowngradeSince: null });
    expect(decision.boundary).toEqual({ tier: 'vip', rule: 'monetary > 58900.00 CNY' });
  });

  it('stays put without a change when the raw tier is the current one', () => {
    const decision = evaluateTier(pyramid, customer(2_000_000), inTier('major'), now);
    expect(decision).toMatchObject({ tier: 'major', changed: false, direction: null, boundary: null, heldBy: null });
  });

  it('downgrades immediately without hysteresis and names the old tier as the boundary', () => {
    const decision = evaluateTier(plain, customer(5_000_000), inTier('vip'), now);
    expect(decision).toMatchObject({ tier: 'major', direction: 'DOWN', boundary: { tier: 'vip', rule: 'monetary > 58900.00 CNY' } });
  });

  describe('margin', () => {
    const marginOnly = withHysteresis(pyramid, 0, 500);

    it('relaxes the lower bound with an exact floor', () => {
      expect(relaxedBound(5_890_000, 500)).toBe(5_595_500);
      expect(relaxedBound(482_001, 500)).toBe(457_900); // 457 900.95 floored
      expect(relaxedBound(-1_001, 1000)).toBe(-901); // 900.9 toward -infinity
      expect(relaxedBound(1_234, 0)).toBe(1_234);
    });

    it('keeps a vip above the relaxed bound and lets go at it (gt stays exclusive)', () => {
      expect(evaluateTier(marginOnly, customer(5_595_501), inTier('vip'), now)).toMatchObject({ tier: 'vip', rawTier: 'major', changed: false, heldBy: 'margin' });
      expect(evaluateTier(marginOnly, customer(5_595_500), inTier('vip'), now)).toMatchObject({ tier: 'major', changed: true, direction: 'DOWN' });
    });

    it('relaxes only monetary lower bounds, never other metrics', () => {
      // major's lower bound 19000 relaxes to 18050: still major at 18050.01.
      expect(evaluateTier(marginOnly, customer(1_805_001), inTier('major'), now)).toMatchObject({ tier: 'major', heldBy: 'margin' });
      const smallButNoPurchase = { monetary: 0, frequency: 0, recencyMs: 200 * DAY, lastPurchaseAt: null };
      expect(evaluateTier(marginOnly, smallButNoPurchase, inTier('small'), now)).toMatchObject({ tier: 'prospect', direction: 'DOWN' });
    });

    it('never holds back inactivity', () => {
      expect(evaluateTier(marginOnly, customer(9_000_000, 180), inTier('vip'), now)).toMatchObject({
        tier: 'inactive',
        direction: 'DOWN',
        boundary: { tier: 'inactive', rule: 'inactive: no purchase for 180d' },
      });
    });
  });

  describe('grace', () => {
    const graceOnly = withHysteresis(pyramid, 7 * DAY, 0);

    it('starts the grace period, waits it out, then downgrades and clears it', () => {
      const start = evaluateTier(graceOnly, customer(5_000_000), inTier('vip'), now);
      expect(start).toMatchObject({ tier: 'vip', rawTier: 'major', pendingDowngradeSince: now, changed: false, heldBy: 'grace' });

      const waiting = evaluateTier(graceOnly, customer(5_000_000), inTier('vip', now), now + 7 * DAY - 1);
      expect(waiting).toMatchObject({ tier: 'vip', pendingDowngradeSince: now, changed: false, heldBy: 'grace' });

      const done = evaluateTier(graceOnly, customer(5_000_000), inTier('vip', now), now + 7 * DAY);
      expect(done).toMatchObject({ tier: 'major', pendingDowngradeSince: null, changed: true, direction: 'DOWN' });
      expect(done.boundary).toEqual({ tier: 'vip', rule: 'monetary > 58900.00 CNY' });
    });

    it('clears a pending downgrade when the customer recovers', () => {
      const recovered = evaluateTier(graceOnly, customer(6_000_000), inTier('vip', now - DAY), now);
      expect(recovered).toMatchObject({ tier: 'vip', pendingDowngradeSince: null, changed: false, heldBy: null });
    });

    it('keeps the original start when the candidate falls further during grace', () => {
      const further = evaluateTier(graceOnly, customer(1_000_000), inTier('vip', now - DAY), now);
      expect(further).toMatchObject({ tier: 'vip', rawTier: 'medium', pendingDowngradeSince: now - DAY });
      const landed = evaluateTier(graceOnly, customer(1_000_000), inTier('vip', now - 7 * DAY), now);
      expect(landed).toMatchObject({ tier: 'medium', direction: 'DOWN', boundary: { tier: 'vip' } });
    });

    it('never delays inactivity, and a move to inactive clears the pending downgrade', () => {
      const decision = evaluateTier(graceOnly, customer(9_000_000, 200), inTier('vip', now - DAY), now);
      expect(decision).toMatchObject({ tier: 'inactive', pendingDowngradeSince: null, changed: true, direction: 'DOWN' });
    });

    it('applies to a downgrade into the fallback too', () => {
      const noPurchaseInWindow = { monetary: 0, frequency: 0, recencyMs: null, lastPurchaseAt: null };
      expect(evaluateTier(graceOnly, noPurchaseInWindow, inTier('small'), now)).toMatchObject({ tier: 'small', pendingDowngradeSince: now, heldBy: 'grace' });
    });
  });

  describe('margin and grace together (the shipped default)', () => {
    it('clears a pending grace while the margin holds the tier', () => {
      const decision = evaluateTier(pyramid, customer(5_700_000), inTier('vip', now - DAY), now);
      expect(decision).toMatchObject({ tier: 'vip', rawTier: 'major', pendingDowngradeSince: null, heldBy: 'margin' });
    });

    it('starts the grace once the spend falls below the relaxed bound', () => {
      const decision = evaluateTier(pyramid, customer(5_500_000), inTier('vip'), now);
      expect(decision).toMatchObject({ tier: 'vip', pendingDowngradeSince: now, heldBy: 'grace' });
    });
  });

  it('moves a returning inactive customer UP at once', () => {
    const decision = evaluateTier(pyramid, customer(100, 0), inTier('inactive'), now);
    expect(decision).toMatchObject({ tier: 'small', direction: 'UP', boundary: { tier: 'small', rule: 'frequency >= 1' } });
  });
});

describe('evaluateTier invariants (generated policies and customers)', () => {
  it('only ever delays downgrades, never upgrades or inactivity, and is raw without hysteresis', () => {
    fc.assert(
      fc.property(evaluationCase, ({ policy, buckets, lastPurchaseAt, now, prior }) => {
        const snapshot = rollingAggregates(policy, buckets, lastPurchaseAt, now);
        const decision = evaluateTier(policy, snapshot, prior, now);
        const rank = (name: string) => rankOf(policy, name) ?? -1;
        expect(decision.rawTier).toBe(rawTier(policy, snapshot, now));
        expect(decision.changed).toBe(decision.tier !== prior.tier);
        if (prior.tier === null || decision.rawTier === policy.inactiveTier || rank(decision.rawTier) >= rank(prior.tier)) {
          expect(decision.tier).toBe(decision.rawTier);
        } else {
          // a held downgrade stays in the current tier; otherwise the raw tier is taken
          expect([prior.tier, decision.rawTier]).toContain(decision.tier);
        }
        const none = { ...policy, hysteresis: { downgradeGraceMs: 0, downgradeMarginBps: 0 } };
        expect(evaluateTier(none, snapshot, { tier: prior.tier, pendingDowngradeSince: null }, now).tier).toBe(decision.rawTier);
        if (decision.pendingDowngradeSince !== null) {
          expect(decision).toMatchObject({ changed: false, heldBy: 'grace' });
        }
      }),
      { numRuns: 1000 },
    );
  });
});
