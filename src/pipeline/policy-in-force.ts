import type { Cluster, Redis } from 'ioredis';
import { PyramidError } from '../errors.js';
import { changedInPlace, readGroupPolicy, storeGroupPolicy } from '../state/group-policy.js';

/**
 * At start-up: the scorer's policy file must be the policy in force for its key prefix, so two
 * policies are never mixed. With none stored yet (state from before `pyramid policy apply`, or a
 * fresh prefix) the file's policy is recorded as the one in force.
 *
 * @throws PyramidError POLICY_INVALID saying which version is in force and what to run, when the
 *   file is another version, or the same version with other rules.
 */
export async function checkPolicyInForce(redis: Redis | Cluster, prefix: string, policy: { version: string; hash: string; content: string; source: string }): Promise<void> {
  const stored = await readGroupPolicy(redis, prefix);
  if (stored === null) {
    await storeGroupPolicy(redis, prefix, policy, Date.now());
    return;
  }
  if (stored.version === policy.version) {
    if (stored.hash !== policy.hash) throw changedInPlace(policy.source, policy.version, stored.hash, policy.hash);
    return;
  }
  throw new PyramidError(
    'POLICY_INVALID',
    `the policy in force for key prefix ${prefix} is version ${stored.version} (applied from ${stored.source} at ${new Date(stored.appliedAt).toISOString()}); this scorer's policy ${policy.source} (PYRAMID_POLICY_FILE) is version ${policy.version}. Start the scorer with PYRAMID_POLICY_FILE set to the ${stored.version} file, or run pyramid policy apply ${policy.source} to make ${policy.version} the policy in force`,
    { details: { inForce: stored.version, file: policy.version } },
  );
}
