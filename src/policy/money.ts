/**
 * Money as integer minor units. Policy amounts are decimal strings converted exactly (BigInt, never
 * floats), so "58900.00" CNY is 5 890 000 and "0.001" CNY is an error instead of a silent 0.
 */

/**
 * The largest magnitude a policy amount may have, in minor units. The margin relaxation computes
 * `value × (10000 − marginBps)` in doubles; keeping
 * `value × 10000` within 2^53 keeps that product and the following floor exact.
 */
export const MAX_POLICY_MINOR_UNITS = Math.floor(Number.MAX_SAFE_INTEGER / 10_000);

const DECIMAL_PATTERN = /^(-?)(\d+)(?:\.(\d+))?$/;

/**
 * Converts a decimal amount in major units to integer minor units.
 *
 * Accepts `"58900"`, `"58900.00"`, `"-12.5"` and trailing zeros beyond the currency's digits
 * (`"1.000"` in CNY); a JS number is accepted only when it is a safe integer (YAML turns an
 * unquoted `58900` into one; an unquoted `0.1` would already be a binary float, so it is refused).
 *
 * @throws RangeError naming why the amount is not representable.
 */
export function decimalToMinor(amount: string | number, digits: number): number {
  if (typeof amount === 'number') {
    if (!Number.isSafeInteger(amount)) {
      throw new RangeError(`${amount} is not a whole number; write fractional amounts as quoted decimal strings (e.g. "12.50")`);
    }
    return decimalToMinor(String(amount), digits);
  }
  const match = DECIMAL_PATTERN.exec(amount.trim());
  if (match === null) {
    throw new RangeError(`"${amount}" is not a decimal amount (expected e.g. "58900" or "58900.00")`);
  }
  const [, sign = '', whole = '0', fraction = ''] = match;
  const significant = fraction.replace(/0+$/, '');
  if (significant.length > digits) {
    throw new RangeError(
      `"${amount}" is not representable in minor units of a currency with ${digits} decimal digit${digits === 1 ? '' : 's'}`,
    );
  }
  const minor = BigInt(whole) * 10n ** BigInt(digits) + BigInt(significant.padEnd(digits, '0') || '0');
  if (minor > BigInt(MAX_POLICY_MINOR_UNITS)) {
    throw new RangeError(`"${amount}" is too large (at most ${formatMinor(MAX_POLICY_MINOR_UNITS, digits)})`);
  }
  return Number(sign === '-' ? -minor : minor);
}

/**
 * Formats integer minor units as a plain decimal in major units with exactly `digits` decimals:
 * (5890000, 2) -> "58900.00", (-5, 2) -> "-0.05", (1200, 0) -> "1200". No grouping separators, so
 * the text parses back with {@link decimalToMinor}.
 */
export function formatMinor(minor: number, digits: number): string {
  if (!Number.isSafeInteger(minor)) throw new RangeError(`${minor} is not an integer amount of minor units`);
  const sign = minor < 0 ? '-' : '';
  const magnitude = Math.abs(minor).toString().padStart(digits + 1, '0');
  if (digits === 0) return `${sign}${magnitude}`;
  const cut = magnitude.length - digits;
  return `${sign}${magnitude.slice(0, cut)}.${magnitude.slice(cut)}`;
}
