import type { Redis } from 'ioredis';
import type { StateConfig } from '../config/load.js';
import { loadPolicyFile } from '../policy/load.js';
import type { CompiledPolicy } from '../policy/types.js';
import { connectRedis } from '../pipeline/redis-connection.js';
import { StateStore } from '../state/store.js';

/** Read access to one deployment's state (its key prefix), for `inspect` and `report`. */
export interface StateAccess {
  redis: Redis;
  store: StateStore;
  policy: CompiledPolicy;
  /** Partitions of the input topic that have state under the prefix. */
  partitions: number[];
  close(): void;
}

/** Connects to the configured Redis and finds the partitions with state; Kafka is not needed. */
export async function openState(config: StateConfig): Promise<StateAccess> {
  const policy = await loadPolicyFile(config.policyFile);
  const redis = await connectRedis(config.redis);
  const probe = new StateStore({ redis, prefix: config.keyPrefix });
  const partitions = await probe.partitionsWithState(config.topics.transactions);
  // The partition count and sub-hash count the state was written with are in its meta.
  const meta = partitions.length === 0 ? null : await probe.readMeta(config.topics.transactions, partitions[0] as number);
  const store = new StateStore({
    redis,
    prefix: config.keyPrefix,
    ...(meta?.partitionCount == null ? {} : { partitionCount: meta.partitionCount }),
    ...(meta?.customerShards == null ? {} : { customerShards: meta.customerShards }),
  });
  return { redis, store, policy, partitions, close: () => redis.disconnect() };
}
