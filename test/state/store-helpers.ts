import { Redis, type Cluster } from 'ioredis';
import { afterAll, inject } from 'vitest';
import type { StateStore } from '../../src/state/store.js';
import type { TierChangeRecord } from '../../src/state/types.js';
import { uniqueName } from '../helpers/unique.js';

/** Every outbox entry of a partition, paging through readOutbox the way the relay will. */
export async function readWholeOutbox(store: StateStore, topic: string, partition: number): Promise<{ id: string; change: TierChangeRecord }[]> {
  const all: { id: string; change: TierChangeRecord }[] = [];
  let cursor = '-';
  for (;;) {
    const page = await store.readOutbox(topic, partition, cursor, 100);
    if (page.length === 0) return all;
    all.push(...page);
    cursor = page[page.length - 1]?.id ?? cursor;
  }
}

/** Sweep a partition until no due timer at or before `now` remains. */
export async function sweepAll(store: StateStore, topic: string, partition: number, now: number, limit?: number): Promise<number> {
  let changes = 0;
  for (;;) {
    const r = await store.sweepPartition(topic, partition, now, limit);
    changes += r.changes;
    if (!r.more) return changes;
  }
}

/** Delete every key under a prefix (test cleanup); SCAN, never KEYS. */
export async function deletePrefix(redis: Redis | Cluster, prefix: string): Promise<void> {
  if ('nodes' in redis) return; // cluster tests throw their whole server away
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) await redis.del(...keys);
  } while (cursor !== '0');
}

/**
 * For the calling describe block: a client of the suite's private Redis and `newPrefix`, which
 * hands out unique key prefixes. Registers its own afterAll, which deletes every key under the
 * prefixes handed out and disconnects.
 */
export function useStateRedis(): { redis: Redis; newPrefix: (base: string) => string } {
  const redis = new Redis(inject('redisUrl'));
  const prefixes: string[] = [];
  afterAll(async () => {
    for (const prefix of prefixes) await deletePrefix(redis, prefix);
    redis.disconnect();
  });
  return {
    redis,
    newPrefix(base) {
      const prefix = uniqueName(base);
      prefixes.push(prefix);
      return prefix;
    },
  };
}
