import { describe, expect, it } from 'vitest';
import { createCensus } from '../../src/pipeline/census.js';
import { StateStore } from '../../src/state/store.js';
import type { TransactionRecord } from '../../src/state/types.js';
import { testPolicy } from '../state/fixtures.js';
import { useStateRedis } from '../state/store-helpers.js';

const TOPIC = 'tx';
const NOW = 10_000;

function purchases(fromOffset: number, count: number): TransactionRecord[] {
  return Array.from({ length: count }, (_, i) => ({
    offset: fromOffset + i,
    transactionId: `t${fromOffset + i}`,
    customerId: `c${(fromOffset + i) % 7}`,
    kind: 'purchase' as const,
    amountMinor: 90 + 37 * ((fromOffset + i) % 11),
    eventTime: NOW - 5 + (i % 3),
  }));
}

describe('census', () => {
  const { redis, newPrefix } = useStateRedis();
  const policy = testPolicy();

  const censusOf = (store: StateStore, method: 'counters' | 'scan') =>
    createCensus({ redis, store, policy, topic: TOPIC, clock: 'wall', partitions: () => [0, 1], now: () => NOW, method }).census();

  it('reads the per-tier counters: the same pyramid as counting every customer', async () => {
    const store = new StateStore({ redis, policy, clock: 'wall', prefix: newPrefix('census') });
    await store.applyPartitionBatch(TOPIC, 0, purchases(0, 40), NOW);
    await store.applyPartitionBatch(TOPIC, 1, purchases(100, 25), NOW);
    const counted = await censusOf(store, 'counters');
    expect(counted).toEqual(await censusOf(store, 'scan'));
    expect(counted.tiers.reduce((sum, t) => sum + t.customers, 0)).toBe(14);
    expect(await redis.hget(store.keys(TOPIC, 0).meta, 'cv')).toBe('1');
  });

  it('counts customer by customer for a partition written before counters existed, and never starts half-way', async () => {
    const store = new StateStore({ redis, policy, clock: 'wall', prefix: newPrefix('census-legacy') });
    await store.applyPartitionBatch(TOPIC, 0, purchases(0, 20), NOW);
    await store.applyPartitionBatch(TOPIC, 1, purchases(100, 20), NOW);
    // Partition 0 as an older version left it: a watermark, no counters.
    const meta = store.keys(TOPIC, 0).meta;
    const fields = Object.keys(await redis.hgetall(meta)).filter((f) => f === 'cv' || f.startsWith('n:') || f.startsWith('r:'));
    await redis.hdel(meta, ...fields);
    await store.applyPartitionBatch(TOPIC, 0, purchases(20, 30), NOW);
    const after = Object.keys(await redis.hgetall(meta));
    expect(after.filter((f) => f === 'cv' || f.startsWith('n:') || f.startsWith('r:'))).toEqual([]);
    expect(await censusOf(store, 'counters')).toEqual(await censusOf(store, 'scan'));
  });
});
