import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { RfmSnapshot } from '../../src/engine/aggregates.js';
import {
  bandHolds,
  compareRank,
  computeBoundaries,
  cutRank,
  inRankedPopulation,
  keyAtRank,
  policyCuts,
  rankedValues,
  type RankedCustomer,
} from '../../src/engine/boundaries.js';
import { evaluateTier, rawTier } from '../../src/engine/evaluate.js';
import { headroom } from '../../src/engine/headroom.js';
import type { CompiledPolicy } from '../../src/policy/types.js';
import { DAY, shippedPolicy, withHysteresis } from '../policy/fixtures.js';

const share = shippedPolicy('pyramid-share'); // margin 5 %, grace 7d, inactive after 180d
const plain = withHysteresis(share);
const now = 1000 * DAY;

function snapshotOf(c: RankedCustomer): RfmSnapshot {
  return { monetary: c.monetary, frequency: c.frequency, recencyMs: DAY, lastPurchaseAt: now - DAY };
}

/**
 * The tiers a full sort gives: the ranked customers ordered by (value desc, id asc), tier k
 * taking ranks floor(before_k × N) + 1 .. floor(through_k × N) of each band of its metric.
 */
function fullSortTiers(policy: CompiledPolicy, customers: readonly RankedCustomer[]): Map<string, string> {
  const rankOf = new Map<string, Map<string, number>>();
  for (const metric of ['monetary', 'frequency'] as const) {
    const sorted = [...customers].sort((a, b) => (a[metric] !== b[metric] ? b[metric] - a[metric] : a.customerId < b.customerId ? -1 : 1));
    rankOf.set(metric, new Map(sorted.map((c, i) => [c.customerId, i + 1])));
  }
  const n = customers.length;
  const tiers = new Map<string, string>();
  for (const c of customers) {
    const tier = policy.tiers.find((t) =>
      (t.relative ?? []).every((band) => {
        const rank = rankOf.get(band.metric)?.get(c.customerId) as number;
        return rank > Math.floor((band.fromBps * n) / 10_000) && rank <= Math.floor((band.toBps * n) / 10_000);
      }),
    );
    tiers.set(c.customerId, tier?.name ?? policy.fallbackTier);
  }
  return tiers;
}

function engineTiers(policy: CompiledPolicy, customers: readonly RankedCustomer[]): Map<string, string> {
  const boundaries = computeBoundaries(policy, customers, 1, now);
  return new Map(customers.map((c) => [c.customerId, rawTier(policy, snapshotOf(c), now, { customerId: c.customerId, boundaries })]));
}

function countTiers(tiers: Map<string, string>): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const tier of tiers.values()) counts[tier] = (counts[tier] ?? 0) + 1;
  return counts;
}

describe('cut ranks', () => {
  it('gives the worked example exactly: 2,126 customers at 1 / 4 / 15 / 80 % are 21 / 85 / 319 / 1,701', () => {
    const through = [100, 500, 2000, 10_000].map((bps) => cutRank(bps, 2126));
    expect(through).toEqual([21, 106, 425, 2126]);
    expect(through.map((r, i) => r - (i === 0 ? 0 : (through[i - 1] as number)))).toEqual([21, 85, 319, 1701]);
  });

  it('lists each cut of a policy once, by metric then share', () => {
    expect(policyCuts(share)).toEqual([
      { metric: 'monetary', bps: 100 },
      { metric: 'monetary', bps: 500 },
      { metric: 'monetary', bps: 2000 },
      { metric: 'monetary', bps: 10_000 },
    ]);
    expect(policyCuts(shippedPolicy('default'))).toEqual([]);
  });

  it('orders by value descending, then customer id ascending', () => {
    expect(compareRank({ value: 5, customerId: 'b' }, { value: 4, customerId: 'a' })).toBeLessThan(0);
    expect(compareRank({ value: 5, customerId: 'a' }, { value: 5, customerId: 'b' })).toBeLessThan(0);
    expect(compareRank({ value: 5, customerId: 'a' }, { value: 5, customerId: 'a' })).toBe(0);
  });
});

