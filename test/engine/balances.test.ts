import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { averageDailyBalance, floorDiv } from '../../src/engine/balances.js';
import type { BalanceRecord } from '../../src/engine/types.js';
import type { CompiledPolicy } from '../../src/policy/types.js';
import { DAY, shippedPolicy } from '../policy/fixtures.js';
import { MemoryPartition } from './memory-partition.js';

const HOUR = 3_600_000;
const bankCards = shippedPolicy('bank-cards');

/** A snapshot as generated here: on whole hours, so the check below can sample hour by hour. */
interface Snapshot {
  account: string;
  balance: number;
  asOf: number;
}

/**
 * The average daily balance computed the plain way, independently of src/engine: for every day of
 * the window ending with now's day, for every hour of it, each account holds its latest snapshot
 * at or before that hour's start (0 before its first), and that balance counts for the whole
 * hour; the sum over the window's hours, floor-divided by the window length. Exact because every
 * snapshot lies on an hour boundary.
 */
function expectedAverageDailyBalance(policy: CompiledPolicy, snapshots: readonly Snapshot[], now: number): number {
  const windowDays = policy.windowMs / DAY;
  const today = Math.floor(now / DAY);
  const accounts = [...new Set(snapshots.map((s) => s.account))];
  let total = 0n;
  for (let day = today - windowDays + 1; day <= today; day++) {
    for (let hour = 0; hour < 24; hour++) {
      const at = day * DAY + hour * HOUR;
      for (const account of accounts) {
        let balance = 0;
        let latest = -Infinity;
        for (const s of snapshots) {
          if (s.account === account && s.asOf <= at && s.asOf > latest) {
            latest = s.asOf;
            balance = s.balance;
          }
        }
        total += BigInt(balance) * BigInt(HOUR);
      }
    }
  }
  const window = BigInt(policy.windowMs);
  return Number(total < 0n && total % window !== 0n ? total / window - 1n : total / window);
}

const record = (offset: number, s: Snapshot, customerId = 'holder'): BalanceRecord => ({
  kind: 'balance',
  offset,
  customerId,
  accountId: s.account,
  balanceMinor: s.balance,
  eventTime: s.asOf,
});

/** Snapshots of up to four accounts, each account's in asOf order, starting on day 400. */
const history = fc
  .array(
    fc.record({
      account: fc.constantFrom('current', 'savings', 'card', 'deposit'),
      balance: fc.oneof(fc.integer({ min: -5_000_000, max: 5_000_000 }), fc.integer({ min: 0, max: 300_000_000_000 })),
      hoursLater: fc.oneof(fc.integer({ min: 0, max: 30 }), fc.integer({ min: 24, max: 24 * 200 })),
    }),
    { minLength: 1, maxLength: 25 },
  )
  .map((steps) => {
    let at = 400 * DAY;
    return steps.map((step) => {
      at += (step.hoursLater + 1) * HOUR;
      return { account: step.account, balance: step.balance, asOf: at };
    });
  });

