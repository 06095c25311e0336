import type { Redis } from 'ioredis';
import type { KafkaRecord } from '../../src/kafka/types.js';
import type { StateStore } from '../../src/state/store.js';

/** Every stored customer (decoded) and timer of one prefix, keyed by `<partition>/<customerId>`. */
export async function snapshotState(redis: Redis, store: StateStore, topic: string, partitions: number): Promise<Map<string, string>> {
  const state = new Map<string, string>();
  for (let p = 0; p < partitions; p++) {
    const keys = store.keys(topic, p);
    for await (const { customerId, state: stored } of store.scanCustomers(topic, p)) {
      // The timer set's score too, not only the customer's copy of it: the timer set is what fires.
      state.set(`${p}/${customerId}`, JSON.stringify({ ...stored, due: await redis.zscore(keys.due, customerId) }));
    }
  }
  return state;
}

/** Tier-change events by event id; repeated ids must carry identical content. */
export function indexChanges(records: KafkaRecord[]): { byId: Map<string, string>; repeated: number; conflicting: string[] } {
  return indexById(records, 'eventId');
}

/** Signals by signal id; repeated ids must carry identical content. */
export function indexSignals(records: KafkaRecord[]): { byId: Map<string, string>; repeated: number; conflicting: string[] } {
  return indexById(records, 'signalId');
}

function indexById(records: KafkaRecord[], field: 'eventId' | 'signalId'): { byId: Map<string, string>; repeated: number; conflicting: string[] } {
  const byId = new Map<string, string>();
  let repeated = 0;
  const conflicting: string[] = [];
  for (const record of records) {
    const text = record.value!.toString();
    const eventId = (JSON.parse(text) as Record<string, string>)[field] as string;
    const known = byId.get(eventId);
    if (known === undefined) byId.set(eventId, text);
    else {
      repeated += 1;
      if (known !== text) conflicting.push(eventId);
    }
  }
  return { byId, repeated, conflicting };
}

/** Sum over partitions of the applied-offset watermark + 1 (records the state has passed). */
export async function appliedPosition(redis: Redis, store: StateStore, topic: string, partitions: number): Promise<number> {
  let total = 0;
  for (let p = 0; p < partitions; p++) {
    const lastOffset = (await store.readMeta(topic, p))?.lastOffset ?? null;
    total += lastOffset === null ? 0 : lastOffset + 1;
  }
  return total;
}
