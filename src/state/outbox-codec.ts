import { PyramidError } from '../errors.js';
import type { RfmSnapshot } from '../policy/aggregates.js';
import type { ChangeCause } from '../policy/change.js';
import type { ChangeDirection } from '../policy/evaluate.js';
import type { OutboxEntry } from './types.js';

/**
 * The outbox stream stores each change as flat fields (`before.monetary`, ...; '' for null) so
 * Redis can share the field names across entries of a stream node. This is the one decoder.
 */
export function decodeOutboxEntry(id: string, flat: string[]): OutboxEntry {
  const f = new Map<string, string>();
  for (let i = 0; i + 1 < flat.length; i += 2) f.set(flat[i] as string, flat[i + 1] as string);
  const str = (name: string): string => {
    const value = f.get(name);
    if (value === undefined) throw new PyramidError('STATE_SCRIPT_FAILED', `outbox entry ${id} lacks ${name}`);
    return value;
  };
  const optStr = (name: string): string | null => (str(name) === '' ? null : str(name));
  const num = (name: string): number => Number(str(name));
  const optNum = (name: string): number | null => (str(name) === '' ? null : Number(str(name)));
  const snapshot = (side: string): RfmSnapshot => ({
    monetary: num(`${side}.monetary`),
    frequency: num(`${side}.frequency`),
    recencyMs: optNum(`${side}.recencyMs`),
    lastPurchaseAt: optNum(`${side}.lastPurchaseAt`),
  });
  return {
    id,
    change: {
      eventId: str('eventId'),
      customerId: str('customerId'),
      previousTier: optStr('previousTier'),
      newTier: str('newTier'),
      direction: str('direction') as ChangeDirection,
      cause: str('cause') as ChangeCause,
      transactionId: optStr('transactionId'),
      effectiveAt: num('effectiveAt'),
      policyVersion: str('policyVersion'),
      before: snapshot('before'),
      after: snapshot('after'),
      boundary: { tier: str('boundary.tier'), rule: str('boundary.rule') },
      headroom: { toNextTierUp: optNum('headroom.toNextTierUp'), toDowngrade: optNum('headroom.toDowngrade') },
    },
  };
}

/** The stream id right after `id` (`ms-seq`): XTRIM MINID keeps ids >= its argument. */
export function successorId(id: string): string {
  const [ms, seq] = id.split('-');
  if (ms === undefined || seq === undefined || !/^\d+$/.test(ms) || !/^\d+$/.test(seq)) {
    throw new PyramidError('STATE_SCRIPT_FAILED', `not a stream id: ${id}`);
  }
  return `${ms}-${BigInt(seq) + 1n}`;
}
