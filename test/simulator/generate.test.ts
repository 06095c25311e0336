import { describe, expect, it } from 'vitest';
import { createTransactionValidator } from '../../src/pipeline/validate.js';
import { generateTransactions, type SimulationOptions } from '../../src/simulator/generate.js';
import { createRandom } from '../../src/simulator/random.js';

const START = Date.UTC(2026, 0, 1);
const base: SimulationOptions = { seed: 42, customers: 1_000, count: 50_000, startTime: START, spacingMs: 60_000 };

function take(options: SimulationOptions) {
  return [...generateTransactions(options)];
}

describe('createRandom', () => {
  it('repeats for a seed and differs between seeds', () => {
    const a = createRandom(7);
    const b = createRandom(7);
    const c = createRandom(8);
    const seqA = Array.from({ length: 5 }, () => a.next());
    expect(Array.from({ length: 5 }, () => b.next())).toEqual(seqA);
    expect(Array.from({ length: 5 }, () => c.next())).not.toEqual(seqA);
  });

  it('stays in range', () => {
    const random = createRandom(1);
    for (let i = 0; i < 10_000; i++) {
      const x = random.next();
      expect(x >= 0 && x < 1).toBe(true);
      const n = random.int(3, 5);
      expect(n >= 3 && n <= 5 && Number.isInteger(n)).toBe(true);
      expect(random.pareto(1.5, 10)).toBeGreaterThanOrEqual(10);
    }
  });
});

describe('generateTransactions', () => {
  const events = take(base);

  it('is deterministic: same seed and options, same transactions; another seed, others', () => {
    expect(take(base)).toEqual(events);
    // With the silence point fixed, a shorter run is a prefix of a longer one.
    expect(take({ ...base, count: 2_000, silenceAfter: 25_000 })).toEqual(events.slice(0, 2_000));
    expect(take({ ...base, count: 2_000, seed: 43 }).map((e) => e.transaction.amountMinor)).not.toEqual(events.slice(0, 2_000).map((e) => e.transaction.amountMinor));
  });

  it('produces only records the pipeline accepts', () => {
    const validate = createTransactionValidator({ maxAmountMinor: 1e13, maxFutureSkewMs: 0 }, () => START + base.spacingMs * (base.count ?? 0));
    for (const { transaction } of events) {
      const result = validate(transaction);
      expect(result.ok, JSON.stringify(transaction)).toBe(true);
    }
  });

  it('gives Pareto-distributed spend: the top 20% of customers carry most of it', () => {
    const spend = new Map<string, number>();
    for (const { transaction, duplicate } of events) {
      if (duplicate) continue;
      const sign = transaction.kind === 'PURCHASE' ? 1 : -1;
      spend.set(transaction.customerId, (spend.get(transaction.customerId) ?? 0) + sign * transaction.amountMinor);
    }
    const sorted = [...spend.values()].sort((a, b) => b - a);
    const total = sorted.reduce((sum, x) => sum + x, 0);
    const top = sorted.slice(0, Math.ceil(sorted.length * 0.2)).reduce((sum, x) => sum + x, 0);
    expect(top / total).toBeGreaterThan(0.6);
    // And the bottom half carries little.
    const bottom = sorted.slice(Math.floor(sorted.length / 2)).reduce((sum, x) => sum + x, 0);
    expect(bottom / total).toBeLessThan(0.2);
  });

  it('gives margins: about 30 % of customers lose money, refunds reverse their share', () => {
    const profit = new Map<string, number>();
    const purchaseSign = new Map<string, number>();
    let refunds = 0;
    for (const { transaction, duplicate } of events) {
      if (duplicate) continue;
      const margin = transaction.profitMinor ?? Number.NaN;
      expect(Number.isInteger(margin)).toBe(true);
      if (transaction.kind === 'PURCHASE' && margin !== 0) purchaseSign.set(transaction.customerId, Math.sign(margin));
      const sign = purchaseSign.get(transaction.customerId);
      if (transaction.kind === 'REFUND' && margin !== 0 && sign !== undefined) {
        // A refund takes back the margin its purchase made (or gives back the loss).
        expect(Math.sign(margin)).toBe(-sign);
        refunds += 1;
      }
      profit.set(transaction.customerId, (profit.get(transaction.customerId) ?? 0) + margin);
    }
    expect(refunds).toBeGreaterThan(10);
    const losing = [...profit.values()].filter((p) => p < 0).length / profit.size;
    expect(losing).toBeGreaterThan(0.2);
    expect(losing).toBeLessThan(0.4);
  });

  it('emits refunds, duplicates and late events near their configured ratios', () => {
    const n = events.length;
    const refunds = events.filter((e) => !e.duplicate && e.transaction.kind === 'REFUND').length / n;
    const duplicates = events.filter((e) => e.duplicate).length / n;
    const late = events.filter((e) => e.late).length / n;
    expect(refunds).toBeGreaterThan(0.02);
    expect(refunds).toBeLessThan(0.04);
    expect(duplicates).toBeGreaterThan(0.005);
    expect(duplicates).toBeLessThan(0.015);
    expect(late).toBeGreaterThan(0.013);
    expect(late).toBeLessThan(0.027);
  });

  it('re-sends duplicates with the same transactionId, and refunds never exceed their purchase', () => {
    const byId = new Map(events.filter((e) => !e.duplicate).map((e) => [e.transaction.transactionId, e.transaction]));
    for (const { transaction, duplicate } of events) {
      if (duplicate) expect(byId.get(transaction.transactionId)).toEqual(transaction);
    }
    expect(byId.size).toBe(events.filter((e) => !e.duplicate).length);
    const purchases = events.filter((e) => e.transaction.kind === 'PURCHASE').map((e) => e.transaction);
    for (const { transaction } of events) {
      if (transaction.kind !== 'REFUND') continue;
      const maxPurchase = Math.max(...purchases.filter((p) => p.customerId === transaction.customerId).map((p) => p.amountMinor));
      expect(transaction.amountMinor).toBeLessThanOrEqual(maxPurchase);
    }
  });

  it('makes late events late and keeps the others on the simulated clock', () => {
    events.forEach((event, i) => {
      if (event.duplicate || event.transaction.kind === 'REFUND') return;
      const now = START + i * base.spacingMs;
      if (event.late) expect(event.transaction.eventTime).toBeLessThan(now);
      else expect(event.transaction.eventTime).toBe(now);
    });
  });

  it('silences a share of customers after the silence point', () => {
    const silentRun = take({ ...base, silenceRatio: 0.25, silenceAfter: 20_000 });
    const buyersBefore = new Set(silentRun.slice(0, 20_000).filter((e) => e.transaction.kind === 'PURCHASE' && !e.duplicate).map((e) => e.transaction.customerId));
    const buyersAfter = new Set(silentRun.slice(20_000).filter((e) => e.transaction.kind === 'PURCHASE' && !e.duplicate).map((e) => e.transaction.customerId));
    const stopped = [...buyersBefore].filter((c) => !buyersAfter.has(c));
    // About 250 customers are silenced; of those who bought before, none buys after.
    expect(stopped.length).toBeGreaterThan(150);
    expect(stopped.length).toBeLessThan(300);
    expect(buyersAfter.size).toBeLessThanOrEqual(750);
  });

  it('refuses zero customers', () => {
    expect(() => take({ ...base, customers: 0 })).toThrow(RangeError);
  });
});
