import type { Redis } from 'ioredis';
import { evaluateTier } from '../../src/engine/evaluate.js';
import { firstCountedBucket, rollingAggregates } from '../../src/engine/aggregates.js';
import type { EngineRecord } from '../../src/engine/types.js';
import { parsePolicy } from '../../src/policy/parse.js';
import type { CompiledPolicy } from '../../src/policy/types.js';
import { customerShardKey, decodeCustomer } from '../../src/state/layout.js';
import type { StateStore } from '../../src/state/store.js';
import { shippedPolicyPath } from '../policy/fixtures.js';
import { readFileSync } from 'node:fs';
import { ownedPartition } from './owned-partition-fixture.js';

const DAY = 86_400_000;

/** The shipped default policy's text with the vip and major thresholds lowered, as a new version. */
export function lowerThresholdsText(version: string): string {
  return readFileSync(shippedPolicyPath('default'), 'utf8')
    .replace(/^version: .*$/m, `version: "${version}"`)
    .replaceAll('58900.00', '30000.00')
    .replaceAll('19000.00', '9000.00');
}

/** {@link lowerThresholdsText} compiled. */
export function lowerThresholds(version: string): CompiledPolicy {
  return parsePolicy(lowerThresholdsText(version), `lowered ${version}`);
}

/** A small deterministic bank: `customers` customers, spend spread so every tier is populated. */
export function population(customers: number, partition: number, start: number): EngineRecord[] {
  const records: EngineRecord[] = [];
  let seed = 7 + partition;
  const next = (): number => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0);
  for (let i = 0; i < customers * 4; i++) {
    const customer = (next() >>> 8) % customers;
    // A long tail: most spend little, a few a lot (minor units of CNY).
    const amountMinor = 1000 + ((next() >>> 8) % 100) ** 3 * 8;
    records.push({ offset: i, transactionId: `p${partition}-t${i}`, customerId: `c${partition}-${customer}`, kind: 'purchase', amountMinor, eventTime: start + i * 600_000 });
  }
  return records;
}

/** Scores {@link population} into `partitions` partitions under `policy` in event clock; returns the store. */
export async function scorePopulation(redis: Redis, prefix: string, policy: CompiledPolicy, partitions: number, customers: number, topic = 'tx'): Promise<StateStore> {
  let store: StateStore | undefined;
  const start = Date.now() - 40 * DAY;
  for (let p = 0; p < partitions; p++) {
    const built = await ownedPartition({ redis, prefix, policy, clock: 'event', topic, partition: p, partitionCount: partitions, customerShards: 8 });
    await built.owned.apply(population(customers, p, start));
    await built.owned.settled();
    store = built.store;
  }
  if (store === undefined) throw new Error('no partition');
  return store;
}

/**
 * The move matrix computed the plain way, independent of scanCustomers and policy-diff: every
 * customer sub-hash read whole, every customer evaluated with evaluateTier at the partition's
 * event-time watermark. Cells as `from>to` -> customers.
 */
export async function directMoves(redis: Redis, store: StateStore, topic: string, partitions: number, policy: CompiledPolicy): Promise<Map<string, { customers: number; revenueMinor: number }>> {
  const cells = new Map<string, { customers: number; revenueMinor: number }>();
  for (let p = 0; p < partitions; p++) {
    const meta = await store.readMeta(topic, p);
    const now = meta?.eventWatermark ?? 0;
    for (let shard = 0; shard < store.customerShards; shard++) {
      const all = await redis.hgetall(customerShardKey(store.keys(topic, p), shard));
      for (const value of Object.values(all)) {
        const state = decodeCustomer(value);
        const buckets = state.buckets.filter((b) => b.index >= firstCountedBucket(policy, now));
        const snapshot = rollingAggregates(policy, buckets, state.lastPurchaseAt, now);
        const decision = evaluateTier(policy, snapshot, state, now);
        const key = `${state.tier}>${decision.tier}`;
        const cell = cells.get(key) ?? { customers: 0, revenueMinor: 0 };
        cell.customers += 1;
        cell.revenueMinor += snapshot.monetary;
        cells.set(key, cell);
      }
    }
  }
  return cells;
}
