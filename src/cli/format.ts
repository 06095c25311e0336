import type { PyramidCensus } from '../pipeline/census.js';
import type { MoveCell, MoveMatrix } from '../pipeline/policy-diff.js';

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

/**
 * A move matrix as a text table: a row per current tier, a column per tier under the new policy
 * (in `order`, most valuable first; tiers outside it after, by name), each cell "customers /
 * rolling revenue"; then the totals of the customers that move.
 */
export function formatMoveMatrix(matrix: MoveMatrix, order: readonly string[], minorUnitDigits: number, currency: string): string {
  const names = new Set<string>();
  for (const cell of matrix.cells) names.add(cell.from).add(cell.to);
  const rank = (name: string): number => {
    const at = order.indexOf(name);
    return at < 0 ? order.length : at;
  };
  const tiers = [...names].sort((a, b) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0));
  const cellOf = (from: string, to: string): MoveCell | undefined => matrix.cells.find((c) => c.from === from && c.to === to);
  const rows = [
    ['now \\ new', ...tiers],
    ...tiers.map((from) => [
      from,
      ...tiers.map((to) => {
        const cell = cellOf(from, to);
        if (cell === undefined) return '-';
        return `${cell.customers} / ${formatMinor(cell.revenueMinor, minorUnitDigits)}${from === to ? ' =' : ''}`;
      }),
    ]),
  ];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => (row[i] ?? '').length)));
  const table = rows.map((row) => row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0))).join('  ')).join('\n');
  return [
    `cells: customers / rolling revenue (${currency}); "=" marks customers who keep their tier`,
    table,
    `${matrix.moving} of ${matrix.customers} customers change tier (${formatMinor(matrix.movingRevenueMinor, minorUnitDigits)} ${currency} of rolling revenue moves); each gets one POLICY tier-change event when the policy is applied`,
  ].join('\n');
}
