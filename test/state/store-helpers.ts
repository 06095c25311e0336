import { Redis, type Cluster } from 'ioredis';
import { afterAll, inject } from 'vitest';
import { uniqueName } from '../helpers/unique.js';

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
