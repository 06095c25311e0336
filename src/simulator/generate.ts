import type { Transaction } from '../pipeline/validate.js';
import { createRandom } from './random.js';

/** The synthetic bank's parameters. Every ratio is a probability per generated event. */
export interface SimulationOptions {
  /** Same seed and options, same transactions. */
  seed: number;
  /** Number of distinct customers. */
  customers: number;
  /** Events to generate; undefined: endless. */
  count?: number;
  /** Event time of the first event, epoch ms. */
  startTime: number;
  /** Event-time distance between consecutive events (simulated clock); may be fractional. */
  spacingMs: number;
  /**
   * Pareto shape of customers' typical ticket size. 1.16 gives the classic 80/20 split; smaller
   * is more unequal. Customers' purchase frequencies vary too, with a milder tail.
   */
  paretoAlpha?: number;
  /** Smallest typical ticket size (the Pareto scale), minor units. Default 2,000 (20.00). */
  minTicketMinor?: number;
  /** Largest single amount, minor units; tickets are capped here. Default 10^9. */
  maxAmountMinor?: number;
  /** Share of events that refund an earlier purchase of the same customer. Default 0.03. */
  refundRatio?: number;
  /** Share of events that re-send an earlier transaction unchanged (same transactionId). Default 0.01. */
  duplicateRatio?: number;
  /** Share of events whose event time lies in the past by up to `lateByMs`. Default 0.02. */
  lateRatio?: number;
  /** How late a late event can be. Default 3 days. */
  lateByMs?: number;
  /** Share of customers who stop buying (silence) after `silenceAfter` events. Default 0.1. */
  silenceRatio?: number;
  /** Event index from which the silent customers stop. Default: half of `count`, or 20 × customers. */
  silenceAfter?: number;
  /** ISO 4217 code of every transaction. Default CNY. */
  currency?: string;
  /** Prefix of transaction ids, so runs with different seeds do not collide. Default `sim<seed>`. */
  runId?: string;
  /**
   * Share of customers whose business loses money (negative margin: fees waived, rewards paid out
   * beyond the interchange earned). Default 0.3, the "bottom 30 %" of the 80/20/30 rule.
   */
  lossMakingRatio?: number;
}

/** One generated event and what the simulator did to it on purpose. */
export interface SimulatedTransaction {
  transaction: Transaction;
  duplicate: boolean;
  late: boolean;
}

const CHANNELS = ['POS', 'ONLINE', 'MOBILE', 'ATM'] as const;
const MERCHANT_CATEGORIES = ['5411', '5812', '5732', '5311', '4111', '5999', '5541', '7011'] as const;
const RECENT = 1_024;

function customerId(index: number): string {
  return `cust-${String(index).padStart(7, '0')}`;
}

/**
 * A deterministic synthetic bank: customers with Pareto-distributed spend buying at
 * `spacingMs` intervals of simulated time, with refunds, duplicates, late events and customers
 * who fall silent. Amounts are integer minor units.
 */
