import fc from 'fast-check';
import type { EngineRecord } from '../../src/engine/types.js';
import type { CompiledPolicy } from '../../src/policy/types.js';
import { testPolicy } from '../state/fixtures.js';
import type { ModelRecord } from './reference-model.js';

/**
 * Generated partition histories for the property tests of the engine (pure) and of the engine
 * behind the Redis store: purchases, refunds, duplicates near and far apart, out-of-order, late
 * and ancient events, long silences, batch cuts and replays; account balance snapshots (their own
 * offsets, as records of the co-partitioned balances topic) and transaction margins.
 */

export const CUSTOMERS = ['a', 'b', 'c', 'd'];

/** Card tiers by average daily balance, one also by profit (the bank-cards shape, in small units). */
const ASSET_TIERS: CompiledPolicy['tiers'] = [
  { name: 'black', rank: 5, conditions: [{ metric: 'averageDailyBalance', op: 'gte', value: 1000 }] },
  {
    name: 'platinum',
    rank: 4,
    conditions: [
      { metric: 'averageDailyBalance', op: 'gte', value: 300 },
      { metric: 'profit', op: 'gt', value: 40 },
    ],
  },
  { name: 'gold', rank: 3, conditions: [{ metric: 'averageDailyBalance', op: 'gt', value: 100 }] },
  { name: 'small', rank: 2, conditions: [{ metric: 'monetary', op: 'gt', value: 0 }] },
];

export const POLICIES: Record<string, CompiledPolicy> = {
  plain: testPolicy(),
  grace: testPolicy({ version: 't-grace', hysteresis: { downgradeGraceMs: 30, downgradeMarginBps: 0 } }),
  margin: testPolicy({ version: 't-margin', hysteresis: { downgradeGraceMs: 0, downgradeMarginBps: 2500 } }),
  both: testPolicy({ version: 't-both', hysteresis: { downgradeGraceMs: 25, downgradeMarginBps: 1000 } }),
  'no-inactivity': testPolicy({ version: 't-noinact', inactivityMs: null, inactiveTier: null }),
  assets: testPolicy({ version: 't-assets', tiers: ASSET_TIERS }),
  'assets-hysteresis': testPolicy({ version: 't-assets-h', tiers: ASSET_TIERS, hysteresis: { downgradeGraceMs: 20, downgradeMarginBps: 1500 } }),
  // Signals: an amount distance with margin and grace, a share of the threshold, NEAR_UPGRADE alone.
  signals: testPolicy({
    version: 't-signals',
    hysteresis: { downgradeGraceMs: 30, downgradeMarginBps: 1000 },
    signals: { nearUpgrade: { within: { amountMinor: 150 }, cooldownMs: 40 }, downgradePending: true },
  }),
  'signals-share': testPolicy({
    version: 't-signals-share',
    hysteresis: { downgradeGraceMs: 25, downgradeMarginBps: 0 },
    signals: { nearUpgrade: { within: { thresholdBps: 3000 }, cooldownMs: 15 }, downgradePending: true },
  }),
  'near-only': testPolicy({ version: 't-near', signals: { nearUpgrade: { within: { amountMinor: 300 }, cooldownMs: 60 }, downgradePending: false } }),
};

/** One generated step: a new transaction (or a re-sent id) some time after the previous one. */
const step = fc.record({
  customer: fc.constantFrom(...CUSTOMERS),
  kind: fc.constantFrom('purchase', 'purchase', 'purchase', 'refund') as fc.Arbitrary<'purchase' | 'refund'>,
  amount: fc.oneof(fc.integer({ min: 1, max: 300 }), fc.integer({ min: 300, max: 1500 })),
  // Mostly small advances, sometimes a long silence past window, grace and inactivity.
  advance: fc.oneof({ weight: 6, arbitrary: fc.integer({ min: 0, max: 20 }) }, { weight: 1, arbitrary: fc.integer({ min: 50, max: 450 }) }),
  // Out of order (inside the window), late (beyond it) or ancient (far before it).
  lateBy: fc.oneof(
    { weight: 5, arbitrary: fc.constant(0) },
    { weight: 2, arbitrary: fc.integer({ min: 1, max: 60 }) },
    { weight: 1, arbitrary: fc.integer({ min: 90, max: 200 }) },
    { weight: 1, arbitrary: fc.integer({ min: 300, max: 2000 }) },
  ),
  // Re-send an earlier transaction: the same record again, or the same id much later.
  duplicateOf: fc.oneof({ weight: 5, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: fc.nat() }),
  sameCopy: fc.boolean(),
  // The transaction's margin (v3), often absent.
  profit: fc.option(fc.integer({ min: -60, max: 120 }), { nil: undefined }),
  // Instead of a transaction: a balance snapshot of one of the customer's accounts (negative: debt).
  balance: fc.option(fc.record({ account: fc.constantFrom('x', 'y'), amount: fc.integer({ min: -300, max: 2500 }) }), { freq: 3 }),
});

