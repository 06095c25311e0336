import { describe, expect, it } from 'vitest';
import { describeCondition, describeTierRule } from '../../src/policy/describe.js';
import { DAY, shippedPolicy } from './fixtures.js';

const pyramid = shippedPolicy('default');

describe('describeCondition', () => {
  it('writes money in the policy currency with its minor-unit digits', () => {
    expect(describeCondition(pyramid, { metric: 'monetary', op: 'gt', value: 5_890_000 })).toBe('monetary > 58900.00 CNY');
    expect(describeCondition({ currency: 'JPY', minorUnitDigits: 0 }, { metric: 'monetary', op: 'gte', value: 10_000 })).toBe('monetary >= 10000 JPY');
    expect(describeCondition({ currency: 'KWD', minorUnitDigits: 3 }, { metric: 'monetary', op: 'lt', value: 1_500 })).toBe('monetary < 1.500 KWD');
  });

  it('writes counts and durations as in the policy file', () => {
    expect(describeCondition(pyramid, { metric: 'frequency', op: 'gte', value: 52 })).toBe('frequency >= 52');
    expect(describeCondition(pyramid, { metric: 'recencyMs', op: 'lte', value: 30 * DAY })).toBe('recency <= 30d');
    expect(describeCondition(pyramid, { metric: 'averageDailyBalance', op: 'gte', value: 100_000_000 })).toBe('averageDailyBalance >= 1000000.00 CNY');
    expect(describeCondition(pyramid, { metric: 'profit', op: 'lt', value: -52_200 })).toBe('profit < -522.00 CNY');
  });
});

describe('describeTierRule', () => {
  it('covers listed, fallback and inactive tiers, and refuses unknown names', () => {
    expect(describeTierRule(pyramid, 'major')).toBe('monetary > 19000.00 CNY and monetary <= 58900.00 CNY');
    expect(describeTierRule(pyramid, 'prospect')).toBe('fallback: no tier matched');
    expect(describeTierRule(pyramid, 'inactive')).toBe('inactive: no purchase for 180d');
    expect(describeTierRule({ ...pyramid, tiers: [{ name: 'all', rank: 2, conditions: [] }] }, 'all')).toBe('always');
    expect(() => describeTierRule(pyramid, 'gold')).toThrow(RangeError);
  });
});
