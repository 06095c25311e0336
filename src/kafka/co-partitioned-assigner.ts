import kafkajs from 'kafkajs';
import type { PartitionAssigner } from 'kafkajs';

// kafkajs is CommonJS: its named exports are read off the default import.
const { AssignerProtocol } = kafkajs;

/** The protocol name members announce; a group only forms when every member offers it. */
export const CO_PARTITIONED_ASSIGNER = 'PyramidCoPartitioned';

/**
 * A consumer-group assignor that keeps co-partitioned topics together, as Kafka Streams does:
 * partition p of every subscribed topic goes to the same member (members sorted by id, partition
 * p to member p mod n). pyramid subscribes the transactions and the balances topic with it, so
 * the one scorer that owns partition p of the state also reads partition p of both inputs.
 *
 * Every member must use it: a member offering only the default protocol cannot join the group
 * (the broker answers INCONSISTENT_GROUP_PROTOCOL), rather than splitting a partition's two
 * inputs across members. The start-up check that both topics have the same partition count lives
 * with the scorer; a partition number one topic lacks is simply not assigned.
 */
export const coPartitionedAssigner: PartitionAssigner = ({ cluster }) => ({
  name: CO_PARTITIONED_ASSIGNER,
  version: 0,
  assign({ members, topics }) {
    const memberIds = members.map((member) => member.memberId).sort();
    const assignment = new Map<string, Record<string, number[]>>(memberIds.map((id) => [id, {}]));
    for (const topic of topics) {
      const partitions = cluster
        .findTopicPartitionMetadata(topic)
        .map((metadata) => metadata.partitionId)
        .sort((a, b) => a - b);
      for (const partition of partitions) {
        const member = memberIds[partition % memberIds.length];
        if (member === undefined) continue;
        const mine = assignment.get(member) as Record<string, number[]>;
        (mine[topic] ??= []).push(partition);
      }
    }
    return Promise.resolve(
      [...assignment].map(([memberId, topicPartitions]) => ({
        memberId,
        memberAssignment: AssignerProtocol.MemberAssignment.encode({ version: 0, assignment: topicPartitions, userData: Buffer.alloc(0) }),
      })),
    );
  },
  protocol({ topics }) {
    return { name: CO_PARTITIONED_ASSIGNER, metadata: AssignerProtocol.MemberMetadata.encode({ version: 0, topics, userData: Buffer.alloc(0) }) };
  },
});
