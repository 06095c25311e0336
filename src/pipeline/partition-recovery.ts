import { isPyramidError, type PyramidError } from '../errors.js';
import type { Instrumentation } from '../instrumentation.js';
import type { PartitionLog } from '../kafka/partition-logs.js';
import type { TopicPartition } from '../kafka/types.js';
import type { Logger } from '../logger.js';
import type { OwnedPartition } from './owned-partition.js';
import type { PartitionPositions } from './partition-positions.js';
import { retrying, type RetryOptions } from './retry.js';
import { checkResumeOffset } from './topic-incarnation.js';

/** What re-reading a partition after a refused or failed commit needs. */
export interface RecoveryDeps {
  positions: PartitionPositions;
  /** The co-partitioned balances topic, when configured: its partition is sought back to its own watermark too. */
  balancesTopic?: string;
  /** Moves the consumer's fetch position of the partition. */
  seek(partition: TopicPartition, offset: string): void;
  /** The input partition's log as Kafka holds it now, read before seeking back. */
  readLog(partition: TopicPartition): Promise<PartitionLog>;
  /** Kafka no longer holds the offsets `partition` needs: stop applying it (paused, unowned, not ready). */
  stopPartition(partition: TopicPartition, error: PyramidError): void;
  /** Another instance claimed the partition: stop fetching it until the next assignment. */
  pause(partition: TopicPartition): void;
  instrumentation: Instrumentation;
  logger: Logger;
  retry?: RetryOptions;
  /** True once the work that hit the failure no longer matters (stale batch, revoked, stopping). */
  shouldStop(): boolean;
}

/**
 * A commit of the partition failed or was refused: re-read the partition from Redis (retrying
 * while Redis is down) and seek the consumer back to the stored watermark (both watermarks, with
 * a balances topic); stop the partition when
 * Kafka no longer holds that offset; give it up (paused) when another owner has claimed it. The
 * batch handler and the sweeper both end up here, inside the partition's exclusive section.
 * Resolves to the resync reason, or undefined when it stopped early.
 */
export async function recoverPartition(owned: OwnedPartition, deps: RecoveryDeps, cause: unknown): Promise<string | undefined> {
  const { logger } = deps;
  const tp = { topic: owned.topic, partition: owned.partition };
  const resynced = await retrying(() => owned.resync(), {
    shouldStop: deps.shouldStop,
    options: deps.retry,
    onRetry: (err, attempt) => logger.warn({ err, ...tp, attempt }, 'cannot re-read the partition state yet; retrying'),
  });
  if (!resynced.done) return undefined;
  const reason = resynced.value;
  deps.instrumentation.emit('state.resync', { topic: tp.topic, partition: tp.partition, reason });
  if (reason === 'owner') {
    logger.warn({ ...tp, err: cause }, 'another instance has claimed this partition; this instance stops applying it until the next assignment');
    deps.pause(tp);
    return reason;
  }
  const next = owned.nextOffset;
  const resume = next ?? 0n;
  const log = await retrying(() => deps.readLog(tp), {
    shouldStop: deps.shouldStop,
    options: deps.retry,
    onRetry: (err, attempt) => logger.warn({ err, ...tp, attempt }, "cannot read the partition's log start yet; retrying"),
  });
  if (!log.done) return undefined;
  try {
    checkResumeOffset({ ...tp, log: log.value, resume, reason });
  } catch (err) {
    if (!isPyramidError(err, 'KAFKA_OFFSETS_GONE')) throw err;
    logger.error({ err, ...tp }, 'partition stopped: Kafka no longer holds the offsets its state needs');
    deps.stopPartition(tp, err);
    return reason;
  }
  logger.warn({ ...tp, reason, err: cause, resume: resume.toString() }, 'partition state is not where this scorer left it; re-read it from Redis and seeking back to its watermark');
  deps.positions.reset(tp.topic, tp.partition, next);
  deps.seek(tp, resume.toString());
  if (deps.balancesTopic !== undefined) {
    // The partition's second input replays from the balances watermark of the same meta.
    const balances = { topic: deps.balancesTopic, partition: tp.partition };
    const balanceNext = owned.nextBalanceOffset;
    deps.positions.reset(balances.topic, balances.partition, balanceNext);
    deps.seek(balances, (balanceNext ?? 0n).toString());
  }
  return reason;
}
