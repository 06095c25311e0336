import { describe, expect, it } from 'vitest';
import { decodeBuckets, decodeCustomer, windowTotals } from '../../src/state/customer-hash.js';

describe('customer hash decoding', () => {
  it('joins the older and newest buckets in order and sums those in the window', () => {
    const buckets = decodeBuckets('100:500:1,103:-200:0', '107:1000:2');
    expect(buckets).toEqual([
      { index: 100, monetary: 500, frequency: 1 },
      { index: 103, monetary: -200, frequency: 0 },
      { index: 107, monetary: 1000, frequency: 2 },
    ]);
    expect(windowTotals(buckets, 101)).toEqual({ monetary: 800, frequency: 2 });
  });

  it('reads a customer without buckets', () => {
    expect(decodeBuckets(null, '')).toEqual([]);
  });

  it('decodes a packed customer, a tier holding the separator included', () => {
    expect(decodeCustomer('800|3|1700000000123|4|1700000000100||1700000900000|107:1000:2|100:500:1,103:-700:0|gold|plus')).toEqual({
      tier: 'gold|plus',
      tierSince: 1700000000100,
      seq: 4,
      pendingDowngradeSince: null,
      lastPurchaseAt: 1700000000123,
      buckets: [
        { index: 100, monetary: 500, frequency: 1 },
        { index: 103, monetary: -700, frequency: 0 },
        { index: 107, monetary: 1000, frequency: 2 },
      ],
      monetary: 800,
      frequency: 3,
      dueAt: 1700000900000,
    });
    expect(decodeCustomer('-5|0||1|10|20||3:-5:0||x')).toMatchObject({ lastPurchaseAt: null, pendingDowngradeSince: 20, dueAt: null, buckets: [{ index: 3, monetary: -5, frequency: 0 }] });
    expect(() => decodeCustomer('1|2|3')).toThrow(/packed customer/);
  });

  it('a malformed customer value was echoed into the error (customer data in logs)', () => {
    expect(() => decodeCustomer('58900|7|secret-tier')).toThrow(/^not a packed customer value \(19 characters, 2 of 10 fields\)$/);
    expect(() => decodeCustomer('58900|7|secret-tier')).not.toThrow(/58900|secret/);
  });
});