describe('computeBoundaries', () => {
  it('puts 21 / 85 / 319 / 1,701 of 2,126 customers in vip / major / medium / small, ties included', () => {
    // Spends with many ties (every 7th value repeats), so the cuts fall inside runs of equal spend.
    const customers = Array.from({ length: 2126 }, (_, i) => ({ customerId: `c${String(i).padStart(5, '0')}`, monetary: 100 * Math.floor((i * 37) % 2126 / 7), frequency: 1 }));
    const tiers = engineTiers(plain, customers);
    expect(countTiers(tiers)).toEqual({ vip: 21, major: 85, medium: 319, small: 1701 });
    expect(tiers).toEqual(fullSortTiers(plain, customers));
    const boundaries = computeBoundaries(plain, customers, 1, now);
    expect(boundaries.population).toBe(2126);
    expect(boundaries.cuts.map((cut) => cut.rank)).toEqual([21, 106, 425, 2126]);
  });

  it('is what a full sort gives for any population (values with ties, both metrics, bands and absolute conditions)', () => {
    const policy: CompiledPolicy = {
      ...plain,
      tiers: [
        { name: 'a', rank: 5, conditions: [], relative: [{ metric: 'monetary', fromBps: 0, toBps: 333 }] },
        { name: 'b', rank: 4, conditions: [], relative: [{ metric: 'frequency', fromBps: 0, toBps: 2000 }, { metric: 'monetary', fromBps: 333, toBps: 5000 }] },
        { name: 'c', rank: 3, conditions: [], relative: [{ metric: 'frequency', fromBps: 2000, toBps: 4000 }] },
        { name: 'd', rank: 2, conditions: [], relative: [{ metric: 'monetary', fromBps: 7550, toBps: 10_000 }] },
      ],
    };
    const population = fc.uniqueArray(
      fc.record({ customerId: fc.string({ minLength: 1, maxLength: 4 }), monetary: fc.integer({ min: -5, max: 20 }), frequency: fc.integer({ min: 1, max: 6 }) }),
      { selector: (c) => c.customerId, maxLength: 300 },
    );
    fc.assert(
      fc.property(population, (customers) => {
        expect(engineTiers(policy, customers)).toEqual(fullSortTiers(policy, customers));
      }),
      { numRuns: 300 },
    );
  });

  it('gives no boundary to a cut of rank 0, so nobody is in a band that small', () => {
    const customers = Array.from({ length: 50 }, (_, i) => ({ customerId: `c${i}`, monetary: i, frequency: 1 }));
    const boundaries = computeBoundaries(plain, customers, 3, now);
    expect(boundaries.cuts[0]).toEqual({ metric: 'monetary', bps: 100, rank: 0, key: null });
    expect(countTiers(engineTiers(plain, customers))).toEqual({ major: 2, medium: 8, small: 40 });
  });

  it('refuses a population that ranks a customer twice', () => {
    const twice = [
      { customerId: 'x', monetary: 1, frequency: 1 },
      { customerId: 'x', monetary: 2, frequency: 1 },
    ];
    expect(() => computeBoundaries(plain, twice, 1, now)).toThrow(/more than once/);
  });
});

describe('rankedValues and keyAtRank', () => {
  it('values a stored customer at now, out of the population once its purchases leave the window or it turns inactive', () => {
    const day = Math.floor(now / DAY);
    const state = { buckets: [{ index: day - 400, monetary: 50, frequency: 1 }, { index: day - 10, monetary: 700, frequency: 2 }], lastPurchaseAt: now - 10 * DAY, tier: 'small', tierSince: 0, pendingDowngradeSince: null, seq: 1, timerAt: null, signalSeq: 0, nearUpgradeAt: null };
    expect(rankedValues(share, state, now)).toEqual({ monetary: 700, frequency: 2 });
    expect(rankedValues(share, state, now + 180 * DAY)).toBeNull(); // inactive after 180 days
    expect(rankedValues(share, { ...state, buckets: [{ index: day - 400, monetary: 50, frequency: 1 }] }, now)).toBeNull();
  });

  it('picks the id at a rank among the customers tied at its value', () => {
    expect(keyAtRank(5, 10, 3, ['d', 'b', 'c'])).toEqual({ value: 10, customerId: 'c' });
    expect(() => keyAtRank(9, 10, 3, ['d'])).toThrow(RangeError);
  });
});