describe('averageDailyBalance', () => {
  it('equals a day-by-day, hour-by-hour computation for generated histories over several accounts', () => {
    fc.assert(
      fc.property(history, fc.array(fc.integer({ min: 0, max: 800 * 24 }), { minLength: 1, maxLength: 4 }), (snapshots, laterHours) => {
        const partition = new MemoryPartition(bankCards, 'wall');
        const last = (snapshots[snapshots.length - 1] as Snapshot).asOf;
        snapshots.forEach((s, i) => partition.apply([record(i, s)], s.asOf));
        for (const later of [0, ...laterHours]) {
          const now = last + later * HOUR;
          const stored = partition.customers.get('holder');
          expect(averageDailyBalance(bankCards, stored?.balances, now)).toBe(expectedAverageDailyBalance(bankCards, snapshots, now));
        }
      }),
      { numRuns: 150 },
    );
  });

  it('counts a snapshot older than the window only as the balance carried into it', () => {
    const partition = new MemoryPartition(bankCards, 'wall');
    const now = 1000 * DAY;
    // Set two years before now: the whole window holds 365,000.00 CNY.
    partition.apply([record(0, { account: 'savings', balance: 36_500_000, asOf: now - 730 * DAY })], now);
    expect(averageDailyBalance(bankCards, partition.customers.get('holder')?.balances, now)).toBe(36_500_000);
    expect(partition.counts.late).toBe(1);
  });

  it('ignores a snapshot at or before the account latest asOf (a copy, or an older one late)', () => {
    const partition = new MemoryPartition(bankCards, 'wall');
    const asOf = 500 * DAY;
    partition.apply([record(0, { account: 'a', balance: 1_000, asOf })], asOf);
    partition.apply([record(1, { account: 'a', balance: 9_999, asOf }), record(2, { account: 'a', balance: 7, asOf: asOf - HOUR })], asOf + HOUR);
    expect(partition.customers.get('holder')?.balances?.accounts).toEqual([{ accountId: 'a', balanceMinor: 1_000, asOf }]);
    expect(partition.counts.duplicate).toBe(2);
  });

  it('floors towards minus infinity', () => {
    expect(floorDiv(-7n, 2n)).toBe(-4n);
    expect(floorDiv(7n, 2n)).toBe(3n);
    expect(floorDiv(-8n, 2n)).toBe(-4n);
  });
});

describe('bank-cards.yaml on a deposit that rolls out of the window', () => {
  it('upgrades with the balance, and downgrades by TIME, at the day boundaries the day-by-day average says', () => {
    // 10,000,000.00 CNY on day 0 of the history, withdrawn to 0 on day 50.
    const start = 1000 * DAY;
    const snapshots: Snapshot[] = [
      { account: 'savings', balance: 1_000_000_000, asOf: start },
      { account: 'savings', balance: 0, asOf: start + 50 * DAY },
    ];
    const partition = new MemoryPartition(bankCards, 'wall');
    snapshots.forEach((s, i) => partition.apply([record(i, s)], s.asOf));
    partition.sweep(start + 800 * DAY);

    // The expected card at every instant the average can change: each snapshot and each day start.
    const thresholds: Array<[string, number]> = [
      ['black-gold', 100_000_000],
      ['platinum', 30_000_000],
      ['gold', 10_000_000],
    ];
    const rank = (tier: string): number => ['silver', 'gold', 'platinum', 'black-gold'].indexOf(tier);
    const relaxed = (value: number): number => Math.floor((value * (10_000 - 500)) / 10_000);
    const expected: Array<{ at: number; tier: string }> = [];
    let tier: string | null = null;
    const instants = [...snapshots.map((s) => s.asOf), ...Array.from({ length: 800 }, (_, d) => start + (d + 1) * DAY)].sort((a, b) => a - b);
    for (const at of instants) {
      const known = snapshots.filter((s) => s.asOf <= at);
      const adb = expectedAverageDailyBalance(bankCards, known, at);
      let next = thresholds.find(([, v]) => adb >= v)?.[0] ?? 'silver';
      // The margin: a lower raw card keeps the current one while its bound, relaxed by 5 %, holds.
      const held = thresholds.find(([name]) => name === tier);
      if (tier !== null && rank(next) < rank(tier) && held !== undefined && adb >= relaxed(held[1])) next = tier;
      if (next !== tier) expected.push({ at, tier: next });
      tier = next;
    }

    expect(partition.changes.map((c) => ({ at: c.effectiveAt, tier: c.newTier }))).toEqual(expected);
    // A climb on the deposit's days, then TIME changes down as its days leave the window.
    expect(expected.map((e) => e.tier)).toEqual(['silver', 'gold', 'platinum', 'black-gold', 'platinum', 'gold', 'silver']);
    expect(partition.changes.filter((c) => c.direction === 'DOWN').every((c) => c.cause === 'TIME')).toBe(true);
    const black = partition.changes.find((c) => c.newTier === 'black-gold');
    expect(black?.boundary.rule).toBe('averageDailyBalance >= 1000000.00 CNY');
    expect(black?.headroom.averageDailyBalanceToNextTierUp).toBeNull();
    expect(black?.headroom.averageDailyBalanceToDowngrade).toBe((black?.after.averageDailyBalance ?? 0) - 95_000_000);
  });
});
