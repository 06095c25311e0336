import kafkajs from 'kafkajs';

/** One partition as the broker reports it for a consumer group. */
export interface BrokerGroupLag {
  /** Log end offset (high watermark). */
  end: bigint;
  /** The group's committed offset; null when it never committed this partition. */
  committed: bigint | null;
  /** end − committed, as `kafka-consumer-groups --describe` prints it; null without a commit. */
  lag: bigint | null;
}

/**
 * Reads a group's committed offsets and the log ends straight from the broker with a plain kafkajs
 * admin client (not pyramid's wrapper), so a test compares pyramid against what Kafka's own tools
 * would show. For the "commit after the last batch" check: once a scorer has applied everything
 * and gone idle, every partition's `lag` must be 0n (a group that commits only the batch before
 * the last shows the last batch's size here, forever).
 */
export async function groupLagFromBroker(brokers: readonly string[], groupId: string, topic: string): Promise<Map<number, BrokerGroupLag>> {
  const admin = new kafkajs.Kafka({ brokers: [...brokers], clientId: 'test-group-offsets', logLevel: kafkajs.logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    const [ends, [committed]] = await Promise.all([admin.fetchTopicOffsets(topic), admin.fetchOffsets({ groupId, topics: [topic] })]);
    const byPartition = new Map((committed?.partitions ?? []).map((c) => [c.partition, BigInt(c.offset)] as const));
    return new Map(
      ends.map(({ partition, high }) => {
        const end = BigInt(high);
        const offset = byPartition.get(partition);
        const at = offset === undefined || offset < 0n ? null : offset;
        return [partition, { end, committed: at, lag: at === null ? null : end - at }] as const;
      }),
    );
  } finally {
    await admin.disconnect();
  }
}
