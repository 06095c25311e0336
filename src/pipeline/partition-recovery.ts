import type { Instrumentation } from '../instrumentation.js';
import type { TopicPartition } from '../kafka/types.js';
import type { Logger } from '../logger.js';
import type { OwnedPartition } from './owned-partition.js';
import type { PartitionPositions } from './partition-positions.js';
import { retrying, type RetryOptions } from './retry.js';

/** What re-reading a partition after a refused or failed commit needs. */
export interface RecoveryDeps {
  positions: PartitionPositions;
  /** Moves the consumer's fetch position of the partition. */
  seek(partition: TopicPartition, offset: string): void;
  instrumentation: Instrumentation;
  logger: Logger;
  retry?: RetryOptions;
  /** True once the work that hit the failure no longer matters (stale batch, revoked, stopping). */
  shouldStop(): boolean;
}

/**
 * A commit of the partition failed or was refused: re-read the partition from Redis (retrying
 * while Redis is down) and seek the consumer back to the stored watermark, or give the partition
 * up when another owner has claimed it. The batch handler and the sweeper both end up here, inside
 * the partition's exclusive section. Resolves to the resync reason, or undefined when it stopped.
 */
export async function recoverPartition(owned: OwnedPartition, deps: RecoveryDeps, cause: unknown): Promise<string | undefined> {
  const tp = { topic: owned.topic, partition: owned.partition };
  const resynced = await retrying(() => owned.resync(), {
    shouldStop: deps.shouldStop,
    options: deps.retry,
    onRetry: (err, attempt) => deps.logger.warn({ err, ...tp, attempt }, 'cannot re-read the partition state yet; retrying'),
  });
  if (!resynced.done) return undefined;
  const reason = resynced.value;
  deps.instrumentation.emit('state.resync', { topic: tp.topic, partition: tp.partition, reason });
  if (reason === 'owner') {
    deps.logger.warn({ ...tp, err: cause }, 'another instance has claimed this partition; this instance stops applying it until the next assignment');
    return reason;
  }
  const next = owned.nextOffset;
  const resume = next ?? 0n;
  deps.logger.warn({ ...tp, reason, err: cause, resume: resume.toString() }, 'partition state is not where this scorer left it; re-read it from Redis and seeking back to its watermark');
  deps.positions.reset(tp.topic, tp.partition, next);
  deps.seek(tp, resume.toString());
  return reason;
}
