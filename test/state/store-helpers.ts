import type { Cluster, Redis } from 'ioredis';
import type { StateStore } from '../../src/state/store.js';
import type { TierChangeRecord } from '../../src/state/types.js';

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
