import { describe, expect, it } from 'vitest';
import type { RfmSnapshot } from '../../src/engine/aggregates.js';
import { headroom } from '../../src/engine/headroom.js';
import type { CompiledPolicy } from '../../src/policy/types.js';
import { shippedPolicy, withHysteresis } from '../policy/fixtures.js';

const pyramid = shippedPolicy('default'); // margin 5 %
const spend = (monetary: number, frequency = 1): RfmSnapshot => ({ monetary, frequency, recencyMs: 0, lastPurchaseAt: 0 });

describe('headroom', () => {
  it('measures the spend to the next tier up (exclusive bound: one minor unit past it)', () => {
    expect(headroom(pyramid, 'medium', spend(1_000_000)).toNextTierUp).toBe(1_900_001 - 1_000_000);
    expect(headroom(pyramid, 'major', spend(5_890_000)).toNextTierUp).toBe(1);
    expect(headroom(pyramid, 'small', spend(0)).toNextTierUp).toBe(482_001);
  });

  it('measures the drop to the relaxed lower bound of the current tier', () => {
    // medium's 4820.00 relaxes by 5 % to 4579.00, exclusive: 4579.01 still holds.
    expect(headroom(pyramid, 'medium', spend(1_000_000)).toDowngrade).toBe(1_000_000 - 457_901);
    expect(headroom(withHysteresis(pyramid), 'medium', spend(1_000_000)).toDowngrade).toBe(1_000_000 - 482_001);
    expect(headroom(pyramid, 'vip', spend(5_595_000)).toDowngrade).toBe(0); // held by grace below the bound
  });

  it('is null at the top, and without a monetary lower bound', () => {
    expect(headroom(pyramid, 'vip', spend(9_000_000))).toMatchObject({ toNextTierUp: null, toDowngrade: 9_000_000 - 5_595_501 });
    expect(headroom(pyramid, 'small', spend(100)).toDowngrade).toBeNull();
    expect(headroom(pyramid, 'prospect', spend(0, 0))).toMatchObject({ toNextTierUp: null, toDowngrade: null }); // small: frequency only
    expect(headroom(pyramid, 'inactive', spend(9_000_000))).toMatchObject({ toNextTierUp: null, toDowngrade: null });
  });

  it('assumes the next tier’s other conditions hold (value × loyalty)', () => {
    const matrix = shippedPolicy('value-loyalty');
    // loyal -> big-spender needs monetary >= 20000 (its frequency < 12 is assumed to hold)
    expect(headroom(matrix, 'loyal', spend(1_500_000, 20)).toNextTierUp).toBe(500_000);
    // occasional -> loyal has only an upper monetary bound: spend does not get there
    expect(headroom(matrix, 'occasional', spend(100_000)).toNextTierUp).toBeNull();
  });

  it('is null when the next tier’s upper bound cannot be met by adding spend', () => {
    const banded: CompiledPolicy = {
      ...withHysteresis(pyramid),
      tiers: [
        { name: 'band', rank: 3, conditions: [{ metric: 'monetary', op: 'gte', value: 100 }, { metric: 'monetary', op: 'lt', value: 200 }] },
        { name: 'any', rank: 2, conditions: [{ metric: 'frequency', op: 'gte', value: 1 }] },
      ],
    };
    expect(headroom(banded, 'any', spend(50)).toNextTierUp).toBe(50);
    expect(headroom(banded, 'any', spend(250)).toNextTierUp).toBeNull();
  });
});
