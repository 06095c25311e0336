import type { Cluster, Redis } from 'ioredis';
import { PyramidError } from '../errors.js';
import { GROUP_POLICY, groupPolicyChannel, groupPolicyKey } from './layout.js';
import { toStateError } from './script-errors.js';
import { loadScript, runScript } from './scripts.js';

/** The policy in force for every partition under a key prefix, as `pyramid policy apply` stored it. */
export interface GroupPolicy {
  version: string;
  /** Content hash of the compiled policy. */
  hash: string;
  /** The policy file's text. */
  content: string;
  /** Where it came from (the path given to `apply`). */
  source: string;
  appliedAt: number;
}

/** What {@link storeGroupPolicy} did. */
export type GroupPolicyApplied = { outcome: 'applied'; previousVersion: string | null } | { outcome: 'unchanged' };

const APPLY = loadScript('applyPolicy-1.lua');

/** The policy stored for `prefix`; null when none was ever applied or recorded. */
export async function readGroupPolicy(redis: Redis | Cluster, prefix: string): Promise<GroupPolicy | null> {
  let fields: Record<string, string>;
  try {
    fields = await redis.hgetall(groupPolicyKey(prefix));
  } catch (err) {
    throw toStateError('readGroupPolicy', err);
  }
  const version = fields[GROUP_POLICY.version];
  if (version === undefined) return null;
  return {
    version,
    hash: fields[GROUP_POLICY.hash] ?? '',
    content: fields[GROUP_POLICY.content] ?? '',
    source: fields[GROUP_POLICY.source] ?? '',
    appliedAt: Number(fields[GROUP_POLICY.appliedAt] ?? 0),
  };
}

/**
 * Stores `policy` as the one in force for `prefix`, atomically: a new version replaces the stored
 * one (and is announced on {@link groupPolicyChannel}, so running scorers read it at once; they
 * poll it too); the same version with the same content changes nothing.
 *
 * @throws PyramidError POLICY_INVALID when the version in force is stored with other content
 *   (a policy changed in place: it needs a new version), nothing written.
 */
export async function storeGroupPolicy(redis: Redis | Cluster, prefix: string, policy: Omit<GroupPolicy, 'appliedAt'>, appliedAt: number): Promise<GroupPolicyApplied> {
  let reply: unknown;
  try {
    reply = await runScript(redis, APPLY, [groupPolicyKey(prefix)], [policy.version, policy.hash, policy.content, policy.source, appliedAt]);
  } catch (err) {
    throw toStateError('applyPolicy', err);
  }
  if (!Array.isArray(reply)) throw new PyramidError('STATE_SCRIPT_FAILED', `applyPolicy returned ${typeof reply}`);
  if (reply[0] === 1) return { outcome: 'unchanged' };
  if (reply[0] === -1) throw changedInPlace(policy.source, policy.version, String(reply[1]), policy.hash);
  const previous = String(reply[1] ?? '');
  try {
    await redis.publish(groupPolicyChannel(prefix), policy.version);
  } catch {
    // Only a hint: the scorers poll the stored policy.
  }
  return { outcome: 'applied', previousVersion: previous === '' ? null : previous };
}

/** The refusal of a policy whose rules changed under a version already in force. */
export function changedInPlace(source: string, version: string, storedHash: string, hash: string): PyramidError {
  return new PyramidError(
    'POLICY_INVALID',
    `policy ${source} changes the rules of version ${version}, which is in force with other content (content hash ${storedHash}, the file's ${hash}): give the changed policy a new version, then run pyramid policy apply`,
    { details: { version, storedHash, hash } },
  );
}
