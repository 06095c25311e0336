import { describe, expect, inject, it } from 'vitest';
import { runCli } from '../cli/spawn-cli.js';
import type { TierChange } from '../../src/engine/change.js';
import type { EngineRecord } from '../../src/engine/types.js';
import { Instrumentation } from '../../src/instrumentation.js';
import { silentLogger } from '../../src/logger.js';
import { policyContentHash } from '../../src/policy/content-hash.js';
import { CacheBudget } from '../../src/pipeline/customer-cache.js';
import { OwnedPartition } from '../../src/pipeline/owned-partition.js';
import { startBoundaryCoordinator, watchBoundaries, type BoundaryCoordinator, type BoundaryWatcher } from '../../src/pipeline/relative-boundaries.js';
import { RankingStore } from '../../src/state/ranking.js';
import { StateStore } from '../../src/state/store.js';
import { DAY, shippedPolicy, shippedPolicyPath, withHysteresis } from '../policy/fixtures.js';
import { useStateRedis } from '../state/store-helpers.js';
import { outboxChanges } from './owned-partition-fixture.js';

const TOPIC = 'tx';
const PARTITIONS = 8;
const policy = withHysteresis(shippedPolicy('pyramid-share')); // no hysteresis: tiers are exactly the sort
const policyHash = policyContentHash(policy);
const NOW = 20_000 * DAY;

/**
 * The worked example: 2,126 customers whose 12-month spends lie inside the four bands of the
 * absolute pyramid (vip above 58,900 CNY, major 19,000-58,900, medium 4,820-19,000, small below),
 * 21 / 85 / 319 / 1,701 of them, all distinct.
 */
function workedExample(): { customerId: string; spend: number }[] {
  const bands: [number, number, number][] = [
    [21, 5_890_100, 12_000_000],
    [85, 1_900_100, 5_890_000],
    [319, 482_100, 1_900_000],
    [1701, 100, 482_000],
  ];
  const customers: { customerId: string; spend: number }[] = [];
  for (const [count, lo, hi] of bands) {
    for (let i = 0; i < count; i++) customers.push({ customerId: `c${String(customers.length).padStart(5, '0')}`, spend: hi - Math.floor(((hi - lo) * i) / count) });
  }
  return customers;
}

interface Deployment {
  store: StateStore;
  ranking: RankingStore;
  watcher: BoundaryWatcher;
  partitions: OwnedPartition[];
  coordinator(instance: string): BoundaryCoordinator;
}

async function deploy(redis: ReturnType<typeof useStateRedis>['redis'], prefix: string): Promise<Deployment> {
  const store = new StateStore({ redis, prefix, partitionCount: PARTITIONS, customerShards: 4 });
  const ranking = new RankingStore(redis, prefix);
  const watcher = watchBoundaries({ ranking, policyHash, intervalMs: 3_600_000, logger: silentLogger });
  const partitions: OwnedPartition[] = [];
  for (let p = 0; p < PARTITIONS; p++) {
    const owned = new OwnedPartition({ store, topic: TOPIC, partition: p, policy, policyHash, clock: 'wall', dedupeHorizonMs: null, budget: new CacheBudget(100_000), logger: silentLogger, boundaries: watcher });
    await owned.claim();
    partitions.push(owned);
  }
  const coordinator = (instance: string): BoundaryCoordinator =>
    startBoundaryCoordinator({ ranking, store, topic: TOPIC, partitions: partitions.map((o) => o.partition), policy, policyHash, instance, intervalMs: 3_600_000, leaseMs: 60_000, now: () => NOW, instrumentation: new Instrumentation(), logger: silentLogger });
  return { store, ranking, watcher, partitions, coordinator };
}

const partitionOf = (customerId: string): number => Number(customerId.slice(1)) % PARTITIONS;

