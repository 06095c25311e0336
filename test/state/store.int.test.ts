import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StateStore, type PartitionWrite } from '../../src/state/store.js';
import { startRedisServer, type RedisServerHandle } from '../helpers/redis-server.js';
import { uniqueName } from '../helpers/unique.js';

const TOPIC = 'tx';

function writeClaiming(transactionId: string, lastOffset: number): PartitionWrite {
  return {
    lastOffset,
    eventWatermark: null,
    outboxSeq: 0,
    counters: new Map(),
    customers: [],
    timers: [],
    claims: [{ transactionId, expiresAt: 1_000 }],
    outbox: [],
    pruneClaimsThrough: null,
  };
}

/**
 * A partition's commits are pipelined: the next chunk's load is sent before the commit's reply.
 * Redis runs one connection's commands in order, so the load sees the commit, unless the commit
 * has to be sent a second time (a server that does not know the script: new, restarted, flushed).
 * Its own private server, since the test flushes the script cache.
 */
describe('StateStore commit on a server that does not know the commit script', () => {
  let server: RedisServerHandle;
  let redis: Redis;

  beforeAll(async () => {
    server = await startRedisServer();
    redis = new Redis(server.url);
  });
  afterAll(async () => {
    redis.disconnect();
    await server.stop();
  });

  it('a load sent right after the commit sees what the commit wrote', async () => {
    const store = new StateStore({ redis, prefix: uniqueName('noscript'), partitionCount: 1 });
    const claim = await store.claim(TOPIC, 0, { version: 'v1', hash: 'h' });
    await redis.script('FLUSH');
    const committed = store.commit(TOPIC, 0, { owner: claim.owner, commit: claim.commit }, writeClaiming('t-1', 0));
    const loaded = await store.load(TOPIC, 0, { customers: [], transactionIds: ['t-1'] });
    await committed;
    expect(loaded.claims.get('t-1')).toBe(1_000);
    // And the next pipelined commit, fenced by the one before, is accepted.
    await store.commit(TOPIC, 0, { owner: claim.owner, commit: claim.commit + 1 }, writeClaiming('t-2', 1));
    expect((await store.readMeta(TOPIC, 0))?.lastOffset).toBe(1);
  });
});
