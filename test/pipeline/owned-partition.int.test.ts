import { describe, expect, it } from 'vitest';
import type { EngineRecord } from '../../src/engine/types.js';
import { isPyramidError } from '../../src/errors.js';
import { policyContentHash } from '../../src/policy/content-hash.js';
import { META } from '../../src/state/layout.js';
import { testPolicy } from '../state/fixtures.js';
import { useStateRedis } from '../state/store-helpers.js';
import { outboxChanges, ownedPartition } from './owned-partition-fixture.js';

const TOPIC = 'tx';
const policy = testPolicy();

function purchase(offset: number, customerId: string, amountMinor: number, eventTime = 10_000 + offset): EngineRecord {
  return { offset, transactionId: `t${offset}`, customerId, kind: 'purchase', amountMinor, eventTime };
}

async function refusal(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  throw new Error('expected a refusal');
}

describe('OwnedPartition: the fenced commit', () => {
  const { redis, newPrefix } = useStateRedis();

  it('a chunk scored under one policy is refused on state that switched to another, and redone after the resync', async () => {
    const prefix = newPrefix('policy-fence');
    const { store, owned } = await ownedPartition({ redis, prefix, policy, clock: 'event' });
    await owned.apply([purchase(0, 'a', 500)]);
    await owned.settled();
    // Behind this owner's back, the partition's state is marked as computed under another policy.
    await redis.hset(store.keys(TOPIC, 0).meta, META.policyVersion, 'other', META.policyHash, 'other-hash');
    await owned.apply([purchase(1, 'a', 700)]);
    const err = await refusal(owned.settled());
    expect(isPyramidError(err, 'STATE_FENCED') && err.details?.reason).toBe('policy');
    expect((await store.readMeta(TOPIC, 0))?.lastOffset).toBe(0);
    // The resync adopts what is stored: the next commit switches it back to this owner's policy
    // (naming the stored one), and the record is applied again from the watermark.
    expect(await owned.resync()).toBe('policy');
    expect(owned.reevaluating).toBe(true);
    await owned.apply([purchase(1, 'a', 700)]);
    await owned.settled();
    expect(await store.readMeta(TOPIC, 0)).toMatchObject({ lastOffset: 1, policyVersion: policy.version, policyHash: policyContentHash(policy), previousPolicyVersion: 'other' });
  });

  it('a zombie (an old owner still running after another claimed the partition) cannot overwrite the new owner', async () => {
    const prefix = newPrefix('zombie');
    const { store, owned: old } = await ownedPartition({ redis, prefix, policy, clock: 'event' });
    await old.apply([purchase(0, 'a', 500), purchase(1, 'b', 200)]);
    await old.settled();
    // The group rebalanced: another instance claims the partition and goes on from offset 2.
    const { owned: current } = await ownedPartition({ redis, prefix, policy, clock: 'event' });
    expect(current.nextOffset).toBe(2n);
    await current.apply([purchase(2, 'a', 700)]);
    await current.settled();
    const before = await store.readCustomer(TOPIC, 0, 'a');

    // The zombie has not noticed: it applies offset 2 again, with other content.
    await old.apply([purchase(2, 'a', 1), purchase(3, 'c', 5000)]);
    const err = await refusal(old.settled());
    expect(isPyramidError(err, 'STATE_FENCED') && err.details?.reason).toBe('owner');
    expect(await old.resync()).toBe('owner');
    expect(old.owned).toBe(false);
    await expect(old.apply([purchase(4, 'a', 1)])).rejects.toThrow(/owned by another instance/);

    expect(await store.readCustomer(TOPIC, 0, 'a')).toEqual(before);
    expect(await store.readCustomer(TOPIC, 0, 'c')).toBeNull();
    expect((await store.readMeta(TOPIC, 0))?.lastOffset).toBe(2);
    expect((await outboxChanges(store, TOPIC, 0)).map((c) => c.eventId)).toEqual(['a:1', 'b:1', 'a:2']);
  });

  it('state gone from Redis (a restart without persistence) is noticed on the next commit: re-claimed fresh, resumed from the start', async () => {
    const prefix = newPrefix('lost');
    const { store, owned } = await ownedPartition({ redis, prefix, policy, clock: 'event' });
    await owned.apply([purchase(0, 'a', 500), purchase(1, 'a', 900)]);
    await owned.settled();
    const keys = store.keys(TOPIC, 0);
    await redis.del(keys.meta, keys.due, keys.tx, keys.outbox, ...Array.from({ length: keys.customerShards }, (_, s) => keys.customerShardPrefix + s));

    await owned.apply([purchase(2, 'a', 100)]);
    const err = await refusal(owned.settled());
    expect(isPyramidError(err, 'STATE_FENCED') && err.details?.reason).toBe('lost');
    expect(await owned.resync()).toBe('lost');
    // Nothing applied: the consumer must go back to the start of the topic.
    expect(owned.nextOffset).toBeUndefined();
    expect(await store.readCustomer(TOPIC, 0, 'a')).toBeNull();
    await owned.apply([purchase(0, 'a', 500), purchase(1, 'a', 900), purchase(2, 'a', 100)]);
    await owned.settled();
    expect((await store.readCustomer(TOPIC, 0, 'a'))?.buckets.reduce((m, b) => m + b.monetary, 0)).toBe(1500);
  });

  it('a lost commit (an AOF tail cut) is noticed on the next commit: resumed from what Redis kept', async () => {
    const prefix = newPrefix('rewound');
    const { store, owned } = await ownedPartition({ redis, prefix, policy, clock: 'event' });
    await owned.apply([purchase(0, 'a', 500)]);
    await owned.settled();
    const keys = store.keys(TOPIC, 0);
    const all = [keys.meta, keys.due, keys.tx, keys.outbox, ...Array.from({ length: keys.customerShards }, (_, s) => keys.customerShardPrefix + s)];
    const saved = await Promise.all(all.map(async (key) => [key, await redis.dumpBuffer(key)] as const));
    await owned.apply([purchase(1, 'a', 600)]);
    await owned.settled();
    // Redis comes back without the last commit.
    await redis.del(...all);
    for (const [key, dump] of saved) if (dump !== null) await redis.restore(key, 0, dump);

    await owned.apply([purchase(2, 'a', 100)]);
    const err = await refusal(owned.settled());
    expect(isPyramidError(err, 'STATE_FENCED') && err.details?.reason).toBe('commit');
    expect(await owned.resync()).toBe('commit');
    expect(owned.nextOffset).toBe(1n);
    await owned.apply([purchase(1, 'a', 600), purchase(2, 'a', 100)]);
    await owned.settled();
    expect((await store.readCustomer(TOPIC, 0, 'a'))?.seq).toBeGreaterThan(0);
    expect((await store.readMeta(TOPIC, 0))?.lastOffset).toBe(2);
  });

  it('refuses to claim state of another policy version, policy content, partition count or layout, naming the field', async () => {
    const prefix = newPrefix('layout');
    const { store } = await ownedPartition({ redis, prefix, policy, clock: 'event', partitionCount: 4 });
    const claim = (version: string, hash: string) => store.claim(TOPIC, 0, { version, hash });
    await expect(claim('other', policyContentHash(policy))).rejects.toThrow(/policy version t1, this scorer has other/);
    await expect(claim(policy.version, 'ffff')).rejects.toThrow(/policy content hash .* changed without a new version/);
    const { store: six } = await ownedPartition({ redis, prefix: newPrefix('layout-other'), policy, clock: 'event', partitionCount: 6 });
    await redis.copy(store.keys(TOPIC, 0).meta, six.keys(TOPIC, 0).meta, 'REPLACE');
    await expect(six.claim(TOPIC, 0, { version: policy.version, hash: policyContentHash(policy) })).rejects.toThrow(/partition count 4, this scorer has 6/);
    await expect(six.checkLayout(TOPIC, { version: policy.version, hash: policyContentHash(policy) })).rejects.toThrow(/partition count 4, this scorer has 6/);
    await redis.hdel(store.keys(TOPIC, 0).meta, META.formatVersion);
    await expect(claim(policy.version, policyContentHash(policy))).rejects.toThrow(/format version none/);
  });

  it('a pipelined commit stays in order after the script cache is flushed (a NOSCRIPT fallback re-sent it after the next load)', async () => {
    const { store, owned } = await ownedPartition({ redis, prefix: newPrefix('noscript'), policy, clock: 'event' });
    await owned.apply([purchase(0, 'a', 100)]);
    await owned.settled();
    await redis.script('FLUSH');
    // Chunk 2 claims 'dup'; chunk 3, loaded while chunk 2's commit is in flight, re-sends it.
    await owned.apply([{ ...purchase(1, 'a', 100), transactionId: 'dup' }]);
    const counts = await owned.apply([{ ...purchase(2, 'a', 100), transactionId: 'dup' }]);
    await owned.settled();
    expect(counts).toMatchObject({ applied: 0, duplicate: 1 });
    expect((await store.readCustomer(TOPIC, 0, 'a'))?.buckets.reduce((sum, b) => sum + b.frequency, 0)).toBe(2);
  });
});
