import { describe, expect, it } from 'vitest';
import { policyMoveMatrix } from '../../src/pipeline/policy-diff.js';
import { customerShardKey } from '../../src/state/layout.js';
import { shippedPolicy } from '../policy/fixtures.js';
import { useStateRedis } from '../state/store-helpers.js';
import { directMoves, lowerThresholds, scorePopulation } from './policy-population.js';

const TOPIC = 'tx';
const PARTITIONS = 2;

describe('policyMoveMatrix', () => {
  const { redis, newPrefix } = useStateRedis();

  it('equals, cell for cell, a direct evaluation of every stored customer under the new policy', async () => {
    const prefix = newPrefix('policy-diff');
    const store = await scorePopulation(redis, prefix, shippedPolicy('default'), PARTITIONS, 150);
    const next = lowerThresholds('lowered-1');
    // A page size smaller than a sub-hash, so the pauses between pages are taken.
    const matrix = await policyMoveMatrix({ store, topic: TOPIC, partitions: [0, 1], policy: next, clock: 'event', pageSize: 7, pauseMs: 1 });
    const direct = await directMoves(redis, store, TOPIC, PARTITIONS, next);
    const cells = new Map(matrix.cells.map((c) => [`${c.from}>${c.to}`, { customers: c.customers, revenueMinor: c.revenueMinor }]));
    expect(cells).toEqual(direct);
    expect(matrix.customers).toBe([...direct.values()].reduce((sum, c) => sum + c.customers, 0));
    expect(matrix.currentVersions).toEqual([shippedPolicy('default').version]);
    // The population and the new thresholds are chosen so that customers do move, up only.
    expect(matrix.moving).toBeGreaterThan(10);
    expect(matrix.cells.some((c) => c.from === 'major' && c.to === 'vip')).toBe(true);
    expect(matrix.cells.filter((c) => c.from !== c.to).every((c) => ['vip', 'major', 'medium'].includes(c.to))).toBe(true);
  });

  it('finds nothing to move under the policy already in force', async () => {
    const prefix = newPrefix('policy-diff-same');
    const policy = shippedPolicy('default');
    const store = await scorePopulation(redis, prefix, policy, 1, 60);
    const matrix = await policyMoveMatrix({ store, topic: TOPIC, partitions: [0], policy, clock: 'event', pauseMs: 0 });
    let stored = 0;
    for (let shard = 0; shard < store.customerShards; shard++) stored += await redis.hlen(customerShardKey(store.keys(TOPIC, 0), shard));
    expect(matrix.customers).toBe(stored);
    expect(matrix.moving).toBe(0);
  });
});
