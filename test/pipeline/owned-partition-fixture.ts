import type { Cluster, Redis } from 'ioredis';
import type { ClockMode } from '../../src/engine/apply.js';
import type { TierChange } from '../../src/engine/change.js';
import type { Signal } from '../../src/engine/signals.js';
import type { EngineCounts } from '../../src/engine/types.js';
import { silentLogger } from '../../src/logger.js';
import { policyContentHash } from '../../src/policy/content-hash.js';
import type { CompiledPolicy } from '../../src/policy/types.js';
import { CacheBudget } from '../../src/pipeline/customer-cache.js';
import { OwnedPartition } from '../../src/pipeline/owned-partition.js';
import type { OutboxEntry } from '../../src/state/outbox-codec.js';
import { StateStore } from '../../src/state/store.js';

export interface PartitionFixtureOptions {
  redis: Redis | Cluster;
  prefix: string;
  policy: CompiledPolicy;
  clock: ClockMode;
  topic?: string;
  partition?: number;
  partitionCount?: number;
  /** Customers the cache may hold (default plenty). */
  cacheMax?: number;
  dedupeHorizonMs?: number | null;
  customerShards?: number;
  timerLoadLimit?: number;
}

/** A store and a claimed owned partition on it, the way the scorer builds them. */
export async function ownedPartition(options: PartitionFixtureOptions): Promise<{ store: StateStore; owned: OwnedPartition }> {
  const store = new StateStore({
    redis: options.redis,
    prefix: options.prefix,
    partitionCount: options.partitionCount ?? 1,
    ...(options.customerShards === undefined ? {} : { customerShards: options.customerShards }),
  });
  const owned = new OwnedPartition({
    store,
    topic: options.topic ?? 'tx',
    partition: options.partition ?? 0,
    policy: options.policy,
    policyHash: policyContentHash(options.policy),
    clock: options.clock,
    dedupeHorizonMs: options.dedupeHorizonMs ?? null,
    budget: new CacheBudget(options.cacheMax ?? 1_000_000),
    ...(options.timerLoadLimit === undefined ? {} : { timerLoadLimit: options.timerLoadLimit }),
    logger: silentLogger,
  });
  await owned.claim();
  return { store, owned };
}

/** Every entry in a partition's outbox, in order. */
async function outboxEntries(store: StateStore, topic: string, partition: number): Promise<OutboxEntry[]> {
  const all: OutboxEntry[] = [];
  let cursor = '-';
  for (;;) {
    const page = await store.readOutbox(topic, partition, cursor, 500);
    if (page.length === 0) return all;
    all.push(...page);
    cursor = page[page.length - 1]?.id ?? cursor;
  }
}

/** Every change in a partition's outbox, in order. */
export async function outboxChanges(store: StateStore, topic: string, partition: number): Promise<TierChange[]> {
  return (await outboxEntries(store, topic, partition)).flatMap((e) => (e.change === undefined ? [] : [e.change]));
}

/** Every signal in a partition's outbox, in order. */
export async function outboxSignals(store: StateStore, topic: string, partition: number): Promise<Signal[]> {
  return (await outboxEntries(store, topic, partition)).flatMap((e) => (e.signal === undefined ? [] : [e.signal]));
}

/** Sweep until no due timer at or before `now` remains; returns the changes made. */
export async function sweepAll(owned: OwnedPartition, now: number, limit = 500): Promise<number> {
  let changes = 0;
  for (;;) {
    const r = await owned.sweep(now, limit);
    changes += r.changes;
    if (!r.more) return changes;
  }
}

/** Sum of engine counts (for comparing totals with the model). */
export function addCounts(into: Omit<EngineCounts, 'timersFired' | 'claimsShortened'>, add: EngineCounts): void {
  into.applied += add.applied;
  into.duplicate += add.duplicate;
  into.late += add.late;
  into.stale += add.stale;
  into.changes += add.changes;
  into.signals += add.signals;
}
