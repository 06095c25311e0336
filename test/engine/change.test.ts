import { describe, expect, it } from 'vitest';
import { rollingAggregates } from '../../src/engine/aggregates.js';
import { decideTierChange, type CustomerTierState } from '../../src/engine/change.js';
import { nextDueTime } from '../../src/engine/due.js';
import { DAY, bucketsOf, shippedPolicy } from '../policy/fixtures.js';

const pyramid = shippedPolicy('default');
const fresh: CustomerTierState = { tier: null, tierSince: null, pendingDowngradeSince: null, seq: 0 };

describe('decideTierChange', () => {
  it('records a first classification with snapshots, boundary and headroom', () => {
    const now = 1000 * DAY + 7;
    const before = rollingAggregates(pyramid, bucketsOf(), null, now);
    const after = rollingAggregates(pyramid, bucketsOf([1000, 2_500_000, 1]), now, now);
    const outcome = decideTierChange({ policy: pyramid, customerId: 'c-1', state: fresh, before, after, now, cause: 'TRANSACTION', transactionId: 'tx-9' });
    expect(outcome.state).toEqual({ tier: 'major', tierSince: now, pendingDowngradeSince: null, seq: 1 });
    expect(outcome.change).toEqual({
      eventId: 'c-1:1',
      customerId: 'c-1',
      previousTier: null,
      newTier: 'major',
      direction: 'NEW',
      cause: 'TRANSACTION',
      transactionId: 'tx-9',
      effectiveAt: now,
      policyVersion: pyramid.version,
      previousPolicyVersion: null,
      before: { monetary: 0, frequency: 0, recencyMs: null, lastPurchaseAt: null, averageDailyBalance: 0, profit: 0 },
      after: { monetary: 2_500_000, frequency: 1, recencyMs: 0, lastPurchaseAt: now, averageDailyBalance: 0, profit: 0 },
      boundary: { tier: 'major', rule: 'monetary > 19000.00 CNY and monetary <= 58900.00 CNY' },
      headroom: { toNextTierUp: 5_890_001 - 2_500_000, toDowngrade: 2_500_000 - 1_805_001, averageDailyBalanceToNextTierUp: null, averageDailyBalanceToDowngrade: null },
    });
  });

  it('keeps seq and tierSince when nothing changes, but stores a new pending downgrade', () => {
    const state: CustomerTierState = { tier: 'vip', tierSince: 5, pendingDowngradeSince: null, seq: 3 };
    const now = 1000 * DAY;
    const after = { monetary: 5_000_000, frequency: 4, recencyMs: DAY, lastPurchaseAt: now - DAY };
    const outcome = decideTierChange({ policy: pyramid, customerId: 'c-2', state, before: after, after, now, cause: 'REFUND', transactionId: 'r-1' });
    expect(outcome.change).toBeNull();
    expect(outcome.state).toEqual({ tier: 'vip', tierSince: 5, pendingDowngradeSince: now, seq: 3 });
  });

  it('drops the transaction id on TIME changes and numbers events per customer', () => {
    const state: CustomerTierState = { tier: 'small', tierSince: 0, pendingDowngradeSince: null, seq: 7 };
    const now = 1000 * DAY;
    const after = { monetary: 100, frequency: 1, recencyMs: 180 * DAY, lastPurchaseAt: now - 180 * DAY };
    const outcome = decideTierChange({ policy: pyramid, customerId: 'c-3', state, before: after, after, now, cause: 'TIME', transactionId: 'ignored' });
    expect(outcome.change).toMatchObject({ eventId: 'c-3:8', previousTier: 'small', newTier: 'inactive', direction: 'DOWN', transactionId: null });
    expect(outcome.change?.boundary).toEqual({ tier: 'inactive', rule: 'inactive: no purchase for 180d' });
    expect(outcome.change?.headroom).toEqual({ toNextTierUp: null, toDowngrade: null, averageDailyBalanceToNextTierUp: null, averageDailyBalanceToDowngrade: null });
  });

  // A whole customer life on the shipped default policy, driven only by due times (as the
  // sweeper would): each timer evaluates at its due time and reschedules.
  it('walks a vip through grace, inactivity and nothing further, firing only at due times', () => {
    const t0 = 1000 * DAY;
    const buckets = bucketsOf([1000, 6_000_000, 1]);
    const lastPurchaseAt = t0;
    let state = fresh;
    const changes: string[] = [];
    const apply = (now: number, cause: 'TRANSACTION' | 'REFUND' | 'TIME', transactionId: string | null, before = rollingAggregates(pyramid, buckets, lastPurchaseAt, now)) => {
      const after = rollingAggregates(pyramid, buckets, lastPurchaseAt, now);
      const outcome = decideTierChange({ policy: pyramid, customerId: 'c', state, before, after, now, cause, transactionId });
      state = outcome.state;
      if (outcome.change) changes.push(`${(now - t0) / DAY}d ${outcome.change.cause} ${outcome.change.previousTier}->${outcome.change.newTier}`);
    };
    const fireTimersBetween = (from: number, limit: number) => {
      for (let due = nextDueTime(pyramid, { buckets, lastPurchaseAt, pendingDowngradeSince: state.pendingDowngradeSince }, from); due !== null && due <= limit; ) {
        apply(due, 'TIME', null);
        due = nextDueTime(pyramid, { buckets, lastPurchaseAt, pendingDowngradeSince: state.pendingDowngradeSince }, due);
      }
    };

    apply(t0, 'TRANSACTION', 'buy-1');
    // A refund of 10 000 on day 10: 50 000 is below the relaxed vip bound (55 955), grace starts.
    const before = rollingAggregates(pyramid, buckets, lastPurchaseAt, t0 + 10 * DAY);
    buckets.push({ index: 1010, monetary: -1_000_000, frequency: 0 });
    apply(t0 + 10 * DAY, 'REFUND', 'refund-1', before);
    expect(state).toMatchObject({ tier: 'vip', pendingDowngradeSince: t0 + 10 * DAY });
    fireTimersBetween(t0 + 10 * DAY, t0 + 400 * DAY);
    expect(changes).toEqual(['0d TRANSACTION null->vip', '17d TIME vip->major', '180d TIME major->inactive']);
    expect(state.seq).toBe(3);
  });
});
