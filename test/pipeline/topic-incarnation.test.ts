import { describe, expect, it } from 'vitest';
import { isPyramidError } from '../../src/errors.js';
import type { PartitionLog } from '../../src/kafka/partition-logs.js';
import { checkIncarnation, checkResumeOffset, type IncarnationInput } from '../../src/pipeline/topic-incarnation.js';
import type { PartitionMeta } from '../../src/state/store.js';

const meta = (fields: Partial<PartitionMeta>): PartitionMeta => ({
  formatVersion: 1,
  partitionCount: 4,
  customerShards: 64,
  policyVersion: '1',
  policyHash: 'h',
  owner: 'o',
  commit: 3,
  lastOffset: null,
  eventWatermark: null,
  outboxSeq: 0,
  counters: new Map(),
  topicIncarnation: null,
  reevaluationCursor: null,
  previousPolicyVersion: null,
  boundaryEpoch: 0,
  boundaryCursor: null,
  barrierInstant: null,
  ...fields,
});
const log = (logStartOffset: number, highWatermark: number, first: PartitionLog['first']): PartitionLog => ({ partition: 2, logStartOffset, highWatermark, first });
const input = (stored: PartitionMeta | null, partitionLog: PartitionLog, committedOffset: number | null = null): IncarnationInput => ({
  topic: 'tx',
  partition: 2,
  stored,
  log: partitionLog,
  committedOffset,
});
const refusal = (fn: () => unknown): { code: string; message: string } => {
  try {
    fn();
  } catch (err) {
    if (isPyramidError(err)) return { code: err.code, message: err.message };
    throw err;
  }
  throw new Error('not refused');
};

describe('checkIncarnation', () => {
  it('continues state of the same incarnation, recording nothing new', () => {
    expect(checkIncarnation(input(meta({ lastOffset: 99, topicIncarnation: '0@1000' }), log(0, 150, { offset: 0, timestamp: 1000 })))).toEqual({ record: null, startAt: undefined });
  });

  it('records the first record of a partition claimed for the first time, and starts a stateless partition at the log start', () => {
    expect(checkIncarnation(input(null, log(0, 10, { offset: 0, timestamp: 1000 })))).toEqual({ record: '0@1000', startAt: 0n });
    expect(checkIncarnation(input(null, log(0, 0, null)))).toEqual({ record: null, startAt: 0n });
  });

  it('refuses a re-created topic whose first record has another timestamp, naming topic, partition, both timestamps and the rebuild', () => {
    const { code, message } = refusal(() => checkIncarnation(input(meta({ lastOffset: 99, topicIncarnation: '0@1000' }), log(0, 500, { offset: 0, timestamp: 2000 }))));
    expect(code).toBe('TOPIC_INCARNATION_MISMATCH');
    expect(message).toContain('partition 2 of tx');
    expect(message).toContain('timestamp 2000, the state was built from one with timestamp 1000');
    expect(message).toContain('pyramid replay --prefix');
  });

  it('refuses a topic that starts before the recorded first offset, or is empty where records were', () => {
    expect(refusal(() => checkIncarnation(input(meta({ lastOffset: 99, topicIncarnation: '40@1000' }), log(0, 500, { offset: 0, timestamp: 1000 })))).code).toBe('TOPIC_INCARNATION_MISMATCH');
    expect(refusal(() => checkIncarnation(input(meta({ topicIncarnation: '0@1000' }), log(0, 0, null)))).code).toBe('TOPIC_INCARNATION_MISMATCH');
  });

  it('refuses a topic that ends at or before the stored watermark (the records the state applied are not there)', () => {
    const { code, message } = refusal(() => checkIncarnation(input(meta({ lastOffset: 99 }), log(0, 99, { offset: 0, timestamp: 5 }))));
    expect(code).toBe('TOPIC_INCARNATION_MISMATCH');
    expect(message).toContain('holds offsets 0 to 98 only, the state has applied up to offset 99');
  });

  it('follows retention: a log start past the recorded record is recorded again', () => {
    expect(checkIncarnation(input(meta({ lastOffset: 99, topicIncarnation: '0@1000' }), log(50, 150, { offset: 50, timestamp: 1500 })))).toEqual({ record: '50@1500', startAt: undefined });
  });

  it('stops a partition whose next offset retention deleted', () => {
    const { code, message } = refusal(() => checkIncarnation(input(meta({ lastOffset: 99, topicIncarnation: '0@1000' }), log(120, 150, { offset: 120, timestamp: 1500 }))));
    expect(code).toBe('KAFKA_OFFSETS_GONE');
    expect(message).toContain('needs offset 100 next, Kafka\'s log starts at 120');
    // The watermark + 1 exactly at the log start loses nothing.
    expect(checkIncarnation(input(meta({ lastOffset: 99, topicIncarnation: '0@1000' }), log(100, 150, { offset: 100, timestamp: 1500 }))).record).toBe('100@1500');
  });

  it('stops a partition whose state is lost when offset 0 is gone; a group that never consumed it starts at the log start', () => {
    expect(refusal(() => checkIncarnation(input(null, log(30, 150, { offset: 30, timestamp: 1500 }), 140))).code).toBe('KAFKA_OFFSETS_GONE');
    expect(checkIncarnation(input(null, log(30, 150, { offset: 30, timestamp: 1500 }), null))).toEqual({ record: '30@1500', startAt: 30n });
    expect(checkIncarnation(input(null, log(0, 150, { offset: 0, timestamp: 1500 }), 140))).toEqual({ record: '0@1500', startAt: 0n });
  });
});

describe('checkResumeOffset', () => {
  const resume = (offset: bigint, logStartOffset: number, reason = 'commit'): void =>
    checkResumeOffset({ topic: 'tx', partition: 2, log: log(logStartOffset, 150, { offset: logStartOffset, timestamp: 1500 }), resume: offset, reason });

  it('lets a partition resume at or after the log start', () => {
    expect(() => resume(30n, 30)).not.toThrow();
    expect(() => resume(0n, 0, 'lost')).not.toThrow();
  });

  it('refuses an offset below the log start, naming both and why the state was re-read', () => {
    expect(refusal(() => resume(0n, 30, 'lost'))).toEqual({
      code: 'KAFKA_OFFSETS_GONE',
      message: expect.stringContaining("partition 2 of tx: the state was lost from Redis mid-run and needs offset 0 next, Kafka's log starts at 30") as string,
    });
    expect(refusal(() => resume(29n, 30)).message).toContain("the state in Redis was set back mid-run (commit) and needs offset 29 next, Kafka's log starts at 30");
  });
});
