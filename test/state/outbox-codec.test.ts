import { describe, expect, it } from 'vitest';
import { isPyramidError } from '../../src/errors.js';
import avro from 'avsc';
import { loadContract } from '../../src/pipeline/decode-schemas.js';
import { decodeOutboxEntry, encodeOutboxRecord, successorId } from '../../src/state/outbox-codec.js';

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

  it('round-trips the relative block of a BOUNDARY change, and leaves it out of an absolute one', () => {
    const raw = JSON.stringify([1, 'c:2', 'c', 'major', 'vip', 'UP', 'BOUNDARY', null, 2000, 'v1', 9, 1, 5, 1995, 9, 1, 5, 1995, 'vip', 'monetary in top 1%', null, 3]);
    const absolute = decodeOutboxEntry('0-1', ['c', raw]).change;
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
