import type { TierChange } from '../../src/engine/change.js';
import { outboxId } from '../../src/state/outbox-codec.js';
import type { StateStore } from '../../src/state/store.js';

/** The policy identity the fixture's claims store (any fixed pair will do: nothing scores here). */
const POLICY = { version: 'relay-test', hash: 'relay-test' };

/** A tier change of customer `c-<seq>` with outbox sequence `seq`. */
function change(seq: number): TierChange {
  const snapshot = { monetary: seq, frequency: 1, recencyMs: 0, lastPurchaseAt: 0 };
  return {
    eventId: `c-${seq}:${seq}`,
    customerId: `c-${seq}`,
    previousTier: null,
    newTier: 'vip',
    direction: 'UP',
    cause: 'TRANSACTION',
    transactionId: `t-${seq}`,
    effectiveAt: 1_000 + seq,
    policyVersion: POLICY.version,
    previousPolicyVersion: null,
    before: snapshot,
    after: snapshot,
    boundary: { tier: 'vip', rule: 'monetary >= 0' },
    headroom: { toNextTierUp: null, toDowngrade: null },
  };
}

/**
 * Appends `count` changes to a partition's outbox through the store's own claim and fenced commit,
 * as the scorer does; returns their event ids. The store must know the partition count.
 */
export async function appendChanges(store: StateStore, topic: string, partition: number, count: number): Promise<string[]> {
  const claim = await store.claim(topic, partition, POLICY);
  const changes = Array.from({ length: count }, (_, i) => change(claim.outboxSeq + 1 + i));
  await store.commit(topic, partition, { owner: claim.owner, commit: claim.commit, policyHash: claim.policyHash ?? '' }, {
    lastOffset: null,
    eventWatermark: null,
    outboxSeq: claim.outboxSeq + count,
    counters: new Map(),
    customers: [],
    timers: [],
    claims: [],
    outbox: changes.map((c, i) => ({ id: outboxId(claim.outboxSeq + 1 + i), change: c })),
    pruneClaimsThrough: null,
  });
  return changes.map((c) => c.eventId);
}
