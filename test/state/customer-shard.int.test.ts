import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isPyramidError } from '../../src/errors.js';
import { scanCustomers } from '../../src/state/customer-hash.js';
import { customerShard, customerShardKey } from '../../src/state/keys.js';
import { StateStore } from '../../src/state/store.js';
import type { TransactionRecord } from '../../src/state/types.js';
import { testPolicy } from './fixtures.js';
import { sweepAll, useStateRedis } from './store-helpers.js';

const TOPIC = 'tx';

/** The engine's own text with a tail that returns shardOf(id) for every id: the Lua under test, not a copy. */
const SHARD_SCRIPT = `#!lua
${readFileSync(new URL('../../src/state/includes/engine.lua', import.meta.url), 'utf8')}
E.shards = tonumber(ARGV[1])
local out = {}
for i = 2, #ARGV do out[#out + 1] = shardOf(ARGV[i]) end
return out`;

function purchase(offset: number, customerId: string, eventTime: number): TransactionRecord {
  return { offset, transactionId: `t${offset}`, customerId, kind: 'purchase', amountMinor: 10 + offset, eventTime };
}

describe('customer sub-hashes', () => {
  const { redis, newPrefix } = useStateRedis();

  it('TS and Lua put every id, in any unicode, in the same sub-hash', async () => {
    const id = fc.oneof(fc.string({ unit: 'binary', maxLength: 40 }), fc.string({ unit: 'grapheme', maxLength: 20 }), fc.string({ maxLength: 300 }));
    await fc.assert(
      fc.asyncProperty(fc.array(id, { minLength: 1, maxLength: 50 }), fc.integer({ min: 1, max: 100_000 }), async (ids, shards) => {
        const lua = (await redis.eval(SHARD_SCRIPT, 0, shards, ...ids)) as string[];
        expect(lua.map(Number)).toEqual(ids.map((i) => customerShard(i, shards)));
      }),
      { numRuns: 200 },
    );
  });

  it('spreads ids over the sub-hashes', () => {
    const counts = new Array<number>(64).fill(0);
    for (let i = 0; i < 64_000; i++) counts[customerShard(`cust-${String(i).padStart(6, '0')}`, 64)]! += 1;
    expect(Math.min(...counts)).toBeGreaterThan(900);
    expect(Math.max(...counts)).toBeLessThan(1100);
  });

  it('refuses a partition written with another sub-hash count, on apply, sweep and inspect', async () => {
    const prefix = newPrefix('shards');
    const first = new StateStore({ redis, policy: testPolicy(), clock: 'event', prefix, customerShards: 64 });
    await first.applyPartitionBatch(TOPIC, 0, [purchase(0, 'a', 1000)]);
    const other = new StateStore({ redis, policy: testPolicy(), clock: 'event', prefix, customerShards: 8 });
    for (const call of [
      () => other.applyPartitionBatch(TOPIC, 0, [purchase(1, 'a', 1001)]),
      () => other.sweepPartition(TOPIC, 0, 2000),
      () => other.inspect(TOPIC, 'a', { partition: 0 }),
    ]) {
      const error = await call().catch((e: unknown) => e);
      expect(isPyramidError(error, 'STATE_LAYOUT_MISMATCH')).toBe(true);
    }
    expect(await first.inspect(TOPIC, 'a', { partition: 0 })).toMatchObject({ frequency: 1 });
    expect(() => new StateStore({ redis, policy: testPolicy(), clock: 'event', customerShards: 0 })).toThrow(/customerShards/);
  });

  it('refuses a partition written before customers were packed into sub-hashes', async () => {
    const prefix = newPrefix('legacy');
    const store = new StateStore({ redis, policy: testPolicy(), clock: 'event', prefix });
    await redis.hset(store.keys(TOPIC, 0).meta, 'wo', '5', 'pv', 't1');
    for (const call of [() => store.applyPartitionBatch(TOPIC, 0, [purchase(6, 'a', 1000)]), () => store.inspect(TOPIC, 'a', { partition: 0 })]) {
      const error = await call().catch((e: unknown) => e);
      expect(isPyramidError(error, 'STATE_LAYOUT_MISMATCH')).toBe(true);
    }
    // A partition without any state is no layout mismatch: its customers are simply unknown.
    expect(await store.inspect(TOPIC, 'a', { partition: 1 })).toBeNull();
  });

  it('scanCustomers yields every customer once, as stored, in the sub-hash keys.ts names', async () => {
    const prefix = newPrefix('scan');
    // Two sub-hashes of ~150 customers each: past the listpack size, so HSCAN pages with a cursor.
    const store = new StateStore({ redis, policy: testPolicy(), clock: 'wall', prefix, customerShards: 2 });
    const ids = Array.from({ length: 300 }, (_, i) => `c-${i}|${'é'.repeat(i % 3)}`);
    await store.applyPartitionBatch(TOPIC, 0, ids.map((id, i) => purchase(i, id, 1050 + (i % 50))), 1100);
    await sweepAll(store, TOPIC, 0, 1150);
    const keys = store.keys(TOPIC, 0);
    const seen = new Map<string, number>();
    for await (const { customerId, state } of scanCustomers(redis, keys, { count: 10 })) {
      seen.set(customerId, (seen.get(customerId) ?? 0) + 1);
      expect(await redis.hexists(customerShardKey(keys, customerShard(customerId, 2)), customerId)).toBe(1);
      const inspected = await store.inspect(TOPIC, customerId, { partition: 0, now: 1150 });
      expect(state).toMatchObject({
        tier: inspected?.tier,
        seq: inspected?.seq,
        tierSince: inspected?.tierSince,
        lastPurchaseAt: inspected?.lastPurchaseAt,
        pendingDowngradeSince: inspected?.pendingDowngradeSince,
        buckets: inspected?.buckets,
        dueAt: inspected?.timerAt,
      });
      expect(state.dueAt).toBe(Number(await redis.zscore(keys.due, customerId)));
    }
    expect([...seen.keys()].sort()).toEqual([...ids].sort());
    expect(Math.max(...seen.values())).toBe(1);
    expect(await redis.hlen(customerShardKey(keys, 0))).toBeGreaterThan(128);
  });
});
