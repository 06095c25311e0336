import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { CustomerState } from '../../src/engine/types.js';
import { isPyramidError } from '../../src/errors.js';
import { customerShard, decodeCustomer, encodeCustomer, FORMAT_VERSION } from '../../src/state/layout.js';

const optionalTime = fc.option(fc.integer({ min: 0, max: 4_102_444_800_000 }), { nil: null });

const customerState: fc.Arbitrary<CustomerState> = fc.record({
  buckets: fc
    .uniqueArray(fc.integer({ min: -1000, max: 100_000 }), { maxLength: 30 })
    .chain((indexes) =>
      fc.tuple(...[...indexes].sort((a, b) => a - b).map((index) => fc.record({ index: fc.constant(index), monetary: fc.integer({ min: -1e13, max: 1e13 }), frequency: fc.nat(10_000) }))),
    ),
  lastPurchaseAt: optionalTime,
  tier: fc.option(fc.string({ minLength: 1, maxLength: 30 }), { nil: null }),
  tierSince: optionalTime,
  pendingDowngradeSince: optionalTime,
  seq: fc.nat(),
  timerAt: optionalTime,
  signalSeq: fc.nat(),
  nearUpgradeAt: optionalTime,
});

describe('the stored customer encoding', () => {
  it('decodes what it encodes, tiers holding the separator included', () => {
    fc.assert(
      fc.property(customerState, (state) => {
        expect(decodeCustomer(encodeCustomer(state))).toEqual(state);
      }),
      { numRuns: 500 },
    );
    const state: CustomerState = { buckets: [{ index: 3, monetary: -5, frequency: 0 }], lastPurchaseAt: null, tier: 'gold|plus', tierSince: 10, pendingDowngradeSince: 20, seq: 1, timerAt: null, signalSeq: 4, nearUpgradeAt: 15 };
    expect(encodeCustomer(state)).toBe(`${FORMAT_VERSION}|1|10|20|||4|15|3:-5:0|gold|plus`);
  });

  it('refuses a value of another format version, without echoing its content', () => {
    for (const value of ['1|1|10|20|||3:-5:0|gold', '3|1|10|20|||0||3:-5:0|gold', '58900|7|secret-tier', '']) {
      let error: unknown;
      try {
        decodeCustomer(value);
      } catch (err) {
        error = err;
      }
      expect(isPyramidError(error, 'STATE_LAYOUT_MISMATCH')).toBe(true);
      expect(String((error as Error).message)).not.toMatch(/secret|gold/);
    }
  });
});

describe('customer sub-hashes', () => {
  it('spreads ids over the sub-hashes', () => {
    const counts = new Array<number>(64).fill(0);
    for (let i = 0; i < 64_000; i++) counts[customerShard(`cust-${String(i).padStart(6, '0')}`, 64)]! += 1;
    expect(Math.min(...counts)).toBeGreaterThan(900);
    expect(Math.max(...counts)).toBeLessThan(1100);
  });

  it('puts any id in a sub-hash in range', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 200 }), fc.integer({ min: 1, max: 100_000 }), (id, shards) => {
        const shard = customerShard(id, shards);
        expect(Number.isInteger(shard) && shard >= 0 && shard < shards).toBe(true);
      }),
    );
  });
});
