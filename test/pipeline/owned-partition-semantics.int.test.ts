import type { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import type { ClockMode } from '../../src/engine/apply.js';
import type { EngineRecord } from '../../src/engine/types.js';
import { inspectCustomer } from '../../src/pipeline/inspect.js';
import type { CompiledPolicy } from '../../src/policy/types.js';
import { customerKey } from '../../src/state/layout.js';
import type { StateStore } from '../../src/state/store.js';
import { testPolicy } from '../state/fixtures.js';
import { useStateRedis } from '../state/store-helpers.js';
import { outboxChanges, ownedPartition, sweepAll } from './owned-partition-fixture.js';

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

function purchase(offset: number, customerId: string, amountMinor: number, eventTime: number, transactionId = `t${offset}`): EngineRecord {
  return { offset, transactionId, customerId, kind: 'purchase', amountMinor, eventTime };
}

/** Everything a partition holds, read back type by type, for before/after comparisons. */
async function dumpPartition(redis: Redis, store: StateStore, customers: string[]): Promise<unknown> {
  const keys = store.keys(TOPIC, 0);
  return {
    meta: await redis.hgetall(keys.meta),
    due: await redis.zrange(keys.due, 0, -1, 'WITHSCORES'),
    tx: await redis.zrange(keys.tx, 0, -1, 'WITHSCORES'),
    outbox: await redis.xrange(keys.outbox, '-', '+'),
    customers: await Promise.all(customers.map((id) => redis.hget(customerKey(keys, id), id))),
  };
}

describe('scoring through an owned partition (engine + Redis)', () => {
  const { redis, newPrefix } = useStateRedis();

  for (const graceMs of [0, 50]) {
    for (const clock of ['event', 'wall'] as ClockMode[]) {
      it(`a vip purchase then silence gives one TIME downgrade and one TIME inactive change (${clock} clock, grace ${graceMs})`, async () => {
        const policy = vipPolicy(graceMs);
        const { store, owned } = await ownedPartition({ redis, prefix: newPrefix('silence'), policy, clock });
        // Bucket 100 (1000..1009) leaves the 100 ms window at 1100; inactivity horizon 300 -> 1305.
        await owned.apply([purchase(0, 'x', 1500, 1005)], 1005);
        await owned.settled();
        if (clock === 'event') {
          await owned.apply([purchase(1, 'other', 10, 1099)]);
          await owned.settled();
          expect((await outboxChanges(store, TOPIC, 0)).filter((c) => c.cause === 'TIME')).toEqual([]);
          // Another customer's event far later moves the event-time watermark past both due times.
          await owned.apply([purchase(2, 'other', 10, 5000)]);
          await owned.settled();
        } else {
          expect(await sweepAll(owned, 1099)).toBe(0);
          await sweepAll(owned, 1100 + graceMs);
          await sweepAll(owned, 1304);
          await sweepAll(owned, 5000);
        }
        const changes = (await outboxChanges(store, TOPIC, 0)).filter((c) => c.customerId === 'x');
        expect(changes.map((c) => [c.eventId, c.previousTier, c.newTier, c.direction, c.cause, c.effectiveAt])).toEqual([
          ['x:1', null, 'vip', 'NEW', 'TRANSACTION', 1005],
          ['x:2', 'vip', 'regular', 'DOWN', 'TIME', 1100 + graceMs],
          ['x:3', 'regular', 'inactive', 'DOWN', 'TIME', 1305],
        ]);
        expect(changes[1]?.before).toEqual({ monetary: 0, frequency: 0, recencyMs: 95 + graceMs, lastPurchaseAt: 1005, averageDailyBalance: 0, profit: 0 });
        expect(changes[2]?.boundary).toEqual({ tier: 'inactive', rule: 'inactive: no purchase for 300ms' });
        const state = await inspectCustomer({ store, policy, clock, topic: TOPIC, customerId: 'x', partition: 0, now: 5000 });
        expect(state).toMatchObject({ tier: 'inactive', seq: 3, dueAt: null, buckets: [], timerAt: null });
      });
    }
  }

  it('gives byte-identical outbox content for the same input in event mode, however it is chunked', async () => {
    const records: EngineRecord[] = [];
    for (let i = 0; i < 60; i++) records.push(purchase(i, `c${i % 7}`, 50 + ((i * 37) % 900), 1000 + i * 13 - (i % 5) * 20));
    const outboxes: unknown[] = [];
    for (const size of [7, 60]) {
      const { store, owned } = await ownedPartition({ redis, prefix: newPrefix(`det${size}`), policy: testPolicy(), clock: 'event', cacheMax: size === 7 ? 2 : 1000 });
      for (let i = 0; i < records.length; i += size) await owned.apply(records.slice(i, i + size));
      await owned.settled();
      outboxes.push(await redis.xrange(store.keys(TOPIC, 0).outbox, '-', '+'));
    }
    expect((outboxes[0] as unknown[]).length).toBeGreaterThan(10);
    expect(outboxes[1]).toEqual(outboxes[0]);
  });

  it('changes nothing when an applied batch is applied again (replay)', async () => {
    const { store, owned } = await ownedPartition({ redis, prefix: newPrefix('replay'), policy: testPolicy(), clock: 'wall' });
    const batch = [purchase(0, 'a', 700, 1000), purchase(1, 'b', 1200, 1001), purchase(2, 'a', 400, 1002), purchase(3, 'a', 5, 1003, 't0')];
    expect(await owned.apply(batch, 1010)).toMatchObject({ applied: 3, duplicate: 1, stale: 0 });
    await owned.settled();
    const before = await dumpPartition(redis, store, ['a', 'b']);
    expect(await owned.apply(batch, 1020)).toMatchObject({ applied: 0, duplicate: 0, late: 0, stale: 4, changes: 0 });
    await owned.settled();
    expect(await dumpPartition(redis, store, ['a', 'b'])).toEqual(before);
  });

  for (const clock of ['event', 'wall'] as ClockMode[]) {
    it(`never counts a transaction twice while it counts in the window, however much later the copy comes (${clock} clock)`, async () => {
      const policy = testPolicy({ windowMs: 1000 });
      const { store, owned } = await ownedPartition({ redis, prefix: newPrefix('dedupe'), policy, clock });
      const original = purchase(0, 'a', 10, 1000, 'same');
      await owned.apply([original, purchase(1, 'b', 10, 1500)], 1000);
      // The copy arrives 990 ms later (the old default horizon was far shorter than the window).
      expect(await owned.apply([{ ...original, offset: 2 }, purchase(3, 'b', 10, 1990)], 1990)).toMatchObject({ applied: 1, duplicate: 1 });
      await owned.settled();
      expect((await inspectCustomer({ store, policy, clock, topic: TOPIC, customerId: 'a', partition: 0, now: 1990 }))?.frequency).toBe(1);
      // Once the original's bucket left the window, the claim is gone and so is its count.
      expect(await redis.zscore(store.keys(TOPIC, 0).tx, 'same')).toBe(String((100 + 100) * 10));
      await owned.apply([purchase(4, 'b', 10, 2500)], 2500);
      await owned.settled();
      expect(await redis.zscore(store.keys(TOPIC, 0).tx, 'same')).toBeNull();
    });

    it(`loading a history whose purchases all lie before the window gives lapsed customers in the inactive tier (${clock} clock)`, async () => {
      const policy = testPolicy({ inactivityMs: 300 });
      const { store, owned } = await ownedPartition({ redis, prefix: newPrefix('ancient'), policy, clock });
      // Event times 1000 and 1100 on a wall clock (or an event-time watermark) of 5000: window 100 ms.
      const counts = await owned.apply([purchase(0, 'now', 10, 5000), purchase(1, 'lapsed', 800, 1000), purchase(2, 'lapsed', 900, 1100)], 5000);
      await owned.settled();
      expect(counts).toMatchObject({ applied: 1, late: 2 });
      const lapsed = await inspectCustomer({ store, policy, clock, topic: TOPIC, customerId: 'lapsed', partition: 0, now: 5000 });
      expect(lapsed).toMatchObject({ tier: 'inactive', lastPurchaseAt: 1100, monetary: 0, frequency: 0, seq: 1 });
      const [change] = (await outboxChanges(store, TOPIC, 0)).filter((c) => c.customerId === 'lapsed');
      expect(change).toMatchObject({ previousTier: null, newTier: 'inactive', cause: 'TRANSACTION', transactionId: 't1' });
      expect((await store.readMeta(TOPIC, 0))?.counters.get('inactive')).toEqual({ customers: 1, revenueMinor: 0 });
    });
  }

  it('an opted-in shorter dedupe horizon forgets a claim early and says so', async () => {
    const policy = testPolicy({ windowMs: 1000 });
    const { owned } = await ownedPartition({ redis, prefix: newPrefix('horizon'), policy, clock: 'event', dedupeHorizonMs: 100 });
    const counts = await owned.apply([purchase(0, 'a', 10, 1000, 'same'), purchase(1, 'a', 10, 1050, 'same'), purchase(2, 'b', 10, 1100), purchase(3, 'a', 10, 1101, 'same')]);
    await owned.settled();
    expect(counts).toMatchObject({ applied: 3, duplicate: 1, claimsShortened: 3 });
  });

  it('reads the outbox from a cursor and trims up to an acknowledged id', async () => {
    const { store, owned } = await ownedPartition({ redis, prefix: newPrefix('outbox'), policy: testPolicy(), clock: 'event' });
    await owned.apply([purchase(0, 'a', 10, 1000), purchase(1, 'b', 10, 1001), purchase(2, 'c', 10, 1002)]);
    await owned.settled();
    const all = await store.readOutbox(TOPIC, 0);
    expect(all.map((e) => e.change?.eventId)).toEqual(['a:1', 'b:1', 'c:1']);
    expect((await store.readOutbox(TOPIC, 0, all[0]?.id)).map((e) => e.change?.eventId)).toEqual(['b:1', 'c:1']);
    expect(await store.trimOutbox(TOPIC, 0, all[1]?.id ?? '')).toEqual({ trimmed: 2, remaining: 1 });
    expect((await store.readOutbox(TOPIC, 0)).map((e) => e.change?.eventId)).toEqual(['c:1']);
    expect(await store.outboxLength(TOPIC, 0)).toBe(1);
  });

  it('sweeps in bounded steps, a whole instant at a time, and says when more timers are due', async () => {
    const { owned } = await ownedPartition({ redis, prefix: newPrefix('sweep'), policy: vipPolicy(), clock: 'wall' });
    // Three customers whose bucket leaves the window at 1100, two at 1110.
    const records = [1000, 1001, 1002, 1010, 1011].map((t, i) => purchase(i, `c${i}`, 1500, t));
    await owned.apply(records, 1015);
    await owned.settled();
    expect(await owned.sweep(1150, 2)).toEqual({ timersFired: 3, changes: 3, signals: 0, more: true });
    // A full page may be followed by more: `more` stays true until a page comes back short.
    expect(await owned.sweep(1150, 2)).toEqual({ timersFired: 2, changes: 2, signals: 0, more: true });
    expect(await owned.sweep(1150, 2)).toEqual({ timersFired: 0, changes: 0, signals: 0, more: false });
  });
});
