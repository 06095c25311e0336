import type { ApiHandler } from '../api-registry.js';
import type { BrokerState } from '../broker-state.js';
import { ApiKey } from '../protocol/api-keys.js';
import { KafkaErrorCode } from '../protocol/errors.js';
import type { Reader } from '../protocol/reader.js';
import { Writer } from '../protocol/writer.js';

interface TopicAnswer {
  readonly name: string;
  readonly errorCode: KafkaErrorCode;
  readonly message: string | null;
}

/**
 * CreateTopics v0–v4 (https://kafka.apache.org/protocol#The_Messages_CreateTopics); v5 is
 * flexible. Replication factor −1 (kafkajs's default, WIRE-FACTS.md §4.1) or 1 is accepted;
 * more than the one broker is INVALID_REPLICATION_FACTOR. num_partitions −1 means the broker
 * default. Topic configs are accepted and ignored: this broker has no per-topic settings.
 */
export function createTopicsHandler(state: BrokerState): ApiHandler {
  return {
    apiKey: ApiKey.CreateTopics,
    minVersion: 0,
    maxVersion: 4,
    handle(ctx, body: Reader) {
      const version = ctx.header.apiVersion;
      const topics = body.readArray((r) => ({
        name: r.readString(),
        numPartitions: r.readInt32(),
        replicationFactor: r.readInt16(),
        assignments: r.readArray((ar) => ({ index: ar.readInt32(), brokers: ar.readArray((br) => br.readInt32()) })),
        configs: r.readArray((cr) => ({ name: cr.readString(), value: cr.readNullableString() })),
      }));
      body.readInt32(); // timeout_ms: creation is immediate
      const validateOnly = version >= 1 ? body.readBoolean() : false;

      const counts = new Map<string, number>();
      for (const t of topics) counts.set(t.name, (counts.get(t.name) ?? 0) + 1);
      const { nodeId } = ctx.broker;
      const answers = topics.map((t): TopicAnswer => {
        const fail = (errorCode: KafkaErrorCode, message: string): TopicAnswer => ({ name: t.name, errorCode, message });
        if ((counts.get(t.name) ?? 0) > 1) return fail(KafkaErrorCode.INVALID_REQUEST, 'Topic appears more than once in the request');
        if (t.replicationFactor !== -1 && t.replicationFactor !== 1 && t.assignments.length === 0) {
          return fail(KafkaErrorCode.INVALID_REPLICATION_FACTOR, `Replication factor: ${t.replicationFactor} larger than available brokers: 1.`);
        }
        let partitions = t.numPartitions === -1 ? state.config.defaultPartitions : t.numPartitions;
        if (t.assignments.length > 0) {
          if (t.numPartitions !== -1 || t.replicationFactor !== -1) {
            return fail(KafkaErrorCode.INVALID_REQUEST, 'Both numPartitions or replicationFactor and replicasAssignments were set.');
          }
          const valid = t.assignments.every((a, i) => a.index === i && a.brokers.length === 1 && a.brokers[0] === nodeId);
          if (!valid) return fail(KafkaErrorCode.INVALID_REPLICA_ASSIGNMENT, `Only broker ${nodeId} exists; partitions must be numbered from 0.`);
          partitions = t.assignments.length;
        }
        if (partitions < 1) return fail(KafkaErrorCode.INVALID_PARTITIONS, 'Number of partitions must be larger than 0.');
        if (validateOnly) {
          return state.store.partitionCount(t.name) === undefined
            ? { name: t.name, errorCode: KafkaErrorCode.NONE, message: null }
            : fail(KafkaErrorCode.TOPIC_ALREADY_EXISTS, `Topic '${t.name}' already exists.`);
        }
        const errorCode = state.store.createTopic(t.name, partitions);
        const message =
          errorCode === KafkaErrorCode.NONE
            ? null
            : errorCode === KafkaErrorCode.TOPIC_ALREADY_EXISTS
              ? `Topic '${t.name}' already exists.`
              : errorCode === KafkaErrorCode.KAFKA_STORAGE_ERROR
                ? `Storage error while creating topic '${t.name}'.`
                : `Cannot create topic '${t.name}'.`;
        if (errorCode === KafkaErrorCode.KAFKA_STORAGE_ERROR) ctx.broker.logger.error({ topic: t.name }, 'topic not created: the data directory refused the write');
        return { name: t.name, errorCode, message };
      });

      const w = new Writer(64);
      if (version >= 2) w.writeInt32(0); // throttle_time_ms
      w.writeArray(answers, (tw, a) => {
        tw.writeString(a.name).writeInt16(a.errorCode);
        if (version >= 1) tw.writeNullableString(a.message);
      });
      return w;
    },
  };
}
