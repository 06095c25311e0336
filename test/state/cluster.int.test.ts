import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Cluster, Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inspectCustomer } from '../../src/pipeline/inspect.js';
import { customerKey, customerShardKey, partitionKeys } from '../../src/state/layout.js';
import { startRedisServer, type RedisServerHandle } from '../helpers/redis-server.js';
import { outboxChanges, ownedPartition, sweepAll } from '../pipeline/owned-partition-fixture.js';
import { testPolicy } from './fixtures.js';

/**
 * A real single-node Redis Cluster: Redis refuses a script that touches keys of more than one
 * hash slot, so running the engine here proves every key of one call shares the partition's slot.
 */
describe('the state store on Redis Cluster', () => {
  let server: RedisServerHandle;
  let dir: string;
  let admin: Redis;
  let cluster: Cluster;

  beforeAll(async () => {
    // Announce an address: a fresh node reports an empty IP in CLUSTER SLOTS otherwise.
    dir = mkdtempSync(join(tmpdir(), 'pyramid-cluster-'));
    server = await startRedisServer({ dir, args: ['--cluster-enabled', 'yes', '--cluster-config-file', join(dir, 'nodes.conf'), '--cluster-announce-ip', '127.0.0.1'] });
    admin = new Redis(server.url);
    await admin.call('CLUSTER', 'ADDSLOTSRANGE', '0', '16383');
    for (let i = 0; ; i++) {
      const info = String(await admin.call('CLUSTER', 'INFO'));
      if (info.includes('cluster_state:ok')) break;
      if (i > 600) throw new Error('cluster did not reach state ok');
      await new Promise((r) => setTimeout(r, 50));
    }
    cluster = new Cluster([{ host: '127.0.0.1', port: server.port }]);
  });

  afterAll(async () => {
    cluster?.disconnect();
    admin?.disconnect();
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  // Scripts with a shebang (as ours have) get Redis's cross-slot check even on a single node.
  it('refuses a script touching two slots (the check below means something)', async () => {
    const error = await cluster.eval("#!lua\nredis.call('SET', KEYS[1], 1); return redis.call('SET', 'pyr:{other:1}:x', 1)", 1, 'pyr:{tx:0}:x').catch((e: unknown) => e);
    expect(String(error)).toMatch(/slot/i);
  });

  it('builds every key of a partition in one hash slot', async () => {
    for (const [topic, partition] of [['transactions', 0], ['transactions', 7], ['a.b-c_d', 123]] as const) {
      const keys = partitionKeys('pyr', topic, partition);
      const all = [keys.meta, keys.due, keys.tx, keys.outbox, customerKey(keys, 'c-1'), customerKey(keys, 'クライアント'), customerKey(keys, '{x}')];
      // Every customer sub-hash, not only the three the ids above happen to land in.
      for (let shard = 0; shard < keys.customerShards; shard++) all.push(customerShardKey(keys, shard));
      const slots = await Promise.all(all.map((key) => admin.call('CLUSTER', 'KEYSLOT', key)));
      expect(new Set(slots).size).toBe(1);
    }
  });

  it('claims, applies, sweeps, inspects and relays through a cluster client', async () => {
    const policy = testPolicy();
    let store;
    for (const partition of [0, 1, 2]) {
      const fixture = await ownedPartition({ redis: cluster, prefix: 'clu', policy, clock: 'wall', partition, partitionCount: 3 });
      store = fixture.store;
      const counts = await fixture.owned.apply(
        [
          { offset: 0, transactionId: `p${partition}a`, customerId: `c${partition}`, kind: 'purchase', amountMinor: 1500, eventTime: 1000 },
          { offset: 1, transactionId: `p${partition}b`, customerId: `c${partition}`, kind: 'refund', amountMinor: 200, eventTime: 1001 },
        ],
        1005,
      );
      await fixture.owned.settled();
      expect(counts).toMatchObject({ applied: 2, changes: 1 });
      expect(await sweepAll(fixture.owned, 2000)).toBeGreaterThan(0);
    }
    if (store === undefined) throw new Error('no store');
    expect(await inspectCustomer({ store, policy, clock: 'wall', topic: 'tx', customerId: 'c2', now: 2000 })).toMatchObject({ partition: 2, tier: 'inactive', seq: 3 });
    const outbox = await outboxChanges(store, 'tx', 1);
    expect(outbox.map((c) => c.newTier)).toEqual(['vip', 'small', 'inactive']);
    const entries = await store.readOutbox('tx', 1);
    expect((await store.trimOutbox('tx', 1, entries[2]?.id ?? '')).trimmed).toBe(3);
  });
});