async function applyPurchases(d: Deployment, purchases: { customerId: string; spend: number; tx: string }[]): Promise<void> {
  for (const owned of d.partitions) {
    const mine = purchases.filter((p) => partitionOf(p.customerId) === owned.partition);
    const offset = (owned.nextOffset ?? 0n) as bigint;
    const records: EngineRecord[] = mine.map((p, i) => ({ offset: Number(offset) + i, transactionId: p.tx, customerId: p.customerId, kind: 'purchase', amountMinor: p.spend, eventTime: NOW - DAY }));
    await owned.apply(records, NOW);
    await owned.settled();
  }
}

async function boundaryPass(d: Deployment): Promise<void> {
  await d.watcher.refresh();
  for (const owned of d.partitions) {
    while ((await owned.boundaryStep(NOW, 100)).more);
  }
}

async function allChanges(d: Deployment): Promise<TierChange[]> {
  const all: TierChange[] = [];
  for (let p = 0; p < PARTITIONS; p++) all.push(...(await outboxChanges(d.store, TOPIC, p)));
  return all;
}

async function tierCounts(d: Deployment): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (let p = 0; p < PARTITIONS; p++) {
    for (const [tier, c] of (await d.store.readMeta(TOPIC, p))?.counters ?? []) if (c.customers !== 0) counts[tier] = (counts[tier] ?? 0) + c.customers;
  }
  return counts;
}

/** Tier per customer by a full sort of the spends (desc, id asc): 1 / 4 / 15 / 80 % of N. */
function fullSort(spends: Map<string, number>): Map<string, string> {
  const sorted = [...spends].sort(([a, x], [b, y]) => (x !== y ? y - x : a < b ? -1 : 1));
  const n = sorted.length;
  const cuts: [string, number][] = [['vip', Math.floor(n / 100)], ['major', Math.floor((5 * n) / 100)], ['medium', Math.floor((20 * n) / 100)], ['small', n]];
  return new Map(sorted.map(([id], i) => [id, (cuts.find(([, through]) => i < through) as [string, number])[0]]));
}

async function storedTiers(d: Deployment): Promise<Map<string, string>> {
  const tiers = new Map<string, string>();
  for (let p = 0; p < PARTITIONS; p++) for await (const { customerId, state } of d.store.scanCustomers(TOPIC, p)) tiers.set(customerId, state.tier ?? '');
  return tiers;
}

