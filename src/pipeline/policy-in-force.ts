import type { Cluster, Redis } from 'ioredis';
import { PyramidError } from '../errors.js';
import { changedInPlace, readGroupPolicy, storeGroupPolicy } from '../state/group-policy.js';

/**
 * At start-up: the scorer's policy file must be the policy in force for its key prefix, so two
 * policies are never mixed. With none stored yet (state from before `pyramid policy apply`, or a
 * fresh prefix) the file's policy is recorded as the one in force. A file of another version is
 * refused rather than replaced by the stored policy: the deployment's configuration names the
 * file it runs, and a scorer quietly running something else would hide a stale deployment until
 * the next apply.
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
    `the policy in force for key prefix ${prefix} is version ${stored.version} (applied from ${stored.source} at ${new Date(stored.appliedAt).toISOString()}; running scorers switched to it without a restart); this scorer's policy ${policy.source} (PYRAMID_POLICY_FILE) is version ${policy.version}. Set PYRAMID_POLICY_FILE to the ${stored.version} file (${stored.source}), or run pyramid policy apply ${policy.source} to make ${policy.version} the policy in force again (every running scorer then switches back)`,
    { details: { inForce: stored.version, file: policy.version } },
  );
}
