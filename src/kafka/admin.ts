import kafkajs from 'kafkajs';
import type { Admin } from 'kafkajs';
import { kafkaError } from './errors.js';
import type { TopicPartition } from './types.js';

/** A topic pyramid needs, with the settings to create it with when it is missing. */
export interface TopicSpec {
  topic: string;
  numPartitions: number;
  /** -1 uses the broker default. */
  replicationFactor?: number;
  /** Topic configs, e.g. { 'retention.ms': '604800000', 'cleanup.policy': 'delete' }. */
  configs?: Record<string, string>;
}

/** Per partition: earliest and next offset (high watermark). */
export interface PartitionOffsets {
  partition: number;
  low: string;
  high: string;
}

/** A consumer group as its coordinator describes it (DescribeGroups). */
export interface GroupDescription {
  /** Kafka's group state: Stable, PreparingRebalance, CompletingRebalance, Empty or Dead. */
  state: string;
  /** Every member the coordinator knows, with the partitions of its current assignment. */
  members: Array<{ memberId: string; partitions: TopicPartition[] }>;
}

/** The admin operations pyramid uses (topic set-up, partition counts, lag, readiness). */
export interface PyramidAdmin {
  connect(): Promise<void>;
  /** Creates the missing topics; existing ones are left as they are. Returns the names created. */
  ensureTopics(topics: readonly TopicSpec[]): Promise<string[]>;
  /** Partition count of a topic, or null when the topic does not exist. */
  partitionCount(topic: string): Promise<number | null>;
  topicOffsets(topic: string): Promise<PartitionOffsets[]>;
  /** The group's committed offsets for a topic; '-1' where nothing is committed. */
  committedOffsets(groupId: string, topic: string): Promise<Array<{ partition: number; offset: string }>>;
  /** The group's state and members; an unknown group is `Dead` with no members. */
  describeGroup(groupId: string): Promise<GroupDescription>;
  disconnect(): Promise<void>;
}

/** Adapts a kafkajs admin client; built by `createKafkaClient().createAdmin`. */
export function wrapAdmin(admin: Admin): PyramidAdmin {
  async function guarded<T>(action: string, work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (err) {
      throw kafkaError(action, err);
    }
  }

  return {
    connect: () => guarded('admin connect', () => admin.connect()),
    ensureTopics: (topics) =>
      guarded('create topics', async () => {
        const existing = new Set(await admin.listTopics());
        const missing = topics.filter((spec) => !existing.has(spec.topic));
        if (missing.length === 0) return [];
        await admin.createTopics({
          waitForLeaders: true,
          topics: missing.map((spec) => ({
            topic: spec.topic,
            numPartitions: spec.numPartitions,
            replicationFactor: spec.replicationFactor ?? -1,
            configEntries: Object.entries(spec.configs ?? {}).map(([name, value]) => ({ name, value })),
          })),
        });
        return missing.map((spec) => spec.topic);
      }),
    partitionCount: (topic) =>
      guarded(`describe ${topic}`, async () => {
        const existing = await admin.listTopics();
        if (!existing.includes(topic)) return null;
        const { topics } = await admin.fetchTopicMetadata({ topics: [topic] });
        return topics[0]?.partitions.length ?? null;
      }),
    topicOffsets: (topic) =>
      guarded(`fetch offsets of ${topic}`, async () =>
        (await admin.fetchTopicOffsets(topic)).map(({ partition, low, high }) => ({ partition, low, high })),
      ),
    committedOffsets: (groupId, topic) =>
      guarded(`fetch committed offsets of ${groupId}`, async () => {
        const [entry] = await admin.fetchOffsets({ groupId, topics: [topic] });
        return (entry?.partitions ?? []).map(({ partition, offset }) => ({ partition, offset }));
      }),
    describeGroup: (groupId) =>
      guarded(`describe group ${groupId}`, async () => {
        const { groups } = await admin.describeGroups([groupId]);
        const group = groups.find((g) => g.groupId === groupId);
        if (group === undefined) return { state: 'Dead', members: [] };
        return { state: group.state, members: group.members.map((m) => ({ memberId: m.memberId, partitions: assignedPartitions(m.memberAssignment) })) };
      }),
    disconnect: () => admin.disconnect(),
  };
}

/**
 * The partitions in a member's assignment, as the consumer protocol encodes it (empty while a
 * rebalance has not handed out assignments yet).
 */
function assignedPartitions(bytes: Buffer): TopicPartition[] {
  if (bytes.length === 0) return [];
  const decoded = kafkajs.AssignerProtocol.MemberAssignment.decode(bytes);
  if (decoded === null) return [];
  return Object.entries(decoded.assignment).flatMap(([topic, partitions]) => partitions.map((partition) => ({ topic, partition })));
}
