import type { PyramidAdmin } from '../kafka/admin.js';
import type { TopicPartition } from '../kafka/types.js';
import type { LagSource } from './lag-monitor.js';

/** What the scorer knows in memory; everything else the lag source asks Kafka. */
export interface LagSourceOptions {
  admin: PyramidAdmin;
  groupId: string;
  /** Input partitions this instance owns right now. */
  owned(): TopicPartition[];
  /** See `LagSource.nextOffsetToApply`: in memory, never waiting on Redis. */
  nextOffsetToApply(topic: string, partition: number): string | undefined;
  /** See `LagSource.recordTimestamp`. */
  recordTimestamp(topic: string, partition: number, offset: string): number | null;
}

/**
 * The scorer's lag source: log offsets and the group's committed offsets from the Kafka admin
 * client, the applied position and record timestamps from the scorer's memory.
 */
export function createLagSource(options: LagSourceOptions): LagSource {
  const { admin, groupId } = options;
  return {
    assignments: () => options.owned(),
    async logOffsets(topic) {
      return new Map((await admin.topicOffsets(topic)).map((o) => [o.partition, { start: o.low, end: o.high }] as const));
    },
    async committedOffsets(topic) {
      // Kafka answers -1 for a partition the group never committed.
      const committed = await admin.committedOffsets(groupId, topic);
      return new Map(committed.filter((c) => BigInt(c.offset) >= 0n).map((c) => [c.partition, c.offset] as const));
    },
    nextOffsetToApply: (topic, partition) => options.nextOffsetToApply(topic, partition),
    recordTimestamp: (topic, partition, offset) => options.recordTimestamp(topic, partition, offset),
  };
}
