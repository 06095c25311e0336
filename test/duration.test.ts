import { describe, expect, it } from 'vitest';
import { formatDuration, parseDuration } from '../src/duration.js';

describe('parseDuration', () => {
  it('reads one whole number and one unit', () => {
    expect(parseDuration('365d')).toBe(365 * 86_400_000);
    expect(parseDuration('12h')).toBe(43_200_000);
    expect(parseDuration('90m')).toBe(5_400_000);
    expect(parseDuration('30s')).toBe(30_000);
    expect(parseDuration('250ms')).toBe(250);
    expect(parseDuration('2w')).toBe(14 * 86_400_000);
    expect(parseDuration('0d')).toBe(0);
  });

  it('rejects fractions, compounds, signs, missing units and overflow', () => {
    for (const text of ['1.5d', '1d12h', '-1d', '365', 'd', '1y', '', '1 d x']) {
      expect(() => parseDuration(text), text).toThrow(RangeError);
    }
    expect(() => parseDuration('99999999999999w')).toThrow(/too long/);
  });
});

describe('formatDuration', () => {
  it('uses the largest unit that divides exactly', () => {
    expect(formatDuration(180 * 86_400_000)).toBe('180d');
    expect(formatDuration(36 * 3_600_000)).toBe('36h');
    expect(formatDuration(1_500)).toBe('1500ms');
    expect(formatDuration(0)).toBe('0d');
  });

  it('round-trips through parseDuration', () => {
    for (const ms of [1, 999, 1000, 60_000, 3_600_000, 86_400_000, 7 * 86_400_000 + 1]) {
      expect(parseDuration(formatDuration(ms))).toBe(ms);
    }
  });
});
