import { describe, expect, it } from 'vitest';
import type { EngineRecord } from '../../src/engine/types.js';
import { createCensus } from '../../src/pipeline/census.js';
import type { StateStore } from '../../src/state/store.js';
import { testPolicy } from '../state/fixtures.js';
import { useStateRedis } from '../state/store-helpers.js';
import { ownedPartition } from './owned-partition-fixture.js';

const TOPIC = 'tx';
const NOW = 10_000;

function purchases(fromOffset: number, count: number): EngineRecord[] {
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
    createCensus({ store, policy, topic: TOPIC, clock: 'wall', partitions: () => [0, 1], now: () => NOW, method }).census();

  it('reads the per-tier counters: the same pyramid as counting every customer', async () => {
    const prefix = newPrefix('census');
    const parts = await Promise.all([0, 1].map((partition) => ownedPartition({ redis, prefix, policy, clock: 'wall', partition, partitionCount: 2 })));
    await parts[0]?.owned.apply(purchases(0, 40), NOW);
    await parts[1]?.owned.apply(purchases(100, 25), NOW);
    for (const part of parts) await part.owned.settled();
    const store = parts[0]?.store as StateStore;
    const counted = await censusOf(store, 'counters');
    expect(counted).toEqual(await censusOf(store, 'scan'));
    expect(counted.tiers.reduce((sum, t) => sum + t.customers, 0)).toBe(14);
  });
});
