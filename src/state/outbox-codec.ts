import type { ChangeCause, TierChange } from '../engine/change.js';
import type { ChangeDirection } from '../engine/evaluate.js';
import type { Signal, SignalType } from '../engine/signals.js';
import { PyramidError } from '../errors.js';

/**
 * One outbox entry: the stream id (the relay's cursor) and either a tier change or a signal. Both
 * kinds share the partition's one outbox and its one sequence, so the relay publishes them in the
 * same transactions under the same progress mark.
 */
export type OutboxEntry = { id: string; change: TierChange; signal?: undefined } | { id: string; signal: Signal; change?: undefined };

/** The field of an outbox stream entry that holds a tier change. */
export const OUTBOX_FIELD = 'c';

/** The field of an outbox stream entry that holds a signal. */
export const OUTBOX_SIGNAL_FIELD = 's';

/** The stream field and the encoded record of an entry, as the commit script appends them. */
export function encodeOutboxEntry(entry: OutboxEntry): [field: string, record: string] {
  return entry.signal !== undefined ? [OUTBOX_SIGNAL_FIELD, encodeOutboxSignal(entry.signal)] : [OUTBOX_FIELD, encodeOutboxRecord(entry.change)];
}

/**
 * A signal in field `s`, positional like a change, format 1: [1, signalId, customerId, type,
 * tier, targetTier, cause, transactionId, effectiveAt, policyVersion, rfm.monetary,
 * rfm.frequency, rfm.recencyMs, rfm.lastPurchaseAt, spendToUpgrade, takesEffectAt, spendToStay]
 */
export function encodeOutboxSignal(s: Signal): string {
  return JSON.stringify([
    1,
    s.signalId,
    s.customerId,
    s.type,
    s.tier,
    s.targetTier,
    s.cause,
    s.transactionId,
    s.effectiveAt,
    s.policyVersion,
    s.rfm.monetary,
    s.rfm.frequency,
    s.rfm.recencyMs,
    s.rfm.lastPurchaseAt,
    s.spendToUpgrade,
    s.takesEffectAt,
    s.spendToStay,
  ]);
}

/**
 * The outbox stream stores each change as one field `c`: a positional JSON array whose first
 * element is the format version (1). Positional keeps an entry near 170 bytes until the relay
 * trims it; this is the one place that knows the positions.
 *
 * Format 1: [1, eventId, customerId, previousTier, newTier, direction, cause, transactionId,
 *   effectiveAt, policyVersion, before.monetary, before.frequency, before.recencyMs,
 *   before.lastPurchaseAt, after.monetary, after.frequency, after.recencyMs, after.lastPurchaseAt,
 *   boundary.tier, boundary.rule, headroom.toNextTierUp, headroom.toDowngrade,
 *   previousPolicyVersion, before.averageDailyBalance, before.profit, after.averageDailyBalance,
 *   after.profit, headroom.averageDailyBalanceToNextTierUp, headroom.averageDailyBalanceToDowngrade]
 * followed, for a change under a policy with relative tiers, by one more element:
 *   [relative.epoch, relative.previousEpoch, relative.metric, relative.shareBps,
 *    relative.valueBefore, relative.valueAfter]
 * Positions 22 to 28 were added after the first release of format 1: an entry of 22 elements
 * (written before them, still waiting in an outbox) reads null, 0 and null there.
 */
export function encodeOutboxRecord(c: TierChange): string {
  const fields: unknown[] = [
    1,
    c.eventId,
    c.customerId,
    c.previousTier,
    c.newTier,
    c.direction,
    c.cause,
    c.transactionId,
    c.effectiveAt,
    c.policyVersion,
    c.before.monetary,
    c.before.frequency,
    c.before.recencyMs,
    c.before.lastPurchaseAt,
    c.after.monetary,
    c.after.frequency,
    c.after.recencyMs,
    c.after.lastPurchaseAt,
    c.boundary.tier,
    c.boundary.rule,
    c.headroom.toNextTierUp,
    c.headroom.toDowngrade,
    c.previousPolicyVersion,
    c.before.averageDailyBalance ?? 0,
    c.before.profit ?? 0,
    c.after.averageDailyBalance ?? 0,
    c.after.profit ?? 0,
    c.headroom.averageDailyBalanceToNextTierUp ?? null,
    c.headroom.averageDailyBalanceToDowngrade ?? null,
  ];
  const r = c.relative;
  if (r !== undefined) fields.push([r.epoch, r.previousEpoch, r.metric, r.shareBps, r.valueBefore, r.valueAfter]);
  return JSON.stringify(fields);
}

/** The stream id of outbox sequence number `seq`: explicit ids keep a replay's ids identical. */
export function outboxId(seq: number): string {
  return `0-${seq}`;
}

