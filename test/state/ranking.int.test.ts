import { describe, expect, it } from 'vitest';
import { isPyramidError } from '../../src/errors.js';
import { rankingKeys } from '../../src/state/layout.js';
import { RankingStore } from '../../src/state/ranking.js';
import { useStateRedis } from './store-helpers.js';

const boundaries = (epoch: number, value: number) => ({
  policyHash: 'h',
  boundaries: { epoch, at: 1000 * epoch, population: 10, cuts: [{ metric: 'monetary' as const, bps: 1000, rank: 1, key: { value, customerId: 'c1' } }] },
});

async function refusal(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
  } catch (err) {
    if (isPyramidError(err, 'STATE_FENCED')) return String(err.details?.reason);
    throw err;
  }
  return undefined;
}

describe('RankingStore (coordinator lease and epochs)', () => {
  const { redis, newPrefix } = useStateRedis();

  it('gives the lease to one instance at a time, renews it for its holder, and a larger token to the next holder', async () => {
    const prefix = newPrefix('lease');
    const a = new RankingStore(redis, prefix);
    const b = new RankingStore(redis, prefix);
    const first = await a.holdLease('a', 60_000);
    expect(first).toEqual({ held: true, token: 1 });
    expect(await b.holdLease('b', 60_000)).toEqual({ held: false, holder: '1|a' });
    expect(await a.holdLease('a', 60_000)).toEqual({ held: true, token: 1 });
    // The holder dies: its lease runs out (deleted here instead of waiting for the TTL).
    await redis.del(rankingKeys(prefix).lease);
    expect(await b.holdLease('b', 60_000)).toEqual({ held: true, token: 2 });
    expect(await a.holdLease('a', 60_000)).toEqual({ held: false, holder: '2|b' });
    expect(await redis.pttl(rankingKeys(prefix).lease)).toBeGreaterThan(0);
  });

  it('publishes only for the current token, only the next epoch, and never rewrites an epoch', async () => {
    const prefix = newPrefix('epochs');
    const a = new RankingStore(redis, prefix);
    const b = new RankingStore(redis, prefix);
    expect(await a.readLatest()).toBeNull();
    await a.holdLease('a', 60_000);
    await a.publish(1, boundaries(1, 500));
    expect(await refusal(a.publish(1, boundaries(1, 999)))).toBe('epoch');
    expect(await refusal(a.publish(1, boundaries(3, 999)))).toBe('epoch');
    await redis.del(rankingKeys(prefix).lease);
    await b.holdLease('b', 60_000);
    // The deposed holder computed epoch 2 too: refused, the new holder's epoch 2 is the one.
    expect(await refusal(a.publish(1, boundaries(2, 111)))).toBe('lease');
    await b.publish(2, boundaries(2, 600));
    expect(await a.latestEpoch()).toBe(2);
    expect((await a.readAll()).map((e) => [e.boundaries.epoch, e.boundaries.cuts[0]?.key?.value])).toEqual([
      [1, 500],
      [2, 600],
    ]);
    expect(await a.readLatest()).toEqual(boundaries(2, 600));
  });
});