describe('relative tiers over 8 partitions: coordinator epochs and BOUNDARY changes', () => {
  const { redis, newPrefix } = useStateRedis();

  it('splits the worked example 21 / 85 / 319 / 1,701 at the first epoch, one BOUNDARY change per customer', async () => {
    const prefix = newPrefix('share');
    const d = await deploy(redis, prefix);
    const customers = workedExample();
    await applyPurchases(d, customers.map((c) => ({ ...c, tx: `t-${c.customerId}` })));
    // Before any epoch nobody is ranked: every customer is a prospect.
    expect(await tierCounts(d)).toEqual({ prospect: 2126 });

    const coordinator = d.coordinator('a');
    const epoch1 = await coordinator.tick();
    await coordinator.stop();
    expect(epoch1?.epoch).toBe(1);
    expect(epoch1?.population).toBe(2126);
    expect(epoch1?.cuts.map((cut) => [cut.bps, cut.rank, cut.key?.value])).toEqual([
      [100, 21, customers[20]?.spend],
      [500, 106, customers[105]?.spend],
      [2000, 425, customers[424]?.spend],
      [10_000, 2126, customers[2125]?.spend],
    ]);
    await boundaryPass(d);
    expect(await tierCounts(d)).toEqual({ vip: 21, major: 85, medium: 319, small: 1701 });
    const boundary = (await allChanges(d)).filter((c) => c.cause === 'BOUNDARY');
    expect(boundary).toHaveLength(2126);
    expect(new Set(boundary.map((c) => c.customerId)).size).toBe(2126);
    const vip = boundary.find((c) => c.customerId === 'c00000');
    expect(vip).toMatchObject({ previousTier: 'prospect', newTier: 'vip', direction: 'UP', relative: { epoch: 1, previousEpoch: null, metric: 'monetary', shareBps: 100, valueBefore: null, valueAfter: customers[20]?.spend } });
    // The pass is done: another round finds nothing to do, an unchanged recompute publishes nothing.
    expect(d.partitions.some((o) => o.boundaryPassDue)).toBe(false);
    const again = d.coordinator('a');
    expect(await again.tick()).toBeNull();
    await again.stop();

    // `pyramid report` shows the same pyramid and the boundaries in force.
    const env = { PYRAMID_REDIS_URL: inject('redisUrl'), PYRAMID_KEY_PREFIX: prefix, PYRAMID_TOPIC_TRANSACTIONS: TOPIC, PYRAMID_POLICY_FILE: shippedPolicyPath('pyramid-share') };
    const report = await runCli(['report', '--json'], env);
    expect(report.code, report.stderr).toBe(0);
    const json = JSON.parse(report.stdout) as { tiers: { tier: string; customers: number }[]; boundaries: { epoch: number; population: number } };
    expect(Object.fromEntries(json.tiers.filter((t) => t.customers > 0).map((t) => [t.tier, t.customers]))).toEqual({ vip: 21, major: 85, medium: 319, small: 1701 });
    expect(json.boundaries).toMatchObject({ epoch: 1, population: 2126 });
    const text = await runCli(['report'], env);
    expect(text.stdout).toContain('relative boundaries: epoch 1');
    expect(text.stdout).toContain(`top 1% by monetary: rank 21, boundary ${((customers[20]?.spend ?? 0) / 100).toFixed(2)} CNY`);
  });

  it('moves exactly the customers a new epoch pushes across a cut, once each, and evaluates a transaction against the boundaries in force', async () => {
    const d = await deploy(redis, newPrefix('share-move'));
    const customers = workedExample();
    const spends = new Map(customers.map((c) => [c.customerId, c.spend]));
    await applyPurchases(d, customers.map((c) => ({ ...c, tx: `t-${c.customerId}` })));
    const a = d.coordinator('a');
    await a.tick();
    await boundaryPass(d);
    const before = await storedTiers(d);

    // Three small customers buy big: vip by epoch 1's boundary at once (cause TRANSACTION).
    const risers = ['c02000', 'c02001', 'c02002'];
    await applyPurchases(d, risers.map((customerId) => ({ customerId, spend: 20_000_000, tx: `big-${customerId}` })));
    for (const id of risers) spends.set(id, (spends.get(id) ?? 0) + 20_000_000);
    const transactions = (await allChanges(d)).filter((c) => c.cause === 'TRANSACTION' && c.transactionId?.startsWith('big-') === true);
    expect(transactions.map((c) => [c.customerId, c.newTier, c.relative?.epoch])).toEqual(risers.map((id) => [id, 'vip', 1]).sort());

    // Epoch 2: 24 customers above the vip cut of 21, so the three lowest former vips drop to major,
    // three majors to medium, three mediums to small.
    const epoch2 = await a.tick();
    await a.stop();
    expect(epoch2?.epoch).toBe(2);
    const seen = new Set((await allChanges(d)).map((c) => c.eventId));
    await boundaryPass(d);
    const expected = fullSort(spends);
    expect(await storedTiers(d)).toEqual(expected);
    const moves = (await allChanges(d)).filter((c) => !seen.has(c.eventId));
    expect(moves.every((c) => c.cause === 'BOUNDARY' && c.relative?.epoch === 2 && c.relative.previousEpoch === 1)).toBe(true);
    const moved = [...expected].filter(([id, tier]) => before.get(id) !== tier && !risers.includes(id)).map(([id]) => id).sort();
    expect(moved).toHaveLength(9);
    expect(moves.map((c) => c.customerId).sort()).toEqual(moved);
    const dropped = moves.find((c) => c.previousTier === 'vip');
    expect(dropped?.relative).toMatchObject({ metric: 'monetary', shareBps: 100, valueBefore: customers[20]?.spend, valueAfter: customers[17]?.spend });
  });
});
