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
 * revenue, share of revenue and average revenue per customer; then (a census that counts profit)
 * rolling profit, share of profit and profit per customer.
 */
export function formatPyramid(census: PyramidCensus): string {
  const tiers = [...census.tiers].sort((a, b) => b.rank - a.rank);
  const customers = tiers.reduce((sum, t) => sum + t.customers, 0);
  const revenue = tiers.reduce((sum, t) => sum + t.revenueMinor, 0);
  const withProfit = tiers.some((t) => t.profitMinor !== undefined);
  const profit = tiers.reduce((sum, t) => sum + (t.profitMinor ?? 0), 0);
  const money = (minor: number): string => formatMinor(minor, census.minorUnitDigits);
  const perCustomer = (minor: number, n: number): string => (n === 0 ? '-' : money(Math.round(minor / n)));
  const profitCells = (minor: number, n: number, share: string): string[] => (withProfit ? [money(minor), share, perCustomer(minor, n)] : []);
  const rows = [
    ['tier', 'customers', 'share', `revenue (${census.currency})`, 'share', 'avg per customer', ...(withProfit ? [`profit (${census.currency})`, 'share', 'profit per customer'] : [])],
    ...tiers.map((t) => [
      t.tier,
      String(t.customers),
      percent(t.customers, customers),
      money(t.revenueMinor),
      percent(t.revenueMinor, revenue),
      perCustomer(t.revenueMinor, t.customers),
      ...profitCells(t.profitMinor ?? 0, t.customers, percent(t.profitMinor ?? 0, profit)),
    ]),
    [
      'total',
      String(customers),
      customers === 0 ? '-' : '100.0%',
      money(revenue),
      revenue === 0 ? '-' : '100.0%',
      perCustomer(revenue, customers),
      ...profitCells(profit, customers, profit === 0 ? '-' : '100.0%'),
    ],
  ];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => (row[i] ?? '').length)));
  return rows
    .map((row) => row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0))).join('  '))
    .join('\n');
}

/**
 * The 80/20/30 line: what share of the total profit the top 20 % of customers by profit make, and
 * how much of it the bottom 30 % consume (their summed profit, negated, as a share of the total);
 * the rule of thumb says about 80 % and about 50 %.
 */
export function formatProfitRule(c: NonNullable<PyramidCensus['profitConcentration']>, minorUnitDigits: number, currency: string): string {
  const money = (minor: number): string => `${formatMinor(minor, minorUnitDigits)} ${currency}`;
  const share = (part: number): string => (c.totalProfitMinor <= 0 ? '-' : `${((100 * part) / c.totalProfitMinor).toFixed(1)}%`);
  const bottom = c.bottom30ProfitMinor < 0 ? `consume ${share(-c.bottom30ProfitMinor)} of it (${money(c.bottom30ProfitMinor)})` : `consume none of it (they make ${money(c.bottom30ProfitMinor)})`;
  return (
    `80/20/30 rule on ${c.customers} customers (total profit ${money(c.totalProfitMinor)}): the top 20 % by profit (${c.top20Customers}) make ${share(c.top20ProfitMinor)} of it (${money(c.top20ProfitMinor)}); ` +
    `the bottom 30 % (${c.bottom30Customers}) ${bottom}; the rule of thumb: about 80 % and about 50 %`
  );
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