export function* generateTransactions(options: SimulationOptions): Generator<SimulatedTransaction> {
  if (!Number.isInteger(options.customers) || options.customers < 1) throw new RangeError('customers must be a positive integer');
  const random = createRandom(options.seed);
  const alpha = options.paretoAlpha ?? 1.16;
  const minTicket = options.minTicketMinor ?? 2_000;
  const maxAmount = options.maxAmountMinor ?? 1_000_000_000;
  const refundRatio = options.refundRatio ?? 0.03;
  const duplicateRatio = options.duplicateRatio ?? 0.01;
  const lateRatio = options.lateRatio ?? 0.02;
  const lateByMs = options.lateByMs ?? 3 * 86_400_000;
  const silenceAfter = options.silenceAfter ?? (options.count === undefined ? 20 * options.customers : Math.floor(options.count / 2));
  const currency = options.currency ?? 'CNY';
  const runId = options.runId ?? `sim${options.seed}`;

  const ticket: number[] = [];
  const activity: number[] = [];
  // Margin per customer in basis points of the amount: most earn 2-20 %, the loss-making lose 1-15 %.
  const marginBps: number[] = [];
  const lossMaking = options.lossMakingRatio ?? 0.3;
  for (let c = 0; c < options.customers; c++) {
    ticket.push(random.pareto(alpha, minTicket));
    activity.push(random.pareto(3, 1));
  }
  // From a stream of its own, so adding margins left every other draw (and so every seeded run) as it was.
  const marginRandom = createRandom(options.seed + 0x9e3779b9);
  for (let c = 0; c < options.customers; c++) marginBps.push(marginRandom.chance(lossMaking) ? -marginRandom.int(100, 1_500) : marginRandom.int(200, 2_000));
  const customerIndex = (id: string): number => Number(id.slice(5));
  const margin = (id: string, amountMinor: number): number => Math.round((amountMinor * (marginBps[customerIndex(id)] as number)) / 10_000);
  const silentCount = Math.round((options.silenceRatio ?? 0.1) * options.customers);
  const silent = new Set<number>();
  while (silent.size < silentCount) silent.add(random.int(0, options.customers - 1));

  // Cumulative activity weights: a customer is drawn in proportion to how often they shop.
  const buildCumulative = (exclude: ReadonlySet<number>): number[] => {
    const cumulative: number[] = [];
    let total = 0;
    for (let c = 0; c < options.customers; c++) {
      total += exclude.has(c) ? 0 : (activity[c] as number);
      cumulative.push(total);
    }
    return cumulative;
  };
  let cumulative = buildCumulative(new Set());
  const drawCustomer = (): number => {
    const target = random.next() * (cumulative[cumulative.length - 1] as number);
    let lo = 0;
    let hi = cumulative.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((cumulative[mid] as number) > target) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  };

  const recentPurchases: Transaction[] = [];
  const recentSent: Transaction[] = [];
  const remember = (list: Transaction[], tx: Transaction): void => {
    if (list.length >= RECENT) list[random.int(0, RECENT - 1)] = tx;
    else list.push(tx);
  };

  let sequence = 0;
  for (let i = 0; options.count === undefined || i < options.count; i++) {
    if (i === silenceAfter && silent.size > 0 && silent.size < options.customers) cumulative = buildCumulative(silent);
    // Spacing may be fractional (1000 / rate); event times stay integer milliseconds.
    const now = options.startTime + Math.floor(i * options.spacingMs);

    if (recentSent.length > 0 && random.chance(duplicateRatio)) {
      yield { transaction: random.pick(recentSent), duplicate: true, late: false };
      continue;
    }

    const late = random.chance(lateRatio);
    const eventTime = late ? now - random.int(1, lateByMs) : now;
    let transaction: Transaction;
    const refundOf = recentPurchases.length > 0 && random.chance(refundRatio) ? random.pick(recentPurchases) : undefined;
    if (refundOf !== undefined) {
      // Full or partial refund, never more than was paid; it reverses its share of the margin.
      const amountMinor = random.chance(0.5) ? refundOf.amountMinor : Math.max(1, Math.floor(refundOf.amountMinor * random.next()));
      transaction = {
        ...refundOf,
        transactionId: `${runId}-${++sequence}`,
        kind: 'REFUND',
        amountMinor,
        eventTime: Math.max(eventTime, refundOf.eventTime),
        profitMinor: -margin(refundOf.customerId, amountMinor),
      };
    } else {
      const c = drawCustomer();
      const jitter = 0.5 + random.next();
      const amountMinor = Math.min(maxAmount, Math.max(1, Math.round((ticket[c] as number) * jitter)));
      transaction = {
        transactionId: `${runId}-${++sequence}`,
        customerId: customerId(c),
        kind: 'PURCHASE',
        amountMinor,
        currency,
        eventTime,
        channel: random.pick(CHANNELS),
        merchantCategory: random.pick(MERCHANT_CATEGORIES),
        profitMinor: margin(customerId(c), amountMinor),
      };
      remember(recentPurchases, transaction);
    }
    remember(recentSent, transaction);
    yield { transaction, duplicate: false, late };
  }
}
