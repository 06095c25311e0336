import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { CustomerState } from '../../src/engine/types.js';
import { isPyramidError } from '../../src/errors.js';
import { customerShard, decodeCustomer, encodeCustomer, EXTENDED_CUSTOMER_ENCODING, FORMAT_VERSION } from '../../src/state/layout.js';

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
    // Signal state makes the value extended; without any, the plain value.
    expect(encodeCustomer(state)).toBe(`${EXTENDED_CUSTOMER_ENCODING}|1|10|20|||4|15|3:-5:0||gold|plus`);
    expect(encodeCustomer({ ...state, signalSeq: 0, nearUpgradeAt: null })).toBe(`${FORMAT_VERSION}|1|10|20|||3:-5:0|gold|plus`);
  });

  it('refuses a value of another format version, without echoing its content', () => {
    for (const value of ['3|1|10|20|||3:-5:0||gold', '2|1|10|20|||3:-5:0|gold', '58900|7|secret-tier', '']) {
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

/** Customers with transaction margins and account balances: the extended encoding. */
const extendedState: fc.Arbitrary<CustomerState> = fc
  .record({
    base: customerState,
    profits: fc.array(fc.integer({ min: -1e12, max: 1e12 }), { maxLength: 30 }),
    balances: fc.option(
      fc.record({
        baseSum: fc.integer({ min: -1e13, max: 1e13 }),
        accounts: fc.uniqueArray(fc.stringMatching(/^[A-Za-z0-9_.-]{1,64}$/), { maxLength: 5 }).chain((ids) =>
          fc.tuple(...[...ids].sort().map((accountId) => fc.record({ accountId: fc.constant(accountId), balanceMinor: fc.integer({ min: -1e13, max: 1e13 }), asOf: fc.nat(4_102_444_800_000) }))),
        ),
        buckets: fc.uniqueArray(fc.integer({ min: 0, max: 100_000 }), { maxLength: 10 }).chain((indexes) =>
          fc.tuple(
            ...[...indexes].sort((a, b) => a - b).map((index) =>
              fc.record({ index: fc.constant(index), offsetWeight: fc.bigInt({ min: -(10n ** 22n), max: 10n ** 22n }), endSum: fc.integer({ min: -1e13, max: 1e13 }) }),
            ),
          ),
        ),
      }),
      { nil: undefined },
    ),
  })
  .map(({ base, profits, balances }) => {
    const state: CustomerState = { ...base, buckets: base.buckets.map((b, i) => ((profits[i] ?? 0) === 0 ? b : { ...b, profit: profits[i] as number })) };
    if (balances !== undefined) state.balances = balances;
    return state;
  });

describe('the extended customer encoding (profit, balances)', () => {
  it('decodes what it encodes', () => {
    fc.assert(
      fc.property(extendedState, (state) => {
        expect(decodeCustomer(encodeCustomer(state))).toEqual(state);
      }),
      { numRuns: 500 },
    );
  });

  it('leaves a customer without profit or balances in the plain encoding, byte for byte as stored before', () => {
    // A value as a scorer before balances and profit wrote it: it still decodes, and re-encodes identically.
    const stored = '1|4|1000||990|2000|10:500:2,11:-20:0|gold';
    const state = decodeCustomer(stored);
    expect(state).toEqual({
      buckets: [
        { index: 10, monetary: 500, frequency: 2 },
        { index: 11, monetary: -20, frequency: 0 },
      ],
      lastPurchaseAt: 990,
      tier: 'gold',
      tierSince: 1000,
      pendingDowngradeSince: null,
      seq: 4,
      timerAt: 2000,
      signalSeq: 0,
      nearUpgradeAt: null,
    });
    expect(encodeCustomer(state)).toBe(stored);
  });

  it('writes profit and balances after a version head an older scorer refuses', () => {
    const state: CustomerState = {
      buckets: [{ index: 10, monetary: 500, frequency: 2, profit: -30 }],
      lastPurchaseAt: 990,
      tier: 'platinum',
      tierSince: 1000,
      pendingDowngradeSince: null,
      seq: 4,
      timerAt: null,
      signalSeq: 0,
      nearUpgradeAt: null,
      balances: {
        baseSum: 7,
        accounts: [
          { accountId: 'card-1', balanceMinor: -250, asOf: 950 },
          { accountId: 'savings', balanceMinor: 100_000, asOf: 960 },
        ],
        buckets: [{ index: 9, offsetWeight: 12_345_678_901_234_567_890n, endSum: 99_750 }],
      },
    };
    const text = encodeCustomer(state);
    expect(text).toBe(`${EXTENDED_CUSTOMER_ENCODING}|4|1000||990||0||10:500:2:-30|7;card-1=-250@950,savings=100000@960;9:12345678901234567890:99750|platinum`);
    expect(decodeCustomer(text)).toEqual(state);
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
