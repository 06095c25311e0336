import { describe, expect, it } from 'vitest';
import { isPyramidError } from '../../src/errors.js';
import avro from 'avsc';
import type { Signal } from '../../src/engine/signals.js';
import { loadContract } from '../../src/pipeline/decode-schemas.js';
import { decodeOutboxEntry, encodeOutboxEntry, encodeOutboxRecord, successorId } from '../../src/state/outbox-codec.js';

describe('outbox codec', () => {
  it('decodes a format 1 record with nulls', () => {
    const raw = JSON.stringify([1, 'c:1', 'c', null, 'vip', 'NEW', 'TRANSACTION', 't1', 1000, 'v1', 0, 0, null, null, 1500, 1, 0, 1000, 'vip', 'monetary >= 10.00 CNY', null, 500]);
    const { id, change } = decodeOutboxEntry('0-1', ['c', raw]);
    expect(id).toBe('0-1');
    expect(change).toMatchObject({
      eventId: 'c:1',
      previousTier: null,
      before: { monetary: 0, frequency: 0, recencyMs: null, lastPurchaseAt: null },
      after: { monetary: 1500, frequency: 1, recencyMs: 0, lastPurchaseAt: 1000 },
      headroom: { toNextTierUp: null, toDowngrade: 500 },
    });
  });

  it('round-trips the previous policy version of a POLICY change, and reads an entry written before it as null', () => {
    const raw = [1, 'c:2', 'c', 'small', 'vip', 'UP', 'POLICY', null, 2000, 'v2', 5, 1, 0, 2000, 5, 1, 0, 2000, 'vip', 'monetary >= 1.00 CNY', null, 4];
    const written = encodeOutboxRecord({ ...decodeOutboxEntry('0-1', ['c', JSON.stringify(raw)]).change!, previousPolicyVersion: 'v1' });
    expect(decodeOutboxEntry('0-1', ['c', written]).change).toMatchObject({ cause: 'POLICY', policyVersion: 'v2', previousPolicyVersion: 'v1' });
    expect(decodeOutboxEntry('0-1', ['c', JSON.stringify(raw)]).change?.previousPolicyVersion).toBeNull();
    expect(() => decodeOutboxEntry('0-1', ['c', JSON.stringify([...raw, 'v1', 'extra'])])).toThrow(/not a format 1 tier change/);
  });

  it('reads an entry written before balances and profit (22 positions) with 0 and null for them', () => {
    const raw = JSON.stringify([1, 'c:1', 'c', null, 'vip', 'NEW', 'TRANSACTION', 't1', 1000, 'v1', 0, 0, null, null, 1500, 1, 0, 1000, 'vip', 'monetary >= 10.00 CNY', null, 500]);
    const change = decodeOutboxEntry('0-1', ['c', raw]).change!;
    expect(change.after).toEqual({ monetary: 1500, frequency: 1, recencyMs: 0, lastPurchaseAt: 1000, averageDailyBalance: 0, profit: 0 });
    expect(change.headroom).toEqual({ toNextTierUp: null, toDowngrade: 500, averageDailyBalanceToNextTierUp: null, averageDailyBalanceToDowngrade: null });
  });

  it('round-trips balances and profit in the snapshots and the balance headroom', () => {
    const change = decodeOutboxEntry('0-1', ['c', JSON.stringify([1, 'c:1', 'c', null, 'vip', 'NEW', 'BALANCE', null, 1000, 'v1', 0, 0, null, null, 0, 0, null, null, 'vip', 'averageDailyBalance >= 10.00 CNY', null, null, null, 5, -7, 2000, 9, 300, 1700])]).change!;
    const again = decodeOutboxEntry('0-1', ['c', encodeOutboxRecord(change)]).change!;
    expect(again).toEqual(change);
    expect(again.after).toMatchObject({ averageDailyBalance: 2000, profit: 9 });
    expect(again.headroom).toMatchObject({ averageDailyBalanceToNextTierUp: 300, averageDailyBalanceToDowngrade: 1700 });
  });

  it('stores a signal in its own field and reads it back whole, next to changes in one stream', () => {
    const signal: Signal = {
      signalId: 'c:s:3',
      customerId: 'c',
      type: 'DOWNGRADE_PENDING',
      tier: 'vip',
      targetTier: 'major',
      cause: 'REFUND',
      transactionId: 't9',
      effectiveAt: 2000,
      policyVersion: 'v1',
      rfm: { monetary: 900, frequency: 1, recencyMs: 5, lastPurchaseAt: 1995 },
      spendToUpgrade: null,
      takesEffectAt: 2030,
      spendToStay: 100,
    };
    const [field, record] = encodeOutboxEntry({ id: '0-4', signal });
    expect(field).toBe('s');
    const back = decodeOutboxEntry('0-4', [field, record]);
    expect(back.signal).toEqual(signal);
    expect(back.change).toBeUndefined();
    expect(() => decodeOutboxEntry('0-5', ['s', '[1, "too short"]'])).toThrow(/not a format 1 signal/);
  });

  it('round-trips the relative block of a BOUNDARY change, and leaves it out of an absolute one', () => {
    const raw = JSON.stringify([1, 'c:2', 'c', 'major', 'vip', 'UP', 'BOUNDARY', null, 2000, 'v1', 9, 1, 5, 1995, 9, 1, 5, 1995, 'vip', 'monetary in top 1%', null, 3, null, 0, 0, 0, 0, null, null]);
    const absolute = decodeOutboxEntry('0-1', ['c', raw]).change!;
    expect(absolute.relative).toBeUndefined();
    expect(encodeOutboxRecord(absolute)).toBe(raw);
    const relative = { epoch: 7, previousEpoch: 6, metric: 'monetary' as const, shareBps: 100, valueBefore: 12, valueAfter: 9 };
    const text = encodeOutboxRecord({ ...absolute, relative });
    expect(decodeOutboxEntry('0-1', ['c', text]).change).toEqual({ ...absolute, relative });
    const avroType = avro.Type.forSchema(JSON.parse(loadContract('tier-change-v2')) as avro.Schema);
    expect(avroType.fromBuffer(avroType.toBuffer({ ...absolute, relative }))).toMatchObject({ relative });
    expect(avroType.fromBuffer(avroType.toBuffer(absolute))).toMatchObject({ relative: null });
  });

  it('rejects an entry of an unknown format', () => {
    expect(() => decodeOutboxEntry('0-2', ['c', '[2]'])).toThrow();
    const err = (() => {
      try {
        decodeOutboxEntry('0-3', ['x', '{}']);
      } catch (e) {
        return e;
      }
    })();
    expect(isPyramidError(err, 'STATE_SCRIPT_FAILED')).toBe(true);
  });

  it('computes the id after an acknowledged one, beyond 2^53', () => {
    expect(successorId('0-9')).toBe('0-10');
    expect(successorId('5-18446744073709551614')).toBe('5-18446744073709551615');
    expect(() => successorId('nope')).toThrow();
  });
});
