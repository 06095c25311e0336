import type { PyramidCensus } from '../pipeline/census.js';

/** Minor units as a decimal amount with thousands separators, e.g. 123456789 (2 digits) -> 1,234,567.89. */
export function formatMinor(minor: number, digits: number): string {
  const negative = minor < 0;
  const abs = BigInt(Math.abs(Math.round(minor)));
  const scale = 10n ** BigInt(digits);
  const whole = (abs / scale).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  const fraction = digits === 0 ? '' : `.${(abs % scale).toString().padStart(digits, '0')}`;
  return `${negative ? '-' : ''}${whole}${fraction}`;
}

const percent = (part: number, whole: number): string => (whole === 0 ? '-' : `${((100 * part) / whole).toFixed(1)}%`);

/**
 * The pyramid as a text table, most valuable tier first: customers, share of customers, rolling
 * revenue, share of revenue and average revenue per customer.
 */
export function formatPyramid(census: PyramidCensus): string {
  const tiers = [...census.tiers].sort((a, b) => b.rank - a.rank);
  const customers = tiers.reduce((sum, t) => sum + t.customers, 0);
  const revenue = tiers.reduce((sum, t) => sum + t.revenueMinor, 0);
  const money = (minor: number): string => formatMinor(minor, census.minorUnitDigits);
  const rows = [
    ['tier', 'customers', 'share', `revenue (${census.currency})`, 'share', 'avg per customer'],
    ...tiers.map((t) => [
      t.tier,
      String(t.customers),
      percent(t.customers, customers),
      money(t.revenueMinor),
      percent(t.revenueMinor, revenue),
      t.customers === 0 ? '-' : money(Math.round(t.revenueMinor / t.customers)),
    ]),
    ['total', String(customers), customers === 0 ? '-' : '100.0%', money(revenue), revenue === 0 ? '-' : '100.0%', customers === 0 ? '-' : money(Math.round(revenue / customers))],
  ];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => (row[i] ?? '').length)));
  return rows
    .map((row) => row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0))).join('  '))
    .join('\n');
}