describe('evaluation against boundaries', () => {
  const customers = Array.from({ length: 200 }, (_, i) => ({ customerId: `c${String(i).padStart(3, '0')}`, monetary: 1000 * (200 - i), frequency: 1 }));
  const boundaries = computeBoundaries(share, customers, 1, now);
  const vipCut = boundaries.cuts[0]?.key; // rank 2: c001 at 199,000

  it('ranks the active purchasers only', () => {
    expect(inRankedPopulation(share, { monetary: 5, frequency: 0, recencyMs: DAY, lastPurchaseAt: now - DAY }, now)).toBe(false);
    expect(inRankedPopulation(share, { monetary: 5, frequency: 1, recencyMs: 180 * DAY, lastPurchaseAt: now - 180 * DAY }, now)).toBe(false);
    expect(inRankedPopulation(share, { monetary: 5, frequency: 1, recencyMs: DAY, lastPurchaseAt: now - DAY }, now)).toBe(true);
  });

  it('places a newcomer by value and, at the boundary value, by the customer id tie-break', () => {
    expect(vipCut).toEqual({ value: 199_000, customerId: 'c001' });
    const at = (customerId: string, monetary: number) => rawTier(share, { monetary, frequency: 1, recencyMs: DAY, lastPurchaseAt: now - DAY }, now, { customerId, boundaries });
    expect(at('c0005', 199_000)).toBe('vip'); // "c0005" < "c001"
    expect(at('c002x', 199_000)).toBe('major');
    expect(at('zzz', 199_001)).toBe('vip');
    expect(rawTier(share, { monetary: 10 ** 9, frequency: 1, recencyMs: DAY, lastPurchaseAt: now - DAY }, now, { customerId: 'x', boundaries: null })).toBe('prospect');
  });

  it('relaxes a monetary band by the margin while in the tier, and grace delays the downgrade', () => {
    const spend = (monetary: number): RfmSnapshot => ({ monetary, frequency: 1, recencyMs: DAY, lastPurchaseAt: now - DAY });
    const context = { customerId: 'zzz', boundaries };
    // 95 % of 199,000 is 189,050: a vip at 189,050 is held by the margin, at 189,049 by the grace.
    expect(evaluateTier(share, spend(189_050), { tier: 'vip', pendingDowngradeSince: null }, now, context)).toMatchObject({ tier: 'vip', changed: false, heldBy: 'margin' });
    expect(evaluateTier(share, spend(189_049), { tier: 'vip', pendingDowngradeSince: null }, now, context)).toMatchObject({ tier: 'vip', heldBy: 'grace', pendingDowngradeSince: now });
    expect(evaluateTier(share, spend(189_049), { tier: 'vip', pendingDowngradeSince: now - 7 * DAY }, now, context)).toMatchObject({ tier: 'medium', direction: 'DOWN' }); // below major's cut (191,000) too
    expect(bandHolds(boundaries, { metric: 'monetary', fromBps: 0, toBps: 100 }, 'zzz', spend(189_050), 500)).toBe(true);
  });

  it('gives the headroom to the next relative tier from its boundary value and tie-break', () => {
    const spend: RfmSnapshot = { monetary: 150_000, frequency: 1, recencyMs: DAY, lastPurchaseAt: now - DAY };
    // vip cut c001 at 199,000: "c0009" sorts before "c001", so 199,000 is enough; "zzz" needs 199,001.
    expect(headroom(plain, 'major', spend, { customerId: 'c0009', boundaries }).toNextTierUp).toBe(49_000);
    expect(headroom(plain, 'major', spend, { customerId: 'zzz', boundaries }).toNextTierUp).toBe(49_001);
    // major's lower cut (rank 10, c009 at 191,000) with no margin.
    expect(headroom(plain, 'major', { ...spend, monetary: 195_000 }, { customerId: 'zzz', boundaries }).toDowngrade).toBe(195_000 - 191_001);
    expect(headroom(plain, 'major', spend, { customerId: 'zzz', boundaries: null })).toEqual({ toNextTierUp: null, toDowngrade: null, averageDailyBalanceToNextTierUp: null, averageDailyBalanceToDowngrade: null });
  });
});

describe('rfm-segments', () => {
  const rfm = shippedPolicy('rfm-segments');
  const recencyDays = [10, 45, 90, 200, 300]; // R5 .. R1

  it('puts every cell of the R x F grid into its segment', () => {
    // 5 recency groups x 100 customers with distinct frequencies 1..100: each quintile holds 20 per group.
    const customers = recencyDays.flatMap((days, r) => Array.from({ length: 100 }, (_, i) => ({ customerId: `r${r}-${String(i).padStart(3, '0')}`, days, frequency: 1 + ((i * 7 + r) % 100) })));
    const boundaries = computeBoundaries(rfm, customers.map((c) => ({ customerId: c.customerId, monetary: 0, frequency: c.frequency })), 1, now);
    const grid = new Map<string, string>();
    for (const c of customers) {
      const snapshot = { monetary: 0, frequency: c.frequency, recencyMs: c.days * DAY, lastPurchaseAt: now - c.days * DAY };
      const rank = customers.filter((o) => o.frequency > c.frequency || (o.frequency === c.frequency && o.customerId < c.customerId)).length + 1;
      const f = 5 - Math.floor((rank - 1) / 100); // 500 ranked: quintiles of 100 ranks
      const r = 5 - recencyDays.indexOf(c.days);
      const segment = rawTier(rfm, snapshot, now, { customerId: c.customerId, boundaries });
      const cell = `R${r}F${f}`;
      const seen = grid.get(cell);
      if (seen !== undefined) expect(`${cell} ${segment}`).toBe(`${cell} ${seen}`);
      grid.set(cell, segment);
    }
    const row = (r: number) => [1, 2, 3, 4, 5].map((f) => grid.get(`R${r}F${f}`));
    expect(row(5)).toEqual(['new', 'potential-loyalist', 'potential-loyalist', 'champions', 'champions']);
    expect(row(4)).toEqual(['promising', 'potential-loyalist', 'potential-loyalist', 'loyal', 'loyal']);
    expect(row(3)).toEqual(['about-to-sleep', 'about-to-sleep', 'need-attention', 'loyal', 'loyal']);
    expect(row(2)).toEqual(['hibernating', 'hibernating', 'at-risk', 'at-risk', 'cant-lose-them']);
    expect(row(1)).toEqual(row(2));
  });
});
