import { describe, expect, it } from 'vitest';
import { formatMinor, formatPyramid } from '../../src/cli/format.js';

describe('formatMinor', () => {
  it('formats minor units exactly, with separators and the currency’s digits', () => {
    expect(formatMinor(123_456_789, 2)).toBe('1,234,567.89');
    expect(formatMinor(-5, 2)).toBe('-0.05');
    expect(formatMinor(1_000, 0)).toBe('1,000');
    expect(formatMinor(1_234, 3)).toBe('1.234');
  });
});

describe('formatPyramid', () => {
  it('lists tiers by rank with shares of customers and revenue and the average per customer', () => {
    // The customer-pyramid worked example of policies/default.yaml (README, "Tier policy").
    const text = formatPyramid({
      currency: 'CNY',
      minorUnitDigits: 2,
      tiers: [
        { tier: 'small', rank: 2, customers: 1_701, revenueMinor: 197_316_000 },
        { tier: 'vip', rank: 5, customers: 21, revenueMinor: 239_400_000 },
        { tier: 'major', rank: 4, customers: 85, revenueMinor: 268_600_000 },
        { tier: 'medium', rank: 3, customers: 319, revenueMinor: 290_290_000 },
      ],
    });
    const lines = text.split('\n');
    expect(lines.map((l) => l.split(/\s+/)[0])).toEqual(['tier', 'vip', 'major', 'medium', 'small', 'total']);
    expect(lines[1]).toMatch(/^vip\s+21\s+1\.0%\s+2,394,000\.00\s+24\.0%\s+114,000\.00$/);
    expect(lines[5]).toMatch(/^total\s+2126\s+100\.0%\s+9,956,060\.00\s+100\.0%\s+4,683\.00$/);
  });
});
