import { describe, expect, it } from 'vitest';
import type { Signal } from '../../src/engine/signals.js';
import type { EngineRecord } from '../../src/engine/types.js';
import type { SignalSettings } from '../../src/policy/types.js';
import { testPolicy } from '../state/fixtures.js';
import { MemoryPartition } from './memory-partition.js';

// testPolicy: vip monetary >= 1000; major > 400 and frequency >= 2; medium > 100 and recency <= 50;
// small < 5000; window 100 in buckets of 10.
const SIGNALS: SignalSettings = { nearUpgrade: { within: { amountMinor: 150 }, cooldownMs: 40 }, downgradePending: true };
const policy = testPolicy({ version: 't-sig', hysteresis: { downgradeGraceMs: 30, downgradeMarginBps: 0 }, signals: SIGNALS });

let offset = 0;
function tx(customerId: string, eventTime: number, amountMinor: number, kind: EngineRecord['kind'] = 'purchase'): EngineRecord {
  offset += 1;
  return { offset, transactionId: `t${offset}`, customerId, kind, amountMinor, eventTime };
}

const brief = (signals: readonly Signal[]) =>
  signals.map(({ signalId, type, cause, effectiveAt, tier, targetTier, spendToUpgrade, takesEffectAt, spendToStay }) => ({ signalId, type, cause, effectiveAt, tier, targetTier, spendToUpgrade, takesEffectAt, spendToStay }));

