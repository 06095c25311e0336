import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { minorUnitDigits } from '../../src/policy/currencies.js';
import { MAX_POLICY_MINOR_UNITS, decimalToMinor, formatMinor } from '../../src/policy/money.js';

describe('decimalToMinor', () => {
  it('converts whole and fractional amounts exactly', () => {
    expect(decimalToMinor('58900', 2)).toBe(5_890_000);
    expect(decimalToMinor('58900.00', 2)).toBe(5_890_000);
    expect(decimalToMinor('0.01', 2)).toBe(1);
    expect(decimalToMinor('12.5', 2)).toBe(1250);
    expect(decimalToMinor('-0.05', 2)).toBe(-5);
    expect(decimalToMinor('1.234', 3)).toBe(1234);
    expect(decimalToMinor('1200', 0)).toBe(1200);
  });

  it('accepts trailing zeros beyond the currency digits but not significant ones', () => {
    expect(decimalToMinor('1.000', 2)).toBe(100);
    expect(decimalToMinor('5.0', 0)).toBe(5);
    expect(() => decimalToMinor('0.001', 2)).toThrow(/not representable.*2 decimal digits/);
    expect(() => decimalToMinor('0.5', 0)).toThrow(/not representable/);
  });

  it('accepts safe-integer numbers and refuses binary fractions', () => {
    expect(decimalToMinor(58900, 2)).toBe(5_890_000);
    expect(() => decimalToMinor(0.1, 2)).toThrow(/quoted decimal/);
  });

  it('refuses malformed and oversized amounts', () => {
    for (const text of ['', '1,000', '1e3', '.5', '5.', '+5', '12 CNY', '0x10']) {
      expect(() => decimalToMinor(text, 2), text).toThrow(RangeError);
    }
    expect(() => decimalToMinor('99999999999999999', 2)).toThrow(/too large/);
    expect(decimalToMinor(formatMinor(MAX_POLICY_MINOR_UNITS, 2), 2)).toBe(MAX_POLICY_MINOR_UNITS);
  });
});

describe('formatMinor', () => {
  it('pads and places the decimal point by the currency digits', () => {
    expect(formatMinor(5_890_000, 2)).toBe('58900.00');
    expect(formatMinor(1, 2)).toBe('0.01');
    expect(formatMinor(-5, 2)).toBe('-0.05');
    expect(formatMinor(0, 3)).toBe('0.000');
    expect(formatMinor(1200, 0)).toBe('1200');
  });

  it('round-trips through decimalToMinor for every representable amount', () => {
    fc.assert(
      fc.property(fc.integer({ min: -MAX_POLICY_MINOR_UNITS, max: MAX_POLICY_MINOR_UNITS }), fc.integer({ min: 0, max: 4 }), (minor, digits) => {
        expect(decimalToMinor(formatMinor(minor, digits), digits)).toBe(minor);
      }),
    );
  });

  it('agrees with exact decimal arithmetic on generated decimal strings', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 10n ** 12n }), fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 3 }), (whole, fracLen, pad) => {
        // a decimal with fracLen significant-or-zero digits plus `pad` trailing zeros
        const fraction = (whole % 10n ** BigInt(fracLen)).toString().padStart(fracLen, '0');
        const text = fracLen + pad === 0 ? whole.toString() : `${whole}.${fraction}${'0'.repeat(pad)}`;
        const digits = 3;
        const expected = whole * 10n ** BigInt(digits) + BigInt(fraction.padEnd(digits, '0') || '0');
        if (expected > BigInt(MAX_POLICY_MINOR_UNITS)) return;
        expect(decimalToMinor(text, digits)).toBe(Number(expected));
      }),
    );
  });
});

describe('currency table', () => {
  it('knows the minor-unit digits of common currencies', () => {
    expect(minorUnitDigits('CNY')).toBe(2);
    expect(minorUnitDigits('USD')).toBe(2);
    expect(minorUnitDigits('EUR')).toBe(2);
    expect(minorUnitDigits('JPY')).toBe(0);
    expect(minorUnitDigits('KWD')).toBe(3);
    expect(minorUnitDigits('XYZ')).toBeUndefined();
    expect(minorUnitDigits('cny')).toBeUndefined();
  });
});