/** The outbox sequence number of stream id `0-<n>`. */
export function outboxSeqOf(id: string): number {
  const match = /^0-(\d+)$/.exec(id);
  if (match === null) throw new PyramidError('STATE_SCRIPT_FAILED', `not an outbox id: ${id}`);
  return Number(match[1]);
}

function parseEntry(id: string, text: string | undefined): unknown {
  try {
    return text === undefined ? undefined : JSON.parse(text);
  } catch (err) {
    throw new PyramidError('STATE_SCRIPT_FAILED', `outbox entry ${id} is not valid JSON`, { cause: err });
  }
}

/** The value of field `name` of a stream entry's field/value list. */
function fieldOf(flat: string[], name: string): string | undefined {
  const at = flat.indexOf(name);
  return at >= 0 && at % 2 === 0 ? flat[at + 1] : undefined;
}

function decodeSignal(id: string, text: string): OutboxEntry {
  const r = parseEntry(id, text);
  if (!Array.isArray(r) || r[0] !== 1 || r.length !== 17) {
    throw new PyramidError('STATE_SCRIPT_FAILED', `outbox entry ${id} is not a format 1 signal`);
  }
  const v = r as [1, string, string, SignalType, string, string | null, ChangeCause, string | null, number, string, number, number, number | null, number | null, number | null, number | null, number | null];
  return {
    id,
    signal: {
      signalId: v[1],
      customerId: v[2],
      type: v[3],
      tier: v[4],
      targetTier: v[5],
      cause: v[6],
      transactionId: v[7],
      effectiveAt: v[8],
      policyVersion: v[9],
      rfm: { monetary: v[10], frequency: v[11], recencyMs: v[12], lastPurchaseAt: v[13] },
      spendToUpgrade: v[14],
      takesEffectAt: v[15],
      spendToStay: v[16],
    },
  };
}

/** An outbox entry read back from the stream (`flat`: its field/value list): a change (`c`) or a signal (`s`). */
export function decodeOutboxEntry(id: string, flat: string[]): OutboxEntry {
  const signal = fieldOf(flat, OUTBOX_SIGNAL_FIELD);
  if (signal !== undefined) return decodeSignal(id, signal);
  const r = parseEntry(id, fieldOf(flat, OUTBOX_FIELD));
  if (!Array.isArray(r) || r[0] !== 1 || (r.length !== 22 && r.length !== 29 && r.length !== 30)) {
    throw new PyramidError('STATE_SCRIPT_FAILED', `outbox entry ${id} is not a format 1 tier change`);
  }
  const v = r as [1, string, string, string | null, string, ChangeDirection, ChangeCause, string | null, number, string, number, number, number | null, number | null, number, number, number | null, number | null, string, string, number | null, number | null, (string | null)?, number?, number?, number?, number?, (number | null)?, (number | null)?];
  const change: TierChange = {
    eventId: v[1],
    customerId: v[2],
    previousTier: v[3],
    newTier: v[4],
    direction: v[5],
    cause: v[6],
    transactionId: v[7],
    effectiveAt: v[8],
    policyVersion: v[9],
    previousPolicyVersion: v[22] ?? null,
    before: { monetary: v[10], frequency: v[11], recencyMs: v[12], lastPurchaseAt: v[13], averageDailyBalance: v[23] ?? 0, profit: v[24] ?? 0 },
    after: { monetary: v[14], frequency: v[15], recencyMs: v[16], lastPurchaseAt: v[17], averageDailyBalance: v[25] ?? 0, profit: v[26] ?? 0 },
    boundary: { tier: v[18], rule: v[19] },
    headroom: { toNextTierUp: v[20], toDowngrade: v[21], averageDailyBalanceToNextTierUp: v[27] ?? null, averageDailyBalanceToDowngrade: v[28] ?? null },
  };
  const relative = r[29] as [number | null, number | null, 'monetary' | 'frequency' | null, number | null, number | null, number | null] | undefined;
  if (relative !== undefined) {
    const [epoch, previousEpoch, metric, shareBps, valueBefore, valueAfter] = relative;
    change.relative = { epoch, previousEpoch, metric, shareBps, valueBefore, valueAfter };
  }
  return { id, change };
}

/** The stream id right after `id` (`ms-seq`): XTRIM MINID keeps ids >= its argument. */
export function successorId(id: string): string {
  const [ms, seq] = id.split('-');
  if (ms === undefined || seq === undefined || !/^\d+$/.test(ms) || !/^\d+$/.test(seq)) {
    throw new PyramidError('STATE_SCRIPT_FAILED', `not a stream id: ${id}`);
  }
  return `${ms}-${BigInt(seq) + 1n}`;
}
