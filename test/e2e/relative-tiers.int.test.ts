import { resolve } from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { Instrumentation } from '../../src/instrumentation.js';
import { loadPolicyFile } from '../../src/policy/load.js';
import { createScorer } from '../../src/pipeline/scorer.js';
import { uniqueName } from '../helpers/unique.js';
import { createTopics, readTopic, testConfig, testKafka, uniqueNames, useE2eStack, waitFor } from './support.js';

const PARTITIONS = 4;
const CUSTOMERS = 400;
const SHARE_POLICY = resolve(import.meta.dirname, '../../policies/pyramid-share.yaml');

describe('pyramid-share.yaml live: transactions → coordinator epoch → BOUNDARY events and the boundaries topic', () => {
  const e2e = useE2eStack();

  it('classifies 400 customers 4 / 16 / 60 / 320 by the epochs of a live coordinator, with BOUNDARY changes and the boundaries per tier downstream', async () => {
    const names = uniqueNames('e2e-share');
    const boundariesTopic = uniqueName('e2e-share-boundaries');
    await createTopics(e2e.stack.brokers, [names.transactions], PARTITIONS);
    const producer = testKafka(e2e.stack.brokers).createProducer();
    await producer.connect();
    const now = Date.now();
    // Distinct spends: customer i spends (i + 1) × 10 CNY, so customer 399 ranks first.
    const records = Array.from({ length: CUSTOMERS }, (_, i) => {
      const customerId = `cust-${String(i).padStart(4, '0')}`;
      const tx = { transactionId: `t-${i}`, customerId, kind: 'PURCHASE', amountMinor: (i + 1) * 1000, currency: 'CNY', eventTime: now - 86_400_000 };
      return { key: customerId, value: JSON.stringify(tx) };
    });
    await producer.send(names.transactions, records);
    await producer.disconnect();

    const instrumentation = new Instrumentation();
    let epochs = 0;
    instrumentation.on('ranking.epoch_published', () => (epochs += 1));
    const config = testConfig({
      brokers: e2e.stack.brokers,
      redisUrl: inject('redisUrl'),
      names,
      overrides: { policyFile: SHARE_POLICY, topics: { transactions: names.transactions, tierChanges: names.tierChanges, dlq: names.dlq, boundaries: boundariesTopic }, ranking: { interval: 300, lease: 3000 } },
    });
    const scorer = e2e.track(createScorer(config, { instrumentation }));
    await scorer.start();

    const expected = { vip: 4, major: 16, medium: 60, small: 320 };
    const counts = async (): Promise<Record<string, number>> => Object.fromEntries((await scorer.census()).tiers.filter((t) => t.customers > 0).map((t) => [t.tier, t.customers]));
    expect(await waitFor(async () => JSON.stringify(await counts()) === JSON.stringify(expected))).toBe(true);
    expect(epochs).toBeGreaterThanOrEqual(1);
    const latestEpoch = epochs;

    // Every change reaches the topic; each customer's last one names the tier the state holds, and
    // the BOUNDARY changes carry the epoch that moved them.
    let appended = 0;
    for (let p = 0; p < PARTITIONS; p++) appended += (await scorer.store.readMeta(names.transactions, p))?.outboxSeq ?? 0;
    const changes = (await readTopic(e2e.stack.brokers, names.tierChanges, (r) => r.length >= appended)).map(
      (r) => JSON.parse(r.value!.toString()) as { eventId: string; customerId: string; cause: string; newTier: string; relative: { epoch: number | null; valueAfter: number | null } | null },
    );
    expect(changes).toHaveLength(appended);
    const last = new Map<string, (typeof changes)[number]>();
    for (const c of changes) last.set(c.customerId, c);
    const spend = (customerId: string): number => Number(customerId.slice(5)) + 1;
    const tierOf = (customerId: string): string => (spend(customerId) > 396 ? 'vip' : spend(customerId) > 380 ? 'major' : spend(customerId) > 320 ? 'medium' : 'small');
    expect(last.size).toBe(CUSTOMERS);
    for (const [customerId, c] of last) expect(c.newTier, customerId).toBe(tierOf(customerId));
    const boundary = changes.filter((c) => c.cause === 'BOUNDARY');
    expect(boundary.length).toBeGreaterThanOrEqual(CUSTOMERS - changes.filter((c) => c.cause === 'TRANSACTION' && c.newTier !== 'prospect').length);
    expect(boundary.every((c) => c.relative !== null && c.relative.epoch !== null && c.relative.epoch <= latestEpoch)).toBe(true);
    expect(last.get('cust-0399')?.newTier).toBe('vip');

    // Downstream: the latest boundaries of every relative tier, keyed by tier.
    const published = await readTopic(e2e.stack.brokers, boundariesTopic, (r) => r.length >= 4 * latestEpoch);
    // A compacted topic keeps the latest record per key: fold the same way.
    const byTier = new Map(published.map((r) => [r.key?.toString(), JSON.parse(r.value!.toString()) as { epoch: number; population: number; bands: { fromRank: number; toRank: number; toBoundary: { value: number } | null }[] }]));
    expect([...byTier.keys()].sort()).toEqual(['major', 'medium', 'small', 'vip']);
    expect(byTier.get('vip')).toMatchObject({ epoch: latestEpoch, population: CUSTOMERS, bands: [{ fromRank: 1, toRank: 4, toBoundary: { value: 397_000 } }] });
    expect(byTier.get('major')?.bands[0]).toMatchObject({ fromRank: 5, toRank: 20 });
  });

  it('refuses a relative policy on the event clock without ranking.every, or with a balances topic, at start-up, naming the field', async () => {
    const names = uniqueNames('e2e-share-event');
    const config = testConfig({ brokers: e2e.stack.brokers, redisUrl: inject('redisUrl'), names, overrides: { policyFile: SHARE_POLICY, clock: 'event' } });
    await expect(createScorer(config, { instrumentation: new Instrumentation() }).start()).rejects.toThrow(/ranking\.every: relative tiers on the event clock \(PYRAMID_CLOCK=event\) need the boundary instants/);
    const policy = { ...(await loadPolicyFile(SHARE_POLICY)) };
    policy.ranking = { population: 'active-purchasers', everyMs: 86_400_000 };
    const withBalances = testConfig({ brokers: e2e.stack.brokers, redisUrl: inject('redisUrl'), names, overrides: { policyFile: SHARE_POLICY, clock: 'event', topics: { transactions: names.transactions, tierChanges: names.tierChanges, signals: names.signals, dlq: names.dlq, balances: `${names.transactions}-balances` } } });
    await expect(createScorer(withBalances, { instrumentation: new Instrumentation(), policy }).start()).rejects.toThrow(/PYRAMID_TOPIC_BALANCES: relative tiers on the event clock take one input topic/);
  });
});
