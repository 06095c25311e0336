import type { TierChange } from '../../src/engine/change.js';
import type { Signal } from '../../src/engine/signals.js';
import { outboxId, type OutboxEntry } from '../../src/state/outbox-codec.js';
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

/** A NEAR_UPGRADE signal of customer `c-<seq>`. */
function signal(seq: number): Signal {
  return {
    signalId: `c-${seq}:s:${seq}`,
    customerId: `c-${seq}`,
    type: 'NEAR_UPGRADE',
    tier: 'major',
    targetTier: 'vip',
    cause: 'TRANSACTION',
    transactionId: `t-${seq}`,
    effectiveAt: 1_000 + seq,
    policyVersion: POLICY.version,
    rfm: { monetary: seq, frequency: 1, recencyMs: 0, lastPurchaseAt: 0 },
    spendToUpgrade: 10,
    takesEffectAt: null,
    spendToStay: null,
  };
}

/**
 * Appends `count` entries to a partition's outbox, every `signalEvery`-th a signal and the rest
 * tier changes, through the store's own claim and fenced commit; returns the ids of each kind.
 */
export async function appendMixed(store: StateStore, topic: string, partition: number, count: number, signalEvery: number): Promise<{ eventIds: string[]; signalIds: string[] }> {
  const claim = await store.claim(topic, partition, POLICY);
  const outbox: OutboxEntry[] = Array.from({ length: count }, (_, i) => {
    const seq = claim.outboxSeq + 1 + i;
    return (i + 1) % signalEvery === 0 ? { id: outboxId(seq), signal: signal(seq) } : { id: outboxId(seq), change: change(seq) };
  });
  await store.commit(topic, partition, { owner: claim.owner, commit: claim.commit, policyHash: claim.policyHash ?? '' }, {
    lastOffset: null,
    eventWatermark: null,
    outboxSeq: claim.outboxSeq + count,
    counters: new Map(),
    customers: [],
    timers: [],
    claims: [],
    outbox,
    pruneClaimsThrough: null,
  });
  return {
    eventIds: outbox.flatMap((e) => (e.change === undefined ? [] : [e.change.eventId])),
    signalIds: outbox.flatMap((e) => (e.signal === undefined ? [] : [e.signal.signalId])),
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