describe('signals', () => {
  it('NEAR_UPGRADE once per cooldown while near, reminded exactly when the cooldown ends; DOWNGRADE_PENDING when a grace starts', () => {
    const partition = new MemoryPartition(policy, 'event');
    partition.apply([tx('c', 1000, 300), tx('c', 1010, 20)]);
    // Far later: every timer up to it fires, each at its own due time.
    partition.apply([tx('z', 2000, 1)]);
    const ofC = partition.signals.filter((s) => s.customerId === 'c');
    expect(brief(ofC.filter((s) => s.effectiveAt < 1100))).toEqual([
      // 300 of major's 401 threshold: 101 missing, within 150.
      { signalId: 'c:s:1', type: 'NEAR_UPGRADE', cause: 'TRANSACTION', effectiveAt: 1000, tier: 'medium', targetTier: 'major', spendToUpgrade: 101, takesEffectAt: null, spendToStay: null },
      // 1010 is inside the cooldown: nothing. Still near when it ends at 1040: reminded then.
      { signalId: 'c:s:2', type: 'NEAR_UPGRADE', cause: 'TIME', effectiveAt: 1040, tier: 'medium', targetTier: 'major', spendToUpgrade: 81, takesEffectAt: null, spendToStay: null },
      // Recency passes medium's 50 at 1061: the downgrade to small waits out the grace of 30.
      // Spend is not what medium lacks (recency is), so nothing to spend: 0.
      { signalId: 'c:s:3', type: 'DOWNGRADE_PENDING', cause: 'TIME', effectiveAt: 1061, tier: 'medium', targetTier: 'small', spendToUpgrade: null, takesEffectAt: 1091, spendToStay: 0 },
      { signalId: 'c:s:4', type: 'NEAR_UPGRADE', cause: 'TIME', effectiveAt: 1080, tier: 'medium', targetTier: 'major', spendToUpgrade: 81, takesEffectAt: null, spendToStay: null },
    ]);
    // The downgrade took effect at 1091 as announced. In small, spend meets medium's threshold
    // (recency is what fails): not near, until the spend rolls out of the window (1100, 1110) and
    // 101 are missing again, within 150: then once per cooldown, from the cooldown's end at 1120,
    // until the customer turns inactive (last purchase 1010 + 300).
    expect(partition.changes.filter((c) => c.customerId === 'c').map((c) => [c.newTier, c.effectiveAt])).toEqual([['medium', 1000], ['small', 1091], ['inactive', 1310]]);
    expect(ofC.filter((s) => s.effectiveAt >= 1100).map((s) => [s.type, s.tier, s.effectiveAt, s.spendToUpgrade])).toEqual(
      [1120, 1160, 1200, 1240, 1280].map((at) => ['NEAR_UPGRADE', 'small', at, 101]),
    );
    expect(partition.customers.get('c')).toMatchObject({ signalSeq: 9, nearUpgradeAt: 1280 });
    expect(partition.counts.signals).toBe(partition.signals.length);
  });

  it('DOWNGRADE_PENDING says what spend avoids it; spending it cancels the downgrade (DOWNGRADE_CANCELLED)', () => {
    const partition = new MemoryPartition(policy, 'event');
    const first = tx('v', 1000, 1000);
    const refund = tx('v', 1005, 100, 'refund');
    const purchase = tx('v', 1010, 150);
    partition.apply([first, refund, purchase]);
    expect(brief(partition.signals)).toEqual([
      { signalId: 'v:s:1', type: 'DOWNGRADE_PENDING', cause: 'REFUND', effectiveAt: 1005, tier: 'vip', targetTier: 'medium', spendToUpgrade: null, takesEffectAt: 1035, spendToStay: 100 },
      { signalId: 'v:s:2', type: 'DOWNGRADE_CANCELLED', cause: 'TRANSACTION', effectiveAt: 1010, tier: 'vip', targetTier: null, spendToUpgrade: null, takesEffectAt: 1035, spendToStay: null },
    ]);
    expect(partition.signals.map((s) => s.transactionId)).toEqual([refund.transactionId, purchase.transactionId]);
    expect(partition.signals[0]?.rfm).toEqual({ monetary: 900, frequency: 1, recencyMs: 5, lastPurchaseAt: 1000 });
    expect(partition.changes.map((c) => c.newTier)).toEqual(['vip']);
  });

  it('a downgrade that takes effect says so in its tier change, not in a DOWNGRADE_CANCELLED', () => {
    const partition = new MemoryPartition(policy, 'event');
    partition.apply([tx('v', 1000, 1000), tx('v', 1005, 100, 'refund'), tx('z', 1040, 1)]);
    expect(partition.signals.filter((s) => s.customerId === 'v').map((s) => s.type)).toEqual(['DOWNGRADE_PENDING']);
    expect(partition.changes.filter((c) => c.customerId === 'v').map((c) => [c.newTier, c.cause, c.effectiveAt])).toEqual([['vip', 'TRANSACTION', 1000], ['medium', 'TIME', 1035]]);
  });

  it('a share of the threshold: within floor(401 × 30 %) = 120 is near, 131 short is not', () => {
    const share = testPolicy({ version: 't-share', signals: { nearUpgrade: { within: { thresholdBps: 3000 }, cooldownMs: 40 }, downgradePending: false } });
    const partition = new MemoryPartition(share, 'event');
    partition.apply([tx('near', 1000, 281), tx('edge', 1000, 280), tx('far', 1000, 270)]);
    expect(partition.signals.map((s) => [s.customerId, s.spendToUpgrade])).toEqual([['near', 120]]);
  });

  it('a policy without signals emits none and leaves the signal state alone', () => {
    const { signals: _none, ...plain } = policy;
    const partition = new MemoryPartition({ ...plain, version: 't-plain' }, 'event');
    partition.apply([tx('c', 1000, 300), tx('c', 1010, 20), tx('v', 1000, 1000), tx('v', 1005, 100, 'refund'), tx('z', 2000, 1)]);
    expect(partition.signals).toEqual([]);
    expect(partition.counts.signals).toBe(0);
    for (const state of partition.customers.values()) expect(state).toMatchObject({ signalSeq: 0, nearUpgradeAt: null });
  });

  it('replaying the same records gives the same signals, ids included (event clock)', () => {
    const records = [tx('c', 1000, 300), tx('c', 1010, 20), tx('v', 1000, 1000), tx('v', 1005, 100, 'refund'), tx('z', 2000, 1)];
    const once = new MemoryPartition(policy, 'event');
    once.apply(records);
    const split = new MemoryPartition(policy, 'event');
    for (const record of records) split.apply([record]);
    split.apply(records);
    expect(split.signals).toEqual(once.signals);
    expect(once.signals.length).toBeGreaterThan(4);
  });

  it('regression: a NEAR_UPGRADE cooldown timer still pending when the customer has no due time left is cleared, not kept', () => {
    const near = testPolicy({ version: 't-near', signals: { nearUpgrade: { within: { amountMinor: 300 }, cooldownMs: 60 }, downgradePending: false } });
    const partition = new MemoryPartition(near, 'event');
    // A refund alone: small at -1, 102 short of medium: near, reminded at 10060, next due 10120.
    partition.apply([tx('d', 10_000, 1, 'refund'), tx('z', 10_100, 1)]);
    expect(partition.signals.filter((s) => s.customerId === 'd').map((s) => s.effectiveAt)).toEqual([10_000, 10_060]);
    expect(partition.timers.get('d')).toBe(10_120);
    // A purchase older than the inactivity horizon: inactive, nothing left that time could change.
    partition.apply([tx('d', 9_800, 300)]);
    expect(partition.customers.get('d')?.tier).toBe('inactive');
    expect(partition.timers.has('d')).toBe(false);
    expect(partition.customers.get('d')?.timerAt).toBeNull();
  });
});
