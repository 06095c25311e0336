import { describe, expect, it } from 'vitest';
import { bucketExitTime, conditionHolds, firstCountedBucket, rollingAggregates } from '../../src/engine/aggregates.js';
import { DAY, bucketsOf, shippedPolicy } from '../policy/fixtures.js';

const policy = shippedPolicy('default'); // 365 buckets of 1 day
const now = 1000 * DAY + 5;

describe('rollingAggregates', () => {
  it('counts exactly the buckets from floor(now/bucket) - 364 on, future ones included', () => {
    expect(firstCountedBucket(policy, now)).toBe(1000 - 365 + 1);
    const buckets = bucketsOf([635, 1_000, 1], [636, 200, 2], [1000, 30, 1], [1001, 4, 1]);
    expect(rollingAggregates(policy, buckets, 1000 * DAY, now)).toEqual({
      monetary: 234,
      frequency: 4,
      recencyMs: 5,
      lastPurchaseAt: 1000 * DAY,
      averageDailyBalance: 0,
      profit: 0,
    });
  });

  it('lets a bucket leave the window exactly at its exit time', () => {
    const buckets = bucketsOf([636, 200, 2]);
    const exit = bucketExitTime(policy, 636);
    expect(exit).toBe(1001 * DAY);
    expect(rollingAggregates(policy, buckets, null, exit - 1).monetary).toBe(200);
    expect(rollingAggregates(policy, buckets, null, exit).monetary).toBe(0);
  });

  it('nets refunds into monetary and reports no recency without a purchase', () => {
    const snapshot = rollingAggregates(policy, bucketsOf([999, -500, 0]), null, now);
    expect(snapshot).toEqual({ monetary: -500, frequency: 0, recencyMs: null, lastPurchaseAt: null, averageDailyBalance: 0, profit: 0 });
  });
});

describe('conditionHolds', () => {
  const never = { monetary: 0, frequency: 0, recencyMs: null, lastPurchaseAt: null };
  const recent = { monetary: 0, frequency: 1, recencyMs: 10, lastPurchaseAt: 0 };

  it('treats recency without a purchase as +infinity', () => {
    expect(conditionHolds({ metric: 'recencyMs', op: 'gt', value: 5 }, never)).toBe(true);
    expect(conditionHolds({ metric: 'recencyMs', op: 'gte', value: 5 }, never)).toBe(true);
    expect(conditionHolds({ metric: 'recencyMs', op: 'lt', value: 5 }, never)).toBe(false);
    expect(conditionHolds({ metric: 'recencyMs', op: 'lte', value: 5 }, never)).toBe(false);
  });

  it('distinguishes inclusive from exclusive bounds', () => {
    expect(conditionHolds({ metric: 'recencyMs', op: 'lte', value: 10 }, recent)).toBe(true);
    expect(conditionHolds({ metric: 'recencyMs', op: 'lt', value: 10 }, recent)).toBe(false);
    expect(conditionHolds({ metric: 'frequency', op: 'gte', value: 1 }, recent)).toBe(true);
    expect(conditionHolds({ metric: 'frequency', op: 'gt', value: 1 }, recent)).toBe(false);
  });
});
