import kafkajs from 'kafkajs';
import type { Cluster } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { CO_PARTITIONED_ASSIGNER, coPartitionedAssigner } from '../../src/kafka/co-partitioned-assigner.js';

const { AssignerProtocol } = kafkajs;

/** A cluster answering partition metadata for the given topics (all the assigner reads). */
function clusterWith(partitions: Record<string, number>): Cluster {
  return {
    findTopicPartitionMetadata: (topic: string) => Array.from({ length: partitions[topic] ?? 0 }, (_, partitionId) => ({ partitionId })),
  } as unknown as Cluster;
}

async function assign(members: string[], partitions: Record<string, number>): Promise<Map<string, Record<string, number[]>>> {
  const assigner = coPartitionedAssigner({ cluster: clusterWith(partitions), groupId: 'g', logger: undefined as never });
  const result = await assigner.assign({ members: members.map((memberId) => ({ memberId })), topics: Object.keys(partitions) } as never);
  return new Map(result.map(({ memberId, memberAssignment }) => [memberId, AssignerProtocol.MemberAssignment.decode(memberAssignment)?.assignment ?? {}]));
}

describe('the co-partitioning assignor', () => {
  it('gives partition p of every topic to the same member, for any member count', async () => {
    for (const count of [1, 2, 3, 5, 8]) {
      const members = Array.from({ length: count }, (_, i) => `member-${String.fromCharCode(122 - i)}`);
      const assignment = await assign(members, { transactions: 8, balances: 8 });
      const owners = new Map<string, string[]>();
      for (const [member, topics] of assignment) {
        for (const [topic, list] of Object.entries(topics)) for (const p of list) owners.set(`${topic}:${p}`, [...(owners.get(`${topic}:${p}`) ?? []), member]);
      }
      for (let p = 0; p < 8; p++) {
        expect(owners.get(`transactions:${p}`), `${count} members, partition ${p}`).toHaveLength(1);
        expect(owners.get(`balances:${p}`)).toEqual(owners.get(`transactions:${p}`));
      }
      // Spread evenly: no member holds more than its share rounded up.
      for (const topics of assignment.values()) expect((topics.transactions ?? []).length).toBeLessThanOrEqual(Math.ceil(8 / count));
    }
  });

  it('announces its own protocol name with the subscribed topics', () => {
    const protocol = coPartitionedAssigner({ cluster: clusterWith({}), groupId: 'g', logger: undefined as never }).protocol({ topics: ['transactions', 'balances'] });
    expect(protocol.name).toBe(CO_PARTITIONED_ASSIGNER);
    expect(AssignerProtocol.MemberMetadata.decode(protocol.metadata)?.topics).toEqual(['transactions', 'balances']);
  });
});
