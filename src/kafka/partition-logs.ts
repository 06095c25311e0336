import type { Kafka } from 'kafkajs';
import { kafkaError } from './errors.js';

/** Where one partition's log stands on the broker, and which record it starts with. */
export interface PartitionLog {
  partition: number;
  /** The first offset the broker still holds (moves up with retention). */
  logStartOffset: number;
  /** The next offset to be written (high watermark). */
  highWatermark: number;
  /**
   * The first record at or after the log start (a ListOffsets query for timestamp 0 answers its
   * offset and timestamp); null while the partition holds no record.
   */
  first: { offset: number; timestamp: number } | null;
}

/** Reads the log starts of a topic's partitions (see {@link PartitionLog}). */
export interface PartitionLogReader {
  /** One entry per partition the topic has now; throws KAFKA_UNAVAILABLE when the broker does not answer. */
  read(topic: string): Promise<PartitionLog[]>;
  disconnect(): Promise<void>;
}

/** The parts of kafkajs's (untyped) cluster this reader uses. */
interface ListOffsetsPartition {
  partition: number;
  errorCode: number;
  timestamp: string;
  offset: string;
}
interface KafkaJsBroker {
  listOffsets(request: {
    replicaId: number;
    isolationLevel: number;
    topics: Array<{ topic: string; partitions: Array<{ partition: number; timestamp: number }> }>;
  }): Promise<{ responses: Array<{ topic: string; partitions: ListOffsetsPartition[] }> }>;
}
interface KafkaJsCluster {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  addTargetTopic(topic: string): Promise<void>;
  refreshMetadata(): Promise<void>;
  findTopicPartitionMetadata(topic: string): Array<{ partitionId: number }>;
  findLeaderForPartitions(topic: string, partitions: number[]): Record<string, number[]>;
  findBroker(node: { nodeId: string }): Promise<KafkaJsBroker>;
}

const EARLIEST = -2;
const LATEST = -1;
/** The first record with a timestamp at or after 0: the log's first record. */
const FIRST_RECORD = 0;
const READ_UNCOMMITTED = 0;

/**
 * kafkajs 2.2.4 (pinned in package.json) answers timestamp queries with offsets only and drops
 * the record timestamp that ListOffsets v1+ returns; its Broker.listOffsets keeps it. The Kafka
 * instance builds its clusters through a private factory stored under a symbol; this finds it,
 * so the reader connects with exactly the client's brokers, TLS and SASL settings.
 */
function createCluster(kafka: Kafka): KafkaJsCluster {
  const owner = kafka as unknown as Record<symbol, unknown>;
  const key = Object.getOwnPropertySymbols(kafka).find((s) => s.description === 'private:Kafka:createCluster');
  const factory = key === undefined ? undefined : owner[key];
  if (typeof factory !== 'function') throw new Error('this kafkajs version has no cluster factory; pyramid needs kafkajs 2.2.4');
  return (factory as (options: { allowAutoTopicCreation: boolean }) => KafkaJsCluster)({ allowAutoTopicCreation: false });
}

/**
 * Real Kafka 2.4 has no topic ids, so what tells one incarnation of a topic from the next is
 * what its log holds: the log start offset and the offset and timestamp of its first record. This
 * asks each partition leader for all three (ListOffsets for earliest, latest and timestamp 0,
 * read_uncommitted so an open transaction does not hide the first record).
 */
export function createPartitionLogReader(kafka: Kafka): PartitionLogReader {
  const cluster = createCluster(kafka);
  let connected = false;
  return {
    async read(topic) {
      try {
        if (!connected) {
          await cluster.connect();
          connected = true;
        }
        await cluster.addTargetTopic(topic);
        await cluster.refreshMetadata();
        const partitions = cluster.findTopicPartitionMetadata(topic).map((p) => p.partitionId);
        const byLeader = cluster.findLeaderForPartitions(topic, partitions);
        const answers = new Map<number, Partial<Record<'start' | 'high' | 'first', ListOffsetsPartition>>>();
        await Promise.all(
          Object.entries(byLeader).map(async ([nodeId, ids]) => {
            const broker = await cluster.findBroker({ nodeId });
            for (const [kind, timestamp] of [['start', EARLIEST], ['high', LATEST], ['first', FIRST_RECORD]] as const) {
              const { responses } = await broker.listOffsets({
                replicaId: -1,
                isolationLevel: READ_UNCOMMITTED,
                topics: [{ topic, partitions: ids.map((partition) => ({ partition, timestamp })) }],
              });
              for (const answer of responses.flatMap((r) => r.partitions)) {
                if (answer.errorCode !== 0) throw new Error(`ListOffsets of ${topic} partition ${answer.partition} failed with error code ${answer.errorCode}`);
                answers.set(answer.partition, { ...answers.get(answer.partition), [kind]: answer });
              }
            }
          }),
        );
        return partitions
          .sort((a, b) => a - b)
          .map((partition) => {
            const { start, high, first } = answers.get(partition) ?? {};
            const firstOffset = Number(first?.offset ?? -1);
            return {
              partition,
              logStartOffset: Number(start?.offset ?? 0),
              highWatermark: Number(high?.offset ?? 0),
              first: firstOffset < 0 ? null : { offset: firstOffset, timestamp: Number(first?.timestamp ?? -1) },
            };
          });
      } catch (err) {
        throw kafkaError(`read the log starts of ${topic}`, err);
      }
    },
    async disconnect() {
      if (connected) await cluster.disconnect();
      connected = false;
    },
  };
}