export const scenario = fc.record({
  policy: fc.constantFrom(...Object.keys(POLICIES)),
  steps: fc.array(step, { minLength: 1, maxLength: 40 }),
  cuts: fc.array(fc.nat(), { maxLength: 8 }),
  replays: fc.array(fc.record({ batch: fc.nat(), from: fc.nat(), extend: fc.boolean() }), { maxLength: 4 }),
  sweepLimit: fc.integer({ min: 1, max: 4 }),
  wallLag: fc.array(fc.integer({ min: 0, max: 40 }), { minLength: 1, maxLength: 8 }),
});

export type Scenario = typeof scenario extends fc.Arbitrary<infer T> ? T : never;

/**
 * Scenarios of the signal policies with transactions only: signals test spend, and balance
 * snapshots (most steps of {@link scenario}) would thin out the histories that reach each rule.
 */
export const signalScenario = scenario
  .filter((s) => POLICIES[s.policy]?.signals !== undefined)
  .map((s) => ({ ...s, steps: s.steps.map((st) => ({ ...st, balance: null })) }));

/** The scenario's records in offset order (the clock starts well past 0, so ancient events stay >= 0). */
export function buildRecords(s: Scenario): ModelRecord[] {
  const records: ModelRecord[] = [];
  let clock = 10_000;
  let balanceOffset = 0;
  s.steps.forEach((st, i) => {
    clock += st.advance;
    if (st.balance !== null) {
      const asOf = Math.max(0, clock - st.lateBy);
      records.push({ kind: 'balance', offset: balanceOffset++, customerId: st.customer, accountId: st.balance.account, balanceMinor: st.balance.amount, eventTime: asOf });
      return;
    }
    const transactions = records.filter((r): r is EngineRecord => r.kind !== 'balance');
    const dupSource = st.duplicateOf === null || transactions.length === 0 ? undefined : transactions[st.duplicateOf % transactions.length];
    if (dupSource !== undefined && st.sameCopy) {
      // The same transaction re-sent as a new record (a producer retry), however much later.
      records.push({ ...dupSource, offset: i });
      return;
    }
    records.push({
      offset: i,
      transactionId: dupSource?.transactionId ?? `t${i}`,
      customerId: dupSource?.customerId ?? st.customer,
      kind: dupSource?.kind ?? st.kind,
      amountMinor: st.amount,
      eventTime: Math.max(0, clock - st.lateBy),
      ...(st.profit === undefined ? {} : { profitMinor: st.profit }),
    });
  });
  return records;
}

/** Cut the records into batches; then insert replays of earlier ranges (crash / rebalance). */
export function buildCalls(records: ModelRecord[], s: Scenario): ModelRecord[][] {
  const cuts = [...new Set(s.cuts.map((c) => c % (records.length + 1)))].sort((a, b) => a - b);
  const bounds = [0, ...cuts.filter((c) => c > 0 && c < records.length), records.length];
  const batches: ModelRecord[][] = [];
  for (let i = 0; i + 1 < bounds.length; i++) batches.push(records.slice(bounds[i], bounds[i + 1]));
  const calls: ModelRecord[][] = [];
  batches.forEach((batch, i) => {
    for (const replay of s.replays.filter((r) => r.batch % batches.length === i)) {
      const end = records.indexOf(batch[0] as ModelRecord);
      const from = end === 0 ? 0 : replay.from % (end + 1);
      // extend: the replay runs on into the new batch (a consumer restarting from an old commit).
      calls.push(replay.extend ? records.slice(from, end + batch.length) : records.slice(from, end));
    }
    calls.push(batch);
  });
  return calls.filter((c) => c.length > 0);
}

/** A change as the model writes it, from an engine TierChange. */
export function comparable<T extends { boundary: { tier: string } }>(changes: readonly T[]) {
  return changes.map(({ boundary, ...rest }) => {
    const { eventId, customerId, previousTier, newTier, direction, cause, transactionId, effectiveAt, policyVersion, before, after, headroom } = rest as unknown as Record<string, unknown>;
    return { eventId, customerId, previousTier, newTier, direction, cause, transactionId, effectiveAt, policyVersion, before, after, boundaryTier: boundary.tier, headroom };
  });
}
