import { PyramidError } from '../errors.js';

/**
 * The negative codes the partition scripts return as the first element of their reply, mapped in
 * this one place to typed errors. A script never raises for an expected condition: a raised Lua
 * error would be indistinguishable from a bug.
 */
const SCRIPT_ERRORS: Record<number, (stored: string) => PyramidError> = {
  [-1]: (stored) =>
    new PyramidError('STATE_LAYOUT_MISMATCH', `partition state was written by policy version ${stored}; re-evaluate or use a fresh key prefix`, {
      details: { storedPolicyVersion: stored },
    }),
  [-2]: (stored) =>
    new PyramidError('STATE_LAYOUT_MISMATCH', `partition state was written for ${stored} partitions; the partition count is part of the state layout and needs a migration`, {
      details: { storedPartitionCount: stored },
    }),
  [-3]: (stored) =>
    new PyramidError(
      'STATE_LAYOUT_MISMATCH',
      `partition state was written with ${stored} customer sub-hashes (0: one hash per customer, the layout before sub-hashes); the count is part of the state layout and needs a migration`,
      { details: { storedCustomerShards: stored } },
    ),
  [-4]: (stored) =>
    new PyramidError('STATE_WATERMARK_BEHIND', `partition watermark is at offset ${stored}, behind the offset this call required; nothing was applied`, {
      details: { storedWatermark: stored },
    }),
};

/** Throws the typed error for a negative script reply; returns the reply as numbers otherwise. */
export function checkScriptReply(script: string, reply: unknown): number[] {
  if (!Array.isArray(reply)) throw new PyramidError('STATE_SCRIPT_FAILED', `${script} returned ${typeof reply}`);
  const first = reply[0];
  if (typeof first === 'number' && first < 0) {
    const make = SCRIPT_ERRORS[first];
    if (make === undefined) throw new PyramidError('STATE_SCRIPT_FAILED', `${script} returned unknown code ${first}`);
    throw make(String(reply[1]));
  }
  return reply.map((v) => Number(v));
}

/**
 * A failed call to Redis as a PyramidError: a reply error (the script raised, wrong key type, a
 * cluster refusing cross-slot keys) is a bug or misconfiguration and not retriable; anything else
 * (connection refused, timeout, failover) is REDIS_UNAVAILABLE and worth retrying.
 */
export function toStateError(script: string, err: unknown): PyramidError {
  if (err instanceof PyramidError) return err;
  if (err instanceof Error && err.name === 'ReplyError') {
    return new PyramidError('STATE_SCRIPT_FAILED', `${script} failed: ${err.message}`, { cause: err });
  }
  return new PyramidError('REDIS_UNAVAILABLE', `${script} could not reach Redis`, { retriable: true, cause: err });
}
