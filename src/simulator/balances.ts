import type { BalanceSnapshot } from '../pipeline/validate.js';
import { createRandom } from './random.js';

/** The synthetic bank's accounts: what each customer holds, and how balances move. */
export interface BalanceSimulationOptions {
  /** Same seed and options, same snapshots (given the same asOf sequence). */
  seed: number;
  /** Customers `cust-0000000` .. as in the transaction simulator (generate.ts). */
  customers: number;
  /**
   * Pareto shape of customers' assets. Default 1.16: with the default scale about 1 % of
   * customers hold over 1,000,000 CNY on average (black-gold in bank-cards.yaml), 4 % over
   * 300,000, 15 % over 100,000.
   */
  paretoAlpha?: number;
  /** Smallest typical assets (the Pareto scale), minor units. Default 2,000,000 (20,000.00). */
  minAssetsMinor?: number;
  /** ISO 4217 code of every balance. Default CNY. */
  currency?: string;
}

const ACCOUNTS = ['current', 'savings', 'card'] as const;

function customerId(index: number): string {
  return `cust-${String(index).padStart(7, '0')}`;
}

/**
 * A deterministic source of account balance snapshots: each customer has typical assets (Pareto)
 * split over a current and a savings account that drift around them, and a card account that is
 * negative (outstanding debt). `next(asOf)` draws a customer and one of their accounts and
 * returns its balance from `asOf` on.
 */
export function createBalanceSimulator(options: BalanceSimulationOptions): { next(asOf: number): BalanceSnapshot } {
  if (!Number.isInteger(options.customers) || options.customers < 1) throw new RangeError('customers must be a positive integer');
  // A stream of its own, so adding balances to a run leaves its transactions as they were.
  const random = createRandom(options.seed + 0x7f4a7c15);
  const alpha = options.paretoAlpha ?? 1.16;
  const minAssets = options.minAssetsMinor ?? 2_000_000;
  const currency = options.currency ?? 'CNY';
  const assets: number[] = [];
  const savingsShare: number[] = [];
  for (let c = 0; c < options.customers; c++) {
    assets.push(random.pareto(alpha, minAssets));
    savingsShare.push(0.3 + random.next() * 0.6);
  }
  return {
    next(asOf) {
      const c = random.int(0, options.customers - 1);
      const account = random.pick(ACCOUNTS);
      const total = assets[c] as number;
      const drift = 0.7 + random.next() * 0.6;
      const share = account === 'savings' ? (savingsShare[c] as number) : 1 - (savingsShare[c] as number);
      const balanceMinor = account === 'card' ? -Math.round(total * 0.02 * random.next()) : Math.round(total * share * drift);
      return { customerId: customerId(c), accountId: account, balanceMinor, currency, asOf };
    },
  };
}
