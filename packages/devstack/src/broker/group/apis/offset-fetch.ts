import type { ApiHandler } from '../../api-registry.js';
import { ApiKey } from '../../protocol/api-keys.js';
import { KafkaErrorCode } from '../../protocol/errors.js';
import type { Reader } from '../../protocol/reader.js';
import { topicReader, topicWriter, type TopicPartitions } from '../../protocol/topic-partitions.js';
import { Writer } from '../../protocol/writer.js';
import type { GroupCoordinator } from '../coordinator.js';

interface PartitionOffset {
  readonly partition: number;
  readonly offset: number;
  readonly metadata: string;
}

/**
 * OffsetFetch v1–v5 (https://kafka.apache.org/protocol#The_Messages_OffsetFetch). v6 is flexible
 * and deliberately not advertised: librdkafka would use it, and falls back to v5 when the broker's
 * maximum is 5 (WIRE-FACTS.md §3.3). A partition without a commit answers offset −1 with
 * metadata "" and no error, as Kafka 2.4 did (WIRE-FACTS.md §4.1); `topics = null` (v2+) lists every commit of
 * the group.
 */
export function offsetFetchHandler(coordinator: GroupCoordinator): ApiHandler {
  return {
    apiKey: ApiKey.OffsetFetch,
    minVersion: 1,
    maxVersion: 5,
    flexibleFrom: 6,
    handle(ctx, body: Reader) {
      const version = ctx.header.apiVersion;
      const groupId = body.readString();
      const readTopic = topicReader((pr) => pr.readInt32());
      const requested = version >= 2 ? body.readNullableArray(readTopic) : body.readArray(readTopic);

      let topics: TopicPartitions<PartitionOffset>[];
      if (requested === null) {
        const byTopic = new Map<string, PartitionOffset[]>();
        for (const c of coordinator.committedOffsets(groupId)) {
          const list = byTopic.get(c.topic) ?? [];
          list.push({ partition: c.partition, offset: c.offset, metadata: c.metadata });
          byTopic.set(c.topic, list);
        }
        topics = [...byTopic].map(([name, partitions]) => ({ name, partitions }));
      } else {
        topics = requested.map((t) => ({
          name: t.name,
          partitions: t.partitions.map((partition) => {
            const committed = coordinator.committedOffset(groupId, t.name, partition);
            return { partition, offset: committed?.offset ?? -1, metadata: committed?.metadata ?? '' };
          }),
        }));
      }

      const w = new Writer(128);
      if (version >= 3) w.writeInt32(0); // throttle_time_ms
      w.writeArray(
        topics,
        topicWriter((pw, p: PartitionOffset) => {
          pw.writeInt32(p.partition).writeInt64(p.offset);
          if (version >= 5) pw.writeInt32(-1); // committed_leader_epoch: not tracked
          pw.writeNullableString(p.metadata).writeInt16(KafkaErrorCode.NONE);
        }),
      );
      if (version >= 2) w.writeInt16(KafkaErrorCode.NONE);
      return w;
    },
  };
}
