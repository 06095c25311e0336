import { PyramidError } from '../errors.js';
import type { CompiledPolicy } from './types.js';

/**
 * Refuses a policy the stored state cannot be switched to in place: the state holds money in minor
 * units of the policy currency and spend in buckets of the policy's bucket length, so a policy with
 * another currency or bucket length would read every stored figure wrongly. Any rule, the window,
 * the inactivity horizon and the hysteresis may change. Relative (share-of-customers) tiers are
 * ranked by a coordinator started with the scorer's policy, so a switch to, from or between
 * policies with relative tiers is not made in place either.
 *
 * @throws PyramidError POLICY_INVALID naming the field, both values and what to do instead.
 */
export function assertSwitchable(from: CompiledPolicy, to: CompiledPolicy, source: string): void {
  const differs = (field: string, was: string, now: string): PyramidError =>
    new PyramidError(
      'POLICY_INVALID',
      `policy ${source}: ${field} is ${now}, the policy in force (${from.version}) has ${was}; the stored state is kept in it, so it cannot be switched in place: rebuild with pyramid replay --prefix <fresh prefix> under the new policy`,
      { details: { field, inForce: was, file: now } },
    );
  if (to.currency !== from.currency) throw differs('currency', from.currency, to.currency);
  if (to.bucketMs !== from.bucketMs) throw differs('bucket', `${from.bucketMs} ms`, `${to.bucketMs} ms`);
  const ranked = (p: CompiledPolicy): string => (p.ranking === undefined ? 'no relative tiers' : 'relative tiers');
  if (from.ranking !== undefined || to.ranking !== undefined) throw differs('ranking (tiers[].relative)', ranked(from), ranked(to));
}
