import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import fc from 'fast-check';
import { describe, expect, inject, it } from 'vitest';
import { loadPolicyFile } from '../../src/policy/load.js';
import type { CoordinatorChildOptions } from './coordinator-child.js';
import { runCli } from '../cli/spawn-cli.js';
import type { TierChange } from '../../src/engine/change.js';
import type { EngineRecord } from '../../src/engine/types.js';
import { Instrumentation } from '../../src/instrumentation.js';
import { silentLogger } from '../../src/logger.js';
import { policyContentHash } from '../../src/policy/content-hash.js';
import { CacheBudget } from '../../src/pipeline/customer-cache.js';
import { OwnedPartition } from '../../src/pipeline/owned-partition.js';
import { policyMoveMatrix } from '../../src/pipeline/policy-diff.js';
import { startBoundaryCoordinator, watchBoundaries, type BoundaryCoordinator, type BoundaryWatcher } from '../../src/pipeline/relative-boundaries.js';
import { partitionKeys, rankingKeys } from '../../src/state/layout.js';
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

async function deploy(redis: ReturnType<typeof useStateRedis>['redis'], prefix: string, coordinatorIntervalMs = 3_600_000, leaseMs = 60_000): Promise<Deployment> {
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
    startBoundaryCoordinator({ ranking, store, topic: TOPIC, partitions: partitions.map((o) => o.partition), policy, policyHash, instance, intervalMs: coordinatorIntervalMs, leaseMs, now: () => NOW, instrumentation: new Instrumentation(), logger: silentLogger });
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

  it('keeps the frequency ranked set only for a policy with a frequency band; the monetary set always', async () => {
    const sizes = async (name: 'pyramid-share' | 'rfm-segments'): Promise<{ monetary: number; frequency: number }> => {
      const ranked = withHysteresis(shippedPolicy(name));
      const prefix = newPrefix(`sets-${name}`);
      const store = new StateStore({ redis, prefix, partitionCount: 1, customerShards: 4 });
      const owned = new OwnedPartition({ store, topic: TOPIC, partition: 0, policy: ranked, policyHash: policyContentHash(ranked), clock: 'wall', dedupeHorizonMs: null, budget: new CacheBudget(1_000), logger: silentLogger });
      await owned.claim();
      await owned.apply(
        Array.from({ length: 50 }, (_, i): EngineRecord => ({ offset: i, transactionId: `t${i}`, customerId: `c${i}`, kind: 'purchase', amountMinor: 1_000 + i, eventTime: NOW - DAY })),
        NOW,
      );
      await owned.settled();
      const keys = partitionKeys(prefix, TOPIC, 0, 4);
      return { monetary: await redis.zcard(keys.ranked.monetary), frequency: await redis.zcard(keys.ranked.frequency) };
    };
    expect(await sizes('pyramid-share')).toEqual({ monetary: 50, frequency: 0 });
    expect(await sizes('rfm-segments')).toEqual({ monetary: 50, frequency: 50 });
  });

  it('policy diff from the absolute pyramid to pyramid-share: the worked example keeps every customer in its tier', async () => {
    const prefix = newPrefix('share-diff');
    const absolute = shippedPolicy('default');
    const store = new StateStore({ redis, prefix, partitionCount: PARTITIONS, customerShards: 4 });
    const customers = workedExample();
    for (let p = 0; p < PARTITIONS; p++) {
      const owned = new OwnedPartition({ store, topic: TOPIC, partition: p, policy: absolute, policyHash: policyContentHash(absolute), clock: 'wall', dedupeHorizonMs: null, budget: new CacheBudget(100_000), logger: silentLogger });
      await owned.claim();
      const mine = customers.filter((c) => partitionOf(c.customerId) === p);
      await owned.apply(mine.map((c, i) => ({ offset: i, transactionId: `t-${c.customerId}`, customerId: c.customerId, kind: 'purchase' as const, amountMinor: c.spend, eventTime: NOW - DAY })), NOW);
      await owned.settled();
    }
    const matrix = await policyMoveMatrix({ store, topic: TOPIC, partitions: Array.from({ length: PARTITIONS }, (_, p) => p), policy: shippedPolicy('pyramid-share'), clock: 'wall', pauseMs: 0, now: () => NOW });
    expect(matrix.cells.map((c) => [c.from, c.to, c.customers])).toEqual([
      ['major', 'major', 85],
      ['medium', 'medium', 319],
      ['small', 'small', 1701],
      ['vip', 'vip', 21],
    ]);
    expect(matrix.moving).toBe(0);
    expect(matrix.boundaries?.population).toBe(2126);
    expect(matrix.boundaries?.cuts[0]).toMatchObject({ rank: 21, key: { value: customers[20]?.spend } });
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

  it('after every epoch each customer is in the tier a full sort of all partitions gives (random populations, two instances)', async () => {
    const population = fc.uniqueArray(fc.record({ n: fc.integer({ min: 0, max: 99_999 }), spend: fc.integer({ min: 1, max: 40 }) }), { selector: (c) => c.n, minLength: 1, maxLength: 150 });
    await fc.assert(
      fc.asyncProperty(population, fc.array(fc.record({ n: fc.integer({ min: 0, max: 149 }), spend: fc.integer({ min: 1, max: 40 }) }), { maxLength: 40 }), async (customers, later) => {
        const prefix = newPrefix('share-prop');
        const d = await deploy(redis, prefix);
        const ids = customers.map((c) => `c${String(c.n).padStart(5, '0')}`);
        const spends = new Map<string, number>();
        await applyPurchases(d, customers.map((c, i) => ({ customerId: ids[i] as string, spend: 100 * c.spend, tx: `a-${i}` })));
        customers.forEach((c, i) => spends.set(ids[i] as string, 100 * c.spend));
        // Two instances take turns as coordinator (the lease moves when the holder stops renewing).
        const coordinators = ['x', 'y'];
        for (let round = 0; round <= 1; round++) {
          if (round === 1) {
            const moves = later.filter((m) => m.n < ids.length).map((m, i) => ({ customerId: ids[m.n] as string, spend: 100 * m.spend, tx: `b-${i}` }));
            await applyPurchases(d, moves);
            for (const m of moves) spends.set(m.customerId, (spends.get(m.customerId) ?? 0) + m.spend);
            // The first instance stops renewing: its lease runs out (deleted here rather than waited for).
            await redis.del(rankingKeys(prefix).lease);
          }
          const coordinator = d.coordinator(coordinators[round] as string);
          await coordinator.tick();
          await coordinator.stop();
          await boundaryPass(d);
          expect(await storedTiers(d)).toEqual(fullSort(spends));
        }
      }),
      { numRuns: 12 },
    );
  });

  it('with ranking.every, the wall-clock coordinator recomputes once per multiple of it, not at every tick', async () => {
    const d = await deploy(redis, newPrefix('share-every'));
    const customers = workedExample();
    await applyPurchases(d, customers.map((c) => ({ ...c, tx: `t-${c.customerId}` })));
    const HOUR = 3_600_000;
    let now = NOW + HOUR / 2;
    let ticks = 0;
    const clock = (): number => {
      ticks += 1;
      return now;
    };
    const coordinator = startBoundaryCoordinator({ ranking: d.ranking, store: d.store, topic: TOPIC, partitions: d.partitions.map((o) => o.partition), policy, policyHash, instance: 'a', intervalMs: 10, leaseMs: 60_000, everyMs: HOUR, now: clock, instrumentation: new Instrumentation(), logger: silentLogger });
    const until = async (check: () => Promise<boolean> | boolean): Promise<void> => {
      for (let i = 0; i < 500 && !(await check()); i++) await sleep(10);
    };
    try {
      await until(async () => (await d.ranking.latestEpoch()) === 1);
      expect(await d.ranking.latestEpoch()).toBe(1);
      // New spend moves the boundaries, but no multiple of an hour has passed: ticks recompute nothing.
      await applyPurchases(d, customers.slice(2000).map((c) => ({ ...c, spend: 20_000_000, tx: `u-${c.customerId}` })));
      const seen = ticks;
      await until(() => ticks >= seen + 10);
      expect(ticks).toBeGreaterThanOrEqual(seen + 10);
      expect(await d.ranking.latestEpoch()).toBe(1);
      now += HOUR;
      await until(async () => (await d.ranking.latestEpoch()) === 2);
      expect(await d.ranking.latestEpoch()).toBe(2);
      expect((await d.ranking.readEpoch(2))?.boundaries.at).toBe(now);
    } finally {
      await coordinator.stop();
    }
  });

  it('the holder keeps its lease (and token) between recomputes longer apart than the lease time', async () => {
    const d = await deploy(redis, newPrefix('share-renew'), 3_600_000, 3000);
    const holder = d.coordinator('holder');
    await holder.tick();
    // More than a lease time passes with no recompute due: the renewals alone keep the lease.
    await sleep(4000);
    expect(await d.ranking.holdLease('other', 3000)).toEqual({ held: false, holder: '1|holder' });
    await holder.stop();
  });

  it('a coordinator SIGKILLed mid-run: another instance computes the next epochs, no epoch twice, no BOUNDARY change lost or doubled', async () => {
    const prefix = newPrefix('share-failover');
    // The child compiles the same policy from a file: pyramid-share without its hysteresis.
    const dir = mkdtempSync(join(tmpdir(), 'pyramid-failover-'));
    const policyFile = join(dir, 'pyramid-share-plain.yaml');
    writeFileSync(policyFile, readFileSync(shippedPolicyPath('pyramid-share'), 'utf8').replace(/^hysteresis:\n(?: {2}.*\n)+/m, ''));
    expect(policyContentHash(await loadPolicyFile(policyFile))).toBe(policyHash);

    const d = await deploy(redis, prefix, 25, 400);
    const customers = workedExample();
    const spends = new Map(customers.map((c) => [c.customerId, c.spend]));
    await applyPurchases(d, customers.map((c) => ({ ...c, tx: `t-${c.customerId}` })));

    const childOptions: CoordinatorChildOptions = { redisUrl: inject('redisUrl'), prefix, topic: TOPIC, partitions: PARTITIONS, customerShards: 4, policyFile, intervalMs: 25, leaseMs: 400 };
    const child = spawn(process.execPath, ['--import', 'tsx', 'test/pipeline/coordinator-child.ts', JSON.stringify(childOptions)], { cwd: resolve(import.meta.dirname, '../..'), stdio: ['ignore', 'pipe', 'pipe'] });
    let childOut = '';
    child.stdout.on('data', (chunk: Buffer) => (childOut += chunk.toString()));
    const exited = new Promise<string | number>((done) => child.once('exit', (code, signal) => done(signal ?? code ?? -1)));

    let round = 0;
    const purchaseRound = async (): Promise<void> => {
      const random = (k: number): number => ((round * 7919 + k * 104_729) % 2126 + 2126) % 2126;
      const moves = Array.from({ length: 30 }, (_, k) => ({ customerId: customers[random(k)]?.customerId as string, spend: 100_000 * (1 + ((round + k) % 90)), tx: `r${round}-${k}` }));
      await applyPurchases(d, moves);
      for (const m of moves) spends.set(m.customerId, (spends.get(m.customerId) ?? 0) + m.spend);
      await boundaryPass(d);
      round += 1;
    };
    const until = async (done: () => Promise<boolean> | boolean): Promise<void> => {
      // Purchases keep moving the boundaries while the coordinators run; no timing is asserted.
      for (let i = 0; i < 1500 && !(await done()); i++) {
        await purchaseRound();
        await sleep(20);
      }
      expect(await done()).toBe(true);
    };

    await until(() => /EPOCH 3\n/.test(childOut));
    child.kill('SIGKILL');
    expect(await exited).toBe('SIGKILL');
    const byChild = Math.max(...[...childOut.matchAll(/EPOCH (\d+)/g)].map((m) => Number(m[1])));

    const successor = d.coordinator('successor');
    await until(async () => (await d.ranking.latestEpoch()) >= byChild + 2);
    await successor.stop();
    // One last recompute by the holder, and every partition's pass against it.
    const last = d.coordinator('successor');
    await last.tick();
    await last.stop();
    await boundaryPass(d);

    const epochs = await d.ranking.readAll();
    const latest = await d.ranking.latestEpoch();
    expect(epochs.map((e) => e.boundaries.epoch)).toEqual(Array.from({ length: latest }, (_, i) => i + 1));
    expect(await d.ranking.holdLease('successor', 400)).toEqual({ held: true, token: 2 });

    // Nothing lost: every customer ends in the tier of a full sort of the final spends.
    const stored = await storedTiers(d);
    expect(stored).toEqual(fullSort(spends));
    // Nothing doubled: per customer, the events chain from tier to tier without a repeat.
    const changes = await allChanges(d);
    expect(new Set(changes.map((c) => c.eventId)).size).toBe(changes.length);
    const perCustomer = new Map<string, TierChange[]>();
    for (const c of changes) perCustomer.set(c.customerId, [...(perCustomer.get(c.customerId) ?? []), c]);
    for (const [id, list] of perCustomer) {
      list.sort((a, b) => Number(a.eventId.split(':')[1]) - Number(b.eventId.split(':')[1]));
      list.forEach((c, i) => {
        if (i > 0) expect(c.previousTier, c.eventId).toBe(list[i - 1]?.newTier);
        expect(c.previousTier, c.eventId).not.toBe(c.newTier);
      });
      expect(list[list.length - 1]?.newTier).toBe(stored.get(id));
    }
    const boundaryEpochs = new Set(changes.filter((c) => c.cause === 'BOUNDARY').map((c) => c.relative?.epoch));
    expect([...boundaryEpochs].some((e) => e !== undefined && e !== null && e <= byChild)).toBe(true);
    expect([...boundaryEpochs].some((e) => e !== undefined && e !== null && e > byChild)).toBe(true);
  });
});
