import type { ChangeCause, TierChange } from '../engine/change.js';
import type { ChangeDirection } from '../engine/evaluate.js';
import { PyramidError } from '../errors.js';

/** One outbox entry: the stream id (the relay's cursor) and the change. */
export interface OutboxEntry {
  id: string;
  change: TierChange;
}

/** The field of an outbox stream entry that holds the record. */
export const OUTBOX_FIELD = 'c';

/**
 * The outbox stream stores each change as one field `c`: a positional JSON array whose first
 * element is the format version (1). Positional keeps an entry near 170 bytes until the relay
 * trims it; this is the one place that knows the positions.
 *
 * Format 1: [1, eventId, customerId, previousTier, newTier, direction, cause, transactionId,
 *   effectiveAt, policyVersion, before.monetary, before.frequency, before.recencyMs,
 *   before.lastPurchaseAt, after.monetary, after.frequency, after.recencyMs, after.lastPurchaseAt,
 *   boundary.tier, boundary.rule, headroom.toNextTierUp, headroom.toDowngrade]
 * followed, for a change under a policy with relative tiers, by one more element:
 *   [relative.epoch, relative.previousEpoch, relative.metric, relative.shareBps,
 *    relative.valueBefore, relative.valueAfter]
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

/** An outbox entry read back from the stream (`flat`: its field/value list). */
export function decodeOutboxEntry(id: string, flat: string[]): OutboxEntry {
  const at = flat.indexOf(OUTBOX_FIELD);
  const text = at >= 0 && at % 2 === 0 ? flat[at + 1] : undefined;
  let r: unknown;
  try {
    r = text === undefined ? undefined : JSON.parse(text);
  } catch (err) {
    throw new PyramidError('STATE_SCRIPT_FAILED', `outbox entry ${id} is not valid JSON`, { cause: err });
  }
  if (!Array.isArray(r) || r[0] !== 1 || (r.length !== 22 && r.length !== 23)) {
    throw new PyramidError('STATE_SCRIPT_FAILED', `outbox entry ${id} is not a format 1 tier change`);
  }
  const v = r as [1, string, string, string | null, string, ChangeDirection, ChangeCause, string | null, number, string, number, number, number | null, number | null, number, number, number | null, number | null, string, string, number | null, number | null];
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
    before: { monetary: v[10], frequency: v[11], recencyMs: v[12], lastPurchaseAt: v[13] },
    after: { monetary: v[14], frequency: v[15], recencyMs: v[16], lastPurchaseAt: v[17] },
    boundary: { tier: v[18], rule: v[19] },
    headroom: { toNextTierUp: v[20], toDowngrade: v[21] },
  };
  const relative = r[22] as [number | null, number | null, 'monetary' | 'frequency' | null, number | null, number | null, number | null] | undefined;
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
