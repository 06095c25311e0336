import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBroker, type BrokerHandle } from '../../src/broker/index.js';
import { uniqueName } from '../helpers/unique.js';
import { decodeAssignment, heartbeatV3, joinGroupV5, subscriptionMetadata, syncGroupV3 } from './group-wire.js';
import { kafkaClient } from './kafkajs-helpers.js';
import { RawConnection } from './raw-client.js';

const MEMBER_ID_REQUIRED = 79;
const UNKNOWN_MEMBER_ID = 25;

async function until(what: string, condition: () => boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

let broker: BrokerHandle;
beforeAll(async () => {
  broker = await startBroker({ port: 0 });
});
afterAll(async () => {
  await broker.close();
});

describe('group session timeout', () => {
  it('expires a member that joined and went silent, and hands its partitions to the member still heartbeating', async () => {
    const topic = uniqueName('session');
    const groupId = uniqueName('session-g');
    const kafka = kafkaClient(broker.address);
    const admin = kafka.admin();
    const producer = kafka.producer();
    const consumer = kafka.consumer({ groupId, sessionTimeout: 10_000, heartbeatInterval: 300, maxWaitTimeInMs: 200 });
    const silent = await RawConnection.open(broker.port);
    const seenByPartition = new Map<number, number>();
    let joins = 0;
    try {
      await admin.connect();
      await admin.createTopics({ topics: [{ topic, numPartitions: 4 }] });
      consumer.on(consumer.events.GROUP_JOIN, () => joins++);
      await consumer.connect();
      await consumer.subscribe({ topic, fromBeginning: true });
      await consumer.run({
        eachMessage: async ({ partition }) => {
          seenByPartition.set(partition, (seenByPartition.get(partition) ?? 0) + 1);
        },
      });
      await until('the kafkajs member to join', () => joins >= 1);

      // A second member joins the kafkajs consumer's group by hand (KIP-394 two-step join),
      // takes its assignment from the kafkajs leader, then never heartbeats again.
      const protocols = [{ name: 'RoundRobinAssigner', metadata: subscriptionMetadata([topic]) }];
      const join = { groupId, sessionTimeoutMs: 6_000, rebalanceTimeoutMs: 10_000, protocols };
      const first = await joinGroupV5(silent, { ...join, memberId: '' });
      expect(first.errorCode).toBe(MEMBER_ID_REQUIRED);
      const second = await joinGroupV5(silent, { ...join, memberId: first.memberId });
      expect(second).toMatchObject({ errorCode: 0, protocolName: 'RoundRobinAssigner', members: [] });
      expect(second.leader).not.toBe(first.memberId);
      const sync = await syncGroupV3(silent, { groupId, generationId: second.generationId, memberId: first.memberId, assignments: [] });
      expect(sync.errorCode).toBe(0);
      const silentPartitions = decodeAssignment(sync.assignment).get(topic) ?? [];
      expect(silentPartitions.length).toBeGreaterThan(0);

      // Messages on every partition, including the silent member's.
      await producer.connect();
      await producer.send({
        topic,
        messages: Array.from({ length: 40 }, (_, i) => ({ partition: i % 4, value: `m-${i}` })),
      });

      // Only after the silent member's session expired can kafkajs own (and drain) its partitions.
      await until('every message, via the reassignment', () => [0, 1, 2, 3].every((p) => seenByPartition.get(p) === 10));
      expect(await heartbeatV3(silent, { groupId, generationId: second.generationId, memberId: first.memberId })).toBe(UNKNOWN_MEMBER_ID);
      const described = await admin.describeGroups([groupId]);
      expect(described.groups[0]?.members).toHaveLength(1);
      expect(described.groups[0]?.members[0]?.memberId).not.toBe(first.memberId);
    } finally {
      silent.close();
      await consumer.disconnect();
      await producer.disconnect();
      await admin.disconnect();
    }
  });
});
