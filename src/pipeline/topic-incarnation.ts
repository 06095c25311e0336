import { PyramidError } from '../errors.js';
import type { PartitionLog } from '../kafka/partition-logs.js';
import type { PartitionMeta } from '../state/store.js';

/**
 * Whether a partition's stored state belongs to the input topic as Kafka holds it now.
 *
 * Kafka 2.4 has no topic ids, so an incarnation is told by its log: the first claim records the
 * offset and timestamp of the partition's first record (`<offset>@<timestamp>`, META
 * .topicIncarnation). A later claim compares:
 * - the log starts before the recorded first offset, or the record at that offset carries another
 *   timestamp, or the log is empty up to it: another incarnation (the topic was re-created);
 * - the log ends at or before the stored watermark: the records the state applied are not there
 *   (re-created, or truncated);
 * - the log starts after the recorded offset: retention deleted the recorded record; the check
 *   moves on to the new first record (recorded again), since nothing older is left to compare.
 *   A topic re-created and then trimmed by retention before the next claim is not told apart.
 * - a re-created topic whose first record carries the very same timestamp is not told apart
 *   either (its first record is then indistinguishable by offset and time).
 * It also refuses to guess where to resume when Kafka no longer holds the next offset needed.
 */
export interface IncarnationVerdict {
  /** What to record as the partition's incarnation now; null: keep what is stored. */
  record: string | null;
  /**
   * Where a partition without any state must start: the log start. Without an explicit seek
   * kafkajs would resume from the group's committed offset, which for lost state skips records.
   * Undefined when the state knows its own position (it applied something).
   */
  startAt: bigint | undefined;
}

/** What {@link checkIncarnation} compares. */
export interface IncarnationInput {
  topic: string;
  partition: number;
  /** The partition's stored meta; null when Redis holds no state for it. */
  stored: PartitionMeta | null;
  log: PartitionLog;
  /** The group's committed offset for the partition; null when the group never committed one. */
  committedOffset: number | null;
}

const RESET_ADVICE =
  'rebuild the state for this topic with `pyramid replay --prefix <fresh prefix>` and run the scorers on that prefix (PYRAMID_KEY_PREFIX), or delete this prefix\'s keys of the topic to start over';

/** KAFKA_OFFSETS_GONE for one partition: `what` says which offset is needed and where the log starts. */
function offsetsGone(topic: string, partition: number, log: PartitionLog, what: string): PyramidError {
  return new PyramidError('KAFKA_OFFSETS_GONE', `partition ${partition} of ${topic}: ${what}; the partition stops rather than skip records (${RESET_ADVICE}, or restore the topic's records)`, {
    details: { topic, partition, logStartOffset: log.logStartOffset },
  });
}

/** An incarnation `<offset>@<timestamp>` as stored; null for none or a malformed value. */
export function parseIncarnation(text: string | null): { offset: number; timestamp: number } | null {
  const match = text === null ? null : /^(\d+)@(-?\d+)$/.exec(text);
  return match === null ? null : { offset: Number(match[1]), timestamp: Number(match[2]) };
}

/** The incarnation of a partition log (its first record), or null while it holds none. */
export function incarnationOf(log: PartitionLog): string | null {
  return log.first === null ? null : `${log.first.offset}@${log.first.timestamp}`;
}

/**
 * Checks one partition's stored state against the log Kafka holds now.
 *
 * @throws PyramidError TOPIC_INCARNATION_MISMATCH naming the topic, the partition and what
 *   changed, with the command that rebuilds; KAFKA_OFFSETS_GONE when the offsets the state needs
 *   next were deleted.
 */
export function checkIncarnation(input: IncarnationInput): IncarnationVerdict {
  const { topic, partition, stored, log } = input;
  const where = `partition ${partition} of ${topic}`;
  const mismatch = (what: string): PyramidError =>
    new PyramidError('TOPIC_INCARNATION_MISMATCH', `${where} is not the topic the stored state was built from: ${what}; ${RESET_ADVICE}`, {
      details: { topic, partition, stored: stored?.topicIncarnation ?? null, now: incarnationOf(log) },
    });
  const gone = (what: string): PyramidError => offsetsGone(topic, partition, log, what);

  const recorded = parseIncarnation(stored?.topicIncarnation ?? null);
  if (recorded !== null) {
    if (log.logStartOffset < recorded.offset) {
      throw mismatch(`its log starts at offset ${log.logStartOffset}, before offset ${recorded.offset} where it started when the state was built (the topic was re-created)`);
    }
    if (log.first === null && log.logStartOffset <= recorded.offset) {
      throw mismatch(`it holds no records, the state was built from records starting at offset ${recorded.offset} (the topic was re-created)`);
    }
    if (log.first !== null && log.first.offset === recorded.offset && log.first.timestamp !== recorded.timestamp) {
      throw mismatch(
        `its first record (offset ${recorded.offset}) has timestamp ${log.first.timestamp}, the state was built from one with timestamp ${recorded.timestamp} (the topic was re-created)`,
      );
    }
  }
  const watermark = stored?.lastOffset ?? null;
  if (watermark !== null) {
    if (log.highWatermark <= watermark) {
      throw mismatch(`it holds offsets ${log.logStartOffset} to ${log.highWatermark - 1} only, the state has applied up to offset ${watermark} (the topic was re-created or truncated)`);
    }
    if (watermark + 1 < log.logStartOffset) {
      throw gone(`the state needs offset ${watermark + 1} next, Kafka's log starts at ${log.logStartOffset} (retention deleted the records in between)`);
    }
  } else if (stored === null && input.committedOffset !== null && log.logStartOffset > 0) {
    throw gone(
      `Redis holds no state for it although the group has consumed it (committed offset ${input.committedOffset}): the state was lost, and Kafka no longer holds offset 0 to rebuild it (its log starts at ${log.logStartOffset})`,
    );
  }
  const now = incarnationOf(log);
  const record = now !== null && (recorded === null || log.logStartOffset > recorded.offset) ? now : null;
  // A meta that applied nothing yet (claimed, then the owner died) is no position either.
  return { record, startAt: stored === null || stored.lastOffset === null ? BigInt(log.logStartOffset) : undefined };
}

/** What {@link checkResumeOffset} compares. */
export interface ResumeInput {
  topic: string;
  partition: number;
  log: PartitionLog;
  /** Where the partition must go on: the re-read watermark + 1, or 0 when no offset is stored. */
  resume: bigint;
  /** Why the state was re-read (a resync reason: `lost`, `commit`, `unknown`, `format`). */
  reason: string;
}

/**
 * Mid-run, after a refused commit re-read a partition's state from Redis (lost, or set back):
 * whether Kafka still holds the offset it must resume from. Seeking below the log start would let
 * the consumer reset on its own to the log start, skipping the records in between.
 *
 * @throws PyramidError KAFKA_OFFSETS_GONE naming the offset needed and the log start.
 */
export function checkResumeOffset(input: ResumeInput): void {
  const { topic, partition, log, resume } = input;
  if (resume >= BigInt(log.logStartOffset)) return;
  const state = input.reason === 'lost' ? 'the state was lost from Redis mid-run' : `the state in Redis was set back mid-run (${input.reason})`;
  throw offsetsGone(topic, partition, log, `${state} and needs offset ${resume} next, Kafka's log starts at ${log.logStartOffset} (retention deleted the records in between)`);
}
