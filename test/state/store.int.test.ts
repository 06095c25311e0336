import { Redis } from 'ioredis';
import { isPyramidError } from '../../src/errors.js';
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
    const committed = store.commit(TOPIC, 0, { owner: claim.owner, commit: claim.commit, policyHash: claim.policyHash ?? '' }, writeClaiming('t-1', 0));
    const loaded = await store.load(TOPIC, 0, { customers: [], transactionIds: ['t-1'] });
    await committed;
    expect(loaded.claims.get('t-1')).toBe(1_000);
    // And the next pipelined commit, fenced by the one before, is accepted.
    await store.commit(TOPIC, 0, { owner: claim.owner, commit: claim.commit + 1, policyHash: claim.policyHash ?? '' }, writeClaiming('t-2', 1));
    expect((await store.readMeta(TOPIC, 0))?.lastOffset).toBe(1);
  });
});

describe('StateStore commit fenced by the policy of the stored state', () => {
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

  it('refuses, writing nothing, a commit computed on another policy than the stored state is on; a switching commit names the old one', async () => {
    const store = new StateStore({ redis, prefix: uniqueName('policy-fence'), partitionCount: 1 });
    const claim = await store.claim(TOPIC, 0, { version: 'v1', hash: 'h1' });
    const fence = { owner: claim.owner, commit: claim.commit };
    // The switch: computed under v2 on state of v1, it names h1 and stores v2.
    await store.commit(TOPIC, 0, { ...fence, policyHash: 'h1' }, { ...writeClaiming('t-1', 0), meta: new Map([['pv', 'v2'], ['ph', 'h2']]) });
    // A chunk computed under v1 (an owner that did not see the switch) is refused.
    const refused = await store.commit(TOPIC, 0, { ...fence, commit: fence.commit + 1, policyHash: 'h1' }, writeClaiming('t-2', 1)).catch((err: unknown) => err);
    expect(isPyramidError(refused, 'STATE_FENCED') && refused.details).toMatchObject({ reason: 'policy' });
    expect(String((refused as Error).message)).toContain('its state is on policy content hash h2, this commit was computed on h1');
    expect(await store.readMeta(TOPIC, 0)).toMatchObject({ lastOffset: 0, policyVersion: 'v2', policyHash: 'h2', commit: 1 });
    await store.commit(TOPIC, 0, { ...fence, commit: fence.commit + 1, policyHash: 'h2' }, writeClaiming('t-2', 1));
    expect((await store.readMeta(TOPIC, 0))?.lastOffset).toBe(1);
  });
});
