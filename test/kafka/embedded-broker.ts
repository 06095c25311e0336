import { groupCoordinatorPlugin, startBroker, type BrokerHandle } from '@pyramid/devstack';
import { createKafkaClient, type PyramidKafka } from '../../src/kafka/client.js';
import type { PartitionBatch, TopicPartition } from '../../src/kafka/types.js';
import { uniqueName } from '../helpers/unique.js';

/** The embedded broker (with its group coordinator) on a free port, and a pyramid client for it. */
export interface EmbeddedKafka {
  broker: BrokerHandle;
  kafka: PyramidKafka;
  close(): Promise<void>;
}

export async function startEmbeddedKafka(): Promise<EmbeddedKafka> {
  const broker = await startBroker({ port: 0, autoCreateTopics: false, plugins: [groupCoordinatorPlugin()] });
  const kafka = createKafkaClient({ brokers: [broker.address], clientId: uniqueName('pyramid-test'), tls: { enabled: false, rejectUnauthorized: true } });
  return { broker, kafka, close: () => broker.close() };
}

/**
 * Reads `topic` from the beginning through pyramid's consumer wrapper until `expected` records
 * arrived, committing each batch; returns the batches and the assignment it was given.
 */
export async function consumeBatches(
  kafka: PyramidKafka,
  topic: string,
  expected: number,
  timeoutMs = 30_000,
): Promise<{ batches: PartitionBatch[]; assigned: TopicPartition[]; groupId: string; committed: boolean[] }> {
  const groupId = uniqueName('pyramid-test-group');
  const consumer = kafka.createConsumer({ groupId, heartbeatIntervalMs: 500, sessionTimeoutMs: 10_000 });
  const batches: PartitionBatch[] = [];
  const committed: boolean[] = [];
  const assigned: TopicPartition[] = [];
  consumer.onAssignmentChange((change) => {
    if (change.kind === 'assigned') assigned.push(...change.partitions);
  });
  let count = 0;
  try {
    await consumer.connect();
    await consumer.subscribe([topic], { fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`got ${count} of ${expected} records within ${timeoutMs} ms`)), timeoutMs);
      void consumer.run(async (batch, control) => {
        batches.push(batch);
        await control.heartbeat();
        committed.push(await control.commit());
        count += batch.records.length;
        if (count >= expected) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
  } finally {
    await consumer.disconnect();
  }
  return { batches, assigned, groupId, committed };
}
