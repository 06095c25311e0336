import type { ApiHandler } from '../api-registry.js';
import type { BrokerState } from '../broker-state.js';
import { ApiKey } from '../protocol/api-keys.js';
import { KafkaErrorCode } from '../protocol/errors.js';
import type { Reader } from '../protocol/reader.js';
import { Writer } from '../protocol/writer.js';

/** "Not requested" for authorized-operations fields (v8+). */
const OPERATIONS_OMITTED = -2147483648;

interface TopicAnswer {
  readonly name: string;
  readonly internal: boolean;
  readonly errorCode: KafkaErrorCode;
  readonly partitions: number;
}

/**
 * Metadata v0–v8 (https://kafka.apache.org/protocol#The_Messages_Metadata); v9 is flexible and
 * not advertised. kafkajs uses v6, librdkafka v4 (WIRE-FACTS.md §2).
 *
 * Topic selection: v0 empty list = all topics; v1+ null = all, empty = none. Unknown topics are
 * created when both the request (v4+ `allow_auto_topic_creation`; always for v0–v3) and the broker
 * config allow it. Creation is immediate on a single node, so the new topic is answered with its
 * partitions right away instead of Kafka's transient LEADER_NOT_AVAILABLE.
 */
export function metadataHandler(state: BrokerState): ApiHandler {
  return {
    apiKey: ApiKey.Metadata,
    minVersion: 0,
    maxVersion: 8,
    handle(ctx, body: Reader) {
      const version = ctx.header.apiVersion;
      const requested = version === 0 ? body.readArray((r) => r.readString()) : body.readNullableArray((r) => r.readString());
      const allowAutoCreate = version >= 4 ? body.readBoolean() : true;
      if (version >= 8) {
        body.readBoolean(); // include_cluster_authorized_operations
        body.readBoolean(); // include_topic_authorized_operations
      }
      const { store, config } = state;
      const allTopics = requested === null || (version === 0 && requested.length === 0);
      const names = allTopics ? store.topicNames().sort() : [...new Set(requested)];
      const topics: TopicAnswer[] = names.map((name) => {
        let count = store.partitionCount(name);
        if (count === undefined && allowAutoCreate && config.autoCreateTopics) {
          const err = store.createTopic(name, config.defaultPartitions);
          if (err !== KafkaErrorCode.NONE) return { name, internal: false, errorCode: err, partitions: 0 };
          count = store.partitionCount(name);
        }
        return count === undefined
          ? { name, internal: false, errorCode: KafkaErrorCode.UNKNOWN_TOPIC_OR_PARTITION, partitions: 0 }
          : { name, internal: store.isInternal(name), errorCode: KafkaErrorCode.NONE, partitions: count };
      });

      const { nodeId, clusterId } = ctx.broker;
      const { host, port } = ctx.broker.endpoint();
      const w = new Writer(256 + topics.length * 64);
      if (version >= 3) w.writeInt32(0); // throttle_time_ms
      w.writeInt32(1); // brokers
      w.writeInt32(nodeId).writeString(host).writeInt32(port);
      if (version >= 1) w.writeNullableString(null); // rack
      if (version >= 2) w.writeNullableString(clusterId);
      if (version >= 1) w.writeInt32(nodeId); // controller_id
      w.writeArray(topics, (tw, t) => {
        tw.writeInt16(t.errorCode).writeString(t.name);
        if (version >= 1) tw.writeBoolean(t.internal); // is_internal
        tw.writeInt32(t.partitions);
        for (let p = 0; p < t.partitions; p++) {
          tw.writeInt16(KafkaErrorCode.NONE).writeInt32(p).writeInt32(nodeId);
          if (version >= 7) tw.writeInt32(0); // leader_epoch
          tw.writeInt32(1).writeInt32(nodeId); // replica_nodes
          tw.writeInt32(1).writeInt32(nodeId); // isr_nodes
          if (version >= 5) tw.writeInt32(0); // offline_replicas
        }
        if (version >= 8) tw.writeInt32(OPERATIONS_OMITTED);
      });
      if (version >= 8) w.writeInt32(OPERATIONS_OMITTED);
      return w;
    },
  };
}
