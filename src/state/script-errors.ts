import { PyramidError } from '../errors.js';
import { META } from './layout.js';

/** What the stored meta said when a commit was refused. */
export interface FenceRefusal {
  /**
   * `lost`: the partition's meta is gone (Redis lost the state); `owner`: another owner claimed
   * the partition; `commit`: the stored commit is not the one this owner last wrote (a commit was
   * lost, e.g. an AOF tail); `format`: written by another layout version; `policy`: the stored
   * state is on another policy than the one the commit was computed on (the partition switched).
   */
  reason: 'lost' | 'owner' | 'commit' | 'format' | 'policy';
  storedCommit: number | null;
}

const FIELD_NAMES: Record<string, string> = {
  [META.formatVersion]: 'format version',
  [META.partitionCount]: 'partition count',
  [META.customerShards]: 'customer sub-hash count',
  [META.policyVersion]: 'policy version',
  [META.policyHash]: 'policy content hash',
};

const LAYOUT_ADVICE: Record<string, string> = {
  [META.formatVersion]: 'this pyramid cannot read it; run the version that wrote it, or rebuild with `pyramid replay` into a fresh key prefix',
  [META.partitionCount]: 'the partition count is part of the state layout: rebuild with `pyramid replay` into a fresh key prefix (PYRAMID_KEY_PREFIX)',
  [META.customerShards]: 'the sub-hash count is part of the state layout: rebuild into a fresh key prefix',
  [META.policyVersion]: 'start the scorers with the policy in force, or rebuild with `pyramid replay` into a fresh key prefix',
  [META.policyHash]: 'the policy file changed without a new version: give it a new version, or restore the file in force',
};

/**
 * The claim script's refusal `{ -1, field, stored }` as a typed error naming the field, what is
 * stored and what to do.
 */
export function layoutMismatch(topic: string, partition: number, field: string, stored: string, expected: string): PyramidError {
  const name = FIELD_NAMES[field] ?? field;
  const storedText = stored === '' ? 'none (a layout this version does not know)' : stored;
  return new PyramidError(
    'STATE_LAYOUT_MISMATCH',
    `partition ${partition} of ${topic}: the stored state has ${name} ${storedText}, this scorer has ${expected}; ${LAYOUT_ADVICE[field] ?? 'use a fresh key prefix'}`,
    { details: { topic, partition, field, stored, expected } },
  );
}

/** The commit script's refusal `{ -1, fv, owner, commit, policy hash }` as a typed, non-retriable error. */
export function fenceRefusal(
  topic: string,
  partition: number,
  reply: unknown[],
  expected: { formatVersion: string; owner: string; commit: number; policyHash: string },
): PyramidError {
  const [, fv = '', owner = '', commit = '', policyHash = ''] = reply.map(String);
  let refusal: FenceRefusal;
  if (fv === '' && owner === '') refusal = { reason: 'lost', storedCommit: null };
  else if (fv !== expected.formatVersion) refusal = { reason: 'format', storedCommit: null };
  else if (owner !== expected.owner) refusal = { reason: 'owner', storedCommit: Number(commit) };
  else if (commit !== String(expected.commit)) refusal = { reason: 'commit', storedCommit: Number(commit) };
  else refusal = { reason: 'policy', storedCommit: Number(commit) };
  const what = {
    lost: 'its state is gone from Redis',
    owner: 'another owner has claimed it',
    commit: `its stored commit is ${commit}, not the ${expected.commit} this owner last wrote (a commit was lost)`,
    format: `its state is of format version ${fv}`,
    policy: `its state is on policy content hash ${policyHash}, this commit was computed on ${expected.policyHash}`,
  }[refusal.reason];
  return new PyramidError('STATE_FENCED', `commit to partition ${partition} of ${topic} refused: ${what}; nothing was written`, {
    details: { topic, partition, ...refusal },
  });
}

/**
 * A failed call to Redis as a PyramidError: a reply error (the script raised, wrong key type, a
 * cluster refusing cross-slot keys) is a bug or misconfiguration and not retriable; anything else
 * (connection refused, timeout, failover) is REDIS_UNAVAILABLE and worth retrying.
 */
export function toStateError(operation: string, err: unknown): PyramidError {
  if (err instanceof PyramidError) return err;
  if (err instanceof Error && err.name === 'ReplyError') {
    return new PyramidError('STATE_SCRIPT_FAILED', `${operation} failed: ${err.message}`, { cause: err });
  }
  return new PyramidError('REDIS_UNAVAILABLE', `${operation} could not reach Redis`, { retriable: true, cause: err });
}

/**
 * The publish script's refusal (publishBoundaries-3.lua) as a typed, non-retriable error:
 * `{ -1, lease }` the lease is not held with the caller's token (a deposed coordinator),
 * `{ -2, latest }` the epoch is not the one after the latest (another coordinator published it).
 */
export function publishRefusal(reply: unknown[], epoch: number, token: number): PyramidError {
  if (reply[0] === -1) {
    return new PyramidError('STATE_FENCED', `epoch ${epoch} of relative boundaries not published: the coordinator lease is no longer held with token ${token}`, {
      details: { reason: 'lease', epoch },
    });
  }
  return new PyramidError('STATE_FENCED', `epoch ${epoch} of relative boundaries not published: the latest epoch is ${String(reply[1])}`, {
    details: { reason: 'epoch', epoch, latest: Number(reply[1]) },
  });
}
