import { applyRecords } from '../../src/engine/apply.js';
import type { CustomerState, EngineRecord } from '../../src/engine/types.js';
import { policyContentHash } from '../../src/policy/content-hash.js';
import type { CompiledPolicy } from '../../src/policy/types.js';
import type { StateStore, TierCounters } from '../../src/state/store.js';
import { lowerThresholdsText } from '../pipeline/policy-population.js';
import { parsePolicy } from '../../src/policy/parse.js';

const DAY = 86_400_000;

/** The default policy with the vip, major and medium thresholds lowered: a new version that moves many customers up. */
export function loweredPolicyText(version: string): string {
  return lowerThresholdsText(version).replaceAll('4820.00', '2000.00');
}

/** {@link loweredPolicyText} compiled. */
export function loweredPolicy(version: string): CompiledPolicy {
  return parsePolicy(loweredPolicyText(version), `lowered ${version}`);
}

/** Customer `i` of partition `p` in a seeded population. */
export const seededCustomer = (partition: number, i: number): string => `s${partition}-${i}`;

/**
 * One purchase per customer, spread over a year before `end` (the last at `end` exactly, so the
 * partition's event-time watermark is `end`), with amounts around the default policy's and the
 * lowered policy's thresholds, so every tier and every move of the lowered policy is populated;
 * some customers bought long ago and are inactive.
 */
function populationRecords(partition: number, customers: number, end: number): EngineRecord[] {
  let seed = 1_000_003 * (partition + 1);
  const next = (): number => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
  const amounts = [150_000, 300_000, 600_000, 1_500_000, 2_500_000, 4_000_000, 7_000_000];
  const records: EngineRecord[] = [];
  for (let i = 0; i < customers; i++) {
    const amount = Math.round((amounts[Math.floor(next() * amounts.length)] as number) * (0.7 + next() * 0.6));
    // One in ten bought more than 180 days ago: inactive under both policies.
    const age = next() < 0.1 ? 200 * DAY + next() * 100 * DAY : next() * 170 * DAY;
    records.push({ offset: i, transactionId: `seed-${partition}-${i}`, customerId: seededCustomer(partition, i), kind: 'purchase', amountMinor: amount, eventTime: Math.floor(end - age) });
  }
  records.sort((a, b) => a.eventTime - b.eventTime);
  const last = records[records.length - 1];
  if (last !== undefined) last.eventTime = end;
  return records.map((r, offset) => ({ ...r, offset }));
}

function countersOf(customers: Iterable<[string, CustomerState]>): TierCounters {
  const counters: TierCounters = new Map();
  for (const [, state] of customers) {
    if (state.tier === null) continue;
    const entry = counters.get(state.tier) ?? { customers: 0, revenueMinor: 0 };
    entry.customers += 1;
    for (const bucket of state.buckets) entry.revenueMinor += bucket.monetary;
    counters.set(state.tier, entry);
  }
  return counters;
}

/**
 * Writes a scored population straight into the store: `customers` customers per partition, scored
 * by the engine under `policy` in event clock and committed through the store's fenced commit, as
 * if scored long ago (their first-classification events are not in the outbox, and no Kafka offset
 * is recorded, so scorers start the partitions at the log start of an empty input topic). Seeding
 * through Kafka would cost a produce, a scoring pass and the publication of every first
 * classification per customer; the checks are about what happens after, not about how the state
 * came to be. Returns the event-time watermark of every partition (`end`).
 */
export async function seedPopulation(store: StateStore, topic: string, policy: CompiledPolicy, partitions: number, customers: number, end: number): Promise<void> {
  const hash = policyContentHash(policy);
  for (let p = 0; p < partitions; p++) {
    const records = populationRecords(p, customers, end);
    const result = applyRecords(
      { policy, clock: 'event', position: { lastOffset: -1, eventWatermark: null }, customers: new Map(), timers: [], timersKnownThrough: Infinity, claims: new Map(), dedupeHorizonMs: null },
      records,
    );
    if (result.consumed !== records.length) throw new Error(`seeding partition ${p}: the engine stopped at ${result.consumed} of ${records.length}`);
    const claim = await store.claim(topic, p, { version: policy.version, hash });
    await store.commit(
      topic,
      p,
      { owner: claim.owner, commit: claim.commit, policyHash: hash },
      {
        lastOffset: null,
        eventWatermark: result.position.eventWatermark,
        outboxSeq: 0,
        counters: countersOf(result.customers),
        customers: result.customers,
        timers: result.timers,
        claims: result.claims,
        outbox: [],
        pruneClaimsThrough: null,
      },
    );
  }
}
