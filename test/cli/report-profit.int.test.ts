import { Redis } from 'ioredis';
import { afterAll, describe, expect, inject, it } from 'vitest';
import type { EngineRecord } from '../../src/engine/types.js';
import { loadPolicyFile } from '../../src/policy/load.js';
import { generateTransactions } from '../../src/simulator/generate.js';
import { DEFAULT_POLICY, uniqueNames } from '../e2e/support.js';
import { ownedPartition } from '../pipeline/owned-partition-fixture.js';
import { cliEnv, runCli } from './spawn-cli.js';

const DAY = 86_400_000;
const PARTITIONS = 2;

describe('pyramid report: profit', () => {
  const redis = new Redis(inject('redisUrl'));
  afterAll(() => redis.disconnect());

  it('reproduces per-tier profit sums, shares and the 80/20/30 line computed from the generated population', async () => {
    const names = uniqueNames('report-profit');
    const policy = await loadPolicyFile(DEFAULT_POLICY);
    const now = Date.now();
    // A synthetic bank with margins (30 % of customers loss-making), all of it inside the window.
    const generated = [...generateTransactions({ seed: 77, customers: 400, count: 8_000, startTime: now - 300 * DAY, spacingMs: (290 * DAY) / 8_000 })].map((g) => g.transaction);

    // Scored through the engine and the Redis store, as a scorer would (customers split over two partitions).
    const parts = await Promise.all(Array.from({ length: PARTITIONS }, (_, partition) => ownedPartition({ redis, prefix: names.keyPrefix, policy, clock: 'wall', topic: names.transactions, partition, partitionCount: PARTITIONS })));
    const partitionOf = (customerId: string): number => Number(customerId.slice(-1)) % PARTITIONS;
    const offsets = [0, 0];
    const byPartition: EngineRecord[][] = [[], []];
    for (const tx of generated) {
      const p = partitionOf(tx.customerId);
      byPartition[p]!.push({ offset: offsets[p]!++, transactionId: tx.transactionId, customerId: tx.customerId, kind: tx.kind === 'PURCHASE' ? 'purchase' : 'refund', amountMinor: tx.amountMinor, eventTime: tx.eventTime, ...(tx.profitMinor === null ? {} : { profitMinor: tx.profitMinor }) });
    }
    for (const [p, part] of parts.entries()) {
      const records = byPartition[p]!;
      for (let from = 0; from < records.length; from += 500) await part.owned.apply(records.slice(from, from + 500), now);
      await part.owned.settled();
    }

    // Expected, from the generated transactions alone: each transaction id counted once, its margin as given.
    const profitOf = new Map<string, number>();
    const seen = new Set<string>();
    for (const tx of generated) {
      if (seen.has(tx.transactionId)) continue;
      seen.add(tx.transactionId);
      profitOf.set(tx.customerId, (profitOf.get(tx.customerId) ?? 0) + (tx.profitMinor ?? 0));
    }
    const expected = new Map<string, { customers: number; profitMinor: number }>();
    for (const [customerId, profit] of profitOf) {
      const stored = await parts[partitionOf(customerId)]!.store.readCustomer(names.transactions, partitionOf(customerId), customerId);
      const entry = expected.get(stored!.tier!) ?? { customers: 0, profitMinor: 0 };
      entry.customers += 1;
      entry.profitMinor += profit;
      expected.set(stored!.tier!, entry);
    }
    expect(expected.size).toBeGreaterThan(2);

    const env = cliEnv({ brokers: ['127.0.0.1:9'], redisUrl: inject('redisUrl'), names });
    const json = await runCli(['report', '--json'], env);
    expect(json.code, json.stderr).toBe(0);
    const census = JSON.parse(json.stdout) as {
      tiers: { tier: string; customers: number; profitMinor: number }[];
      profitConcentration: { customers: number; totalProfitMinor: number; top20Customers: number; top20ProfitMinor: number; bottom30Customers: number; bottom30ProfitMinor: number };
    };
    for (const t of census.tiers) expect({ tier: t.tier, customers: t.customers, profitMinor: t.profitMinor }).toEqual({ tier: t.tier, ...(expected.get(t.tier) ?? { customers: 0, profitMinor: 0 }) });

    const ranked = [...profitOf.values()].sort((a, b) => b - a);
    const total = ranked.reduce((a, b) => a + b, 0);
    const top = ranked.slice(0, Math.floor(ranked.length * 0.2)).reduce((a, b) => a + b, 0);
    const bottom = ranked.slice(ranked.length - Math.floor(ranked.length * 0.3)).reduce((a, b) => a + b, 0);
    expect(census.profitConcentration).toMatchObject({ customers: ranked.length, totalProfitMinor: total, top20Customers: 80, top20ProfitMinor: top, bottom30Customers: 120, bottom30ProfitMinor: bottom });
    expect(bottom).toBeLessThan(0);

    const table = await runCli(['report'], env);
    expect(table.code, table.stderr).toBe(0);
    expect(table.stdout).toMatch(/avg per customer\s+profit \(CNY\)\s+share\s+profit per customer/);
    const pct = (part: number): string => `${((100 * part) / total).toFixed(1)}%`;
    expect(table.stdout).toContain(`the top 20 % by profit (80) make ${pct(top)} of it`);
    expect(table.stdout).toContain(`the bottom 30 % (120) consume ${pct(-bottom)} of it`);
  });
});
