import type { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { isPyramidError } from '../../src/errors.js';
import type { CompiledPolicy } from '../../src/policy/types.js';
import { customerKey } from '../../src/state/keys.js';
import { StateStore, type ClockMode } from '../../src/state/store.js';
import type { TransactionRecord } from '../../src/state/types.js';
import { testPolicy } from './fixtures.js';
import { readWholeOutbox, sweepAll, useStateRedis } from './store-helpers.js';

const TOPIC = 'tx';

/** vip above 1000, everyone else regular; a 100 ms window inside a 300 ms inactivity horizon. */
function vipPolicy(graceMs = 0): CompiledPolicy {
  return testPolicy({
    version: `vip-${graceMs}`,
    tiers: [
      { name: 'vip', rank: 3, conditions: [{ metric: 'monetary', op: 'gte', value: 1000 }] },
      { name: 'regular', rank: 2, conditions: [] },
    ],
    hysteresis: { downgradeGraceMs: graceMs, downgradeMarginBps: 0 },
  });
}

function purchase(offset: number, customerId: string, amountMinor: number, eventTime: number, transactionId = `t${offset}`): TransactionRecord {
  return { offset, transactionId, customerId, kind: 'purchase', amountMinor, eventTime };
}

/** Everything a partition holds, read back type by type, for before/after comparisons. */
async function dumpPartition(redis: Redis, store: StateStore, customers: string[]): Promise<unknown> {
  const keys = store.keys(TOPIC, 0);
  const meta = await redis.hgetall(keys.meta);
  return {
    meta,
    due: await redis.zrange(keys.due, 0, -1, 'WITHSCORES'),
    tx: await redis.zrange(keys.tx, 0, -1, 'WITHSCORES'),
    outbox: await redis.xrange(keys.outbox, '-', '+'),
    customers: await Promise.all(customers.map((id) => redis.hget(customerKey(keys, id), id))),
  };
}

describe('StateStore', () => {
  const { redis, newPrefix } = useStateRedis();

  for (const graceMs of [0, 50]) {
    for (const clock of ['event', 'wall'] as ClockMode[]) {
      it(`a vip purchase then silence gives one TIME downgrade and one TIME inactive change (${clock} clock, grace ${graceMs})`, async () => {
        const store = new StateStore({ redis, policy: vipPolicy(graceMs), clock, prefix: newPrefix('silence') });
        // Bucket 100 (1000..1009) leaves the 100 ms window at 1100; inactivity horizon 300 -> 1305.
        await store.applyPartitionBatch(TOPIC, 0, [purchase(0, 'x', 1500, 1005)], 1005);
        if (clock === 'event') {
          await store.applyPartitionBatch(TOPIC, 0, [purchase(1, 'other', 10, 1099)]);
          expect((await readWholeOutbox(store, TOPIC, 0)).filter((e) => e.change.cause === 'TIME')).toEqual([]);
          // Another customer's event far later moves the event-time watermark past both due times.
          await store.applyPartitionBatch(TOPIC, 0, [purchase(2, 'other', 10, 5000)]);
        } else {
          expect(await sweepAll(store, TOPIC, 0, 1099)).toBe(0);
          await sweepAll(store, TOPIC, 0, 1100 + graceMs);
          await sweepAll(store, TOPIC, 0, 1304);
          await sweepAll(store, TOPIC, 0, 5000);
        }
        const changes = (await readWholeOutbox(store, TOPIC, 0)).map((e) => e.change).filter((c) => c.customerId === 'x');
        expect(changes.map((c) => [c.eventId, c.previousTier, c.newTier, c.direction, c.cause, c.effectiveAt])).toEqual([
          ['x:1', null, 'vip', 'NEW', 'TRANSACTION', 1005],
          ['x:2', 'vip', 'regular', 'DOWN', 'TIME', 1100 + graceMs],
          ['x:3', 'regular', 'inactive', 'DOWN', 'TIME', 1305],
        ]);
        expect(changes[1]?.before).toEqual({ monetary: 0, frequency: 0, recencyMs: 95 + graceMs, lastPurchaseAt: 1005 });
        expect(changes[2]?.boundary).toEqual({ tier: 'inactive', rule: 'inactive: no purchase for 300ms' });
        const state = await store.inspect(TOPIC, 'x', { partition: 0, now: 5000 });
        expect(state).toMatchObject({ tier: 'inactive', seq: 3, dueAt: null, buckets: [] });
      });
    }
  }

  it('gives byte-identical outbox content for the same input in event mode', async () => {
    const records: TransactionRecord[] = [];
    for (let i = 0; i < 60; i++) records.push(purchase(i, `c${i % 7}`, 50 + ((i * 37) % 900), 1000 + i * 13 - (i % 5) * 20));
    const outboxes: unknown[] = [];
    for (const run of [1, 2]) {
      const store = new StateStore({ redis, policy: testPolicy(), clock: 'event', prefix: newPrefix(`det${run}`) });
      // Different batch splits on purpose: the outcome may not depend on them.
      const size = run === 1 ? 7 : 60;
      for (let i = 0; i < records.length; i += size) await store.applyPartitionBatch(TOPIC, 0, records.slice(i, i + size));
      outboxes.push(await redis.xrange(store.keys(TOPIC, 0).outbox, '-', '+'));
    }
    expect((outboxes[0] as unknown[]).length).toBeGreaterThan(10);
    expect(outboxes[1]).toEqual(outboxes[0]);
  });

  it('changes nothing when an applied batch is applied again (replay)', async () => {
    const store = new StateStore({ redis, policy: testPolicy(), clock: 'wall', prefix: newPrefix('replay') });
    const batch = [purchase(0, 'a', 700, 1000), purchase(1, 'b', 1200, 1001), purchase(2, 'a', 400, 1002), purchase(3, 'a', 5, 1003, 't0')];
    expect(await store.applyPartitionBatch(TOPIC, 0, batch, 1010)).toMatchObject({ applied: 3, duplicate: 1, stale: 0 });
    const before = await dumpPartition(redis, store, ['a', 'b']);
    expect(await store.applyPartitionBatch(TOPIC, 0, batch, 1020)).toEqual({ applied: 0, duplicate: 0, late: 0, stale: 4, changes: 0, timersFired: 0 });
    const after = await dumpPartition(redis, store, ['a', 'b']);
    expect(after).toEqual({ ...(before as object), meta: { ...(before as { meta: object }).meta, stale: '4' } });
  });

  it('counts a transaction id once within the horizon, even as a new record, and again after it', async () => {
    const store = new StateStore({ redis, policy: testPolicy({ windowMs: 1000 }), clock: 'event', prefix: newPrefix('dedupe'), dedupeHorizonMs: 100 });
    const counts = await store.applyPartitionBatch(TOPIC, 0, [
      purchase(0, 'a', 10, 1000, 'same'),
      purchase(1, 'a', 10, 1050, 'same'),
      purchase(2, 'b', 10, 1100, 'x'),
      purchase(3, 'a', 10, 1101, 'same'),
    ]);
    expect(counts).toMatchObject({ applied: 3, duplicate: 1 });
    expect((await store.inspect(TOPIC, 'a', { partition: 0 }))?.frequency).toBe(2);
  });

  it('drops events too old for the window and counts them as late', async () => {
    const store = new StateStore({ redis, policy: testPolicy(), clock: 'wall', prefix: newPrefix('late') });
    const counts = await store.applyPartitionBatch(TOPIC, 0, [purchase(0, 'a', 10, 1000), purchase(1, 'a', 10, 1950)], 2000);
    expect(counts).toMatchObject({ applied: 1, late: 1 });
    expect(await redis.hget(store.keys(TOPIC, 0).meta, 'late')).toBe('1');
  });

  it('applies nothing unless the watermark has reached the offset a call requires', async () => {
    const store = new StateStore({ redis, policy: testPolicy(), clock: 'wall', prefix: newPrefix('require') });
    // A fresh partition has no watermark: any requirement refuses.
    const fresh = await store.applyPartitionBatch(TOPIC, 0, [purchase(3, 'a', 10, 1000)], 1010, { requireApplied: 2 }).catch((e: unknown) => e);
    expect(isPyramidError(fresh, 'STATE_WATERMARK_BEHIND')).toBe(true);
    expect((fresh as { details?: unknown }).details).toEqual({ storedWatermark: '-1' });
    expect(await store.readWatermark(TOPIC, 0)).toEqual({ offset: null, eventTime: null });

    await store.applyPartitionBatch(TOPIC, 0, [purchase(0, 'a', 10, 1000), purchase(1, 'a', 10, 1001)], 1010);
    const before = await dumpPartition(redis, store, ['a']);
    const behind = await store.applyPartitionBatch(TOPIC, 0, [purchase(5, 'a', 10, 1002)], 1010, { requireApplied: 4 }).catch((e: unknown) => e);
    expect(isPyramidError(behind, 'STATE_WATERMARK_BEHIND')).toBe(true);
    expect((behind as { details?: unknown }).details).toEqual({ storedWatermark: '1' });
    expect(await dumpPartition(redis, store, ['a'])).toEqual(before);

    // Reached (equal) or passed: the call applies as usual.
    expect(await store.applyPartitionBatch(TOPIC, 0, [purchase(2, 'a', 10, 1003)], 1010, { requireApplied: 1 })).toMatchObject({ applied: 1 });
    expect(await store.applyPartitionBatch(TOPIC, 0, [purchase(3, 'a', 10, 1004)], 1010, { requireApplied: '0' })).toMatchObject({ applied: 1 });
    expect((await store.inspect(TOPIC, 'a', { partition: 0, now: 1010 }))?.frequency).toBe(4);
  });

  it('refuses a partition written by another policy version or partition count', async () => {
    const prefix = newPrefix('layout');
    const first = new StateStore({ redis, policy: testPolicy(), clock: 'event', prefix, partitionCount: 4 });
    await first.applyPartitionBatch(TOPIC, 0, [purchase(0, 'a', 10, 1000)]);
    const otherVersion = new StateStore({ redis, policy: testPolicy({ version: 't2' }), clock: 'event', prefix, partitionCount: 4 });
    const versionError = await otherVersion.applyPartitionBatch(TOPIC, 0, [purchase(1, 'a', 10, 1001)]).catch((e: unknown) => e);
    expect(isPyramidError(versionError, 'STATE_LAYOUT_MISMATCH')).toBe(true);
    const otherCount = new StateStore({ redis, policy: testPolicy(), clock: 'event', prefix, partitionCount: 8 });
    const countError = await otherCount.sweepPartition(TOPIC, 0, 2000).catch((e: unknown) => e);
    expect(isPyramidError(countError, 'STATE_LAYOUT_MISMATCH')).toBe(true);
    expect(await first.inspect(TOPIC, 'a')).toMatchObject({ partition: 0, frequency: 1 });
  });

  it('reads the outbox from a cursor and trims up to an acknowledged id', async () => {
    const store = new StateStore({ redis, policy: testPolicy(), clock: 'event', prefix: newPrefix('outbox') });
    await store.applyPartitionBatch(TOPIC, 0, [purchase(0, 'a', 10, 1000), purchase(1, 'b', 10, 1001), purchase(2, 'c', 10, 1002)]);
    const all = await store.readOutbox(TOPIC, 0);
    expect(all.map((e) => e.change.eventId)).toEqual(['a:1', 'b:1', 'c:1']);
    expect((await store.readOutbox(TOPIC, 0, all[0]?.id)).map((e) => e.change.eventId)).toEqual(['b:1', 'c:1']);
    expect(await store.trimOutbox(TOPIC, 0, all[1]?.id ?? '')).toEqual({ trimmed: 2, remaining: 1 });
    expect((await store.readOutbox(TOPIC, 0)).map((e) => e.change.eventId)).toEqual(['c:1']);
    expect(await store.outboxLength(TOPIC, 0)).toBe(1);
  });

  it('sweeps in bounded calls and says when more timers are due', async () => {
    const store = new StateStore({ redis, policy: vipPolicy(), clock: 'wall', prefix: newPrefix('sweep') });
    const records = Array.from({ length: 5 }, (_, i) => purchase(i, `c${i}`, 1500, 1000 + i));
    await store.applyPartitionBatch(TOPIC, 0, records, 1010);
    const first = await store.sweepPartition(TOPIC, 0, 1150, 3);
    expect(first).toEqual({ timersFired: 3, changes: 3, more: true });
    expect(await store.sweepPartition(TOPIC, 0, 1150, 3)).toEqual({ timersFired: 2, changes: 2, more: false });
  });
});
