import { describe, expect, it } from 'vitest';
import { decodeBuckets, windowTotals } from '../../src/state/customer-hash.js';

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
});
