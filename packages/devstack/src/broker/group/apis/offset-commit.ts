import type { ApiHandler } from '../../api-registry.js';
import { ApiKey } from '../../protocol/api-keys.js';
import { KafkaErrorCode } from '../../protocol/errors.js';
import type { Reader } from '../../protocol/reader.js';
import { topicReader } from '../../protocol/topic-partitions.js';
import { Writer } from '../../protocol/writer.js';
import type { GroupCoordinator } from '../coordinator.js';
import { screenCommits, type PartitionCommit } from './commit-screen.js';

/**
 * OffsetCommit v2–v7 (https://kafka.apache.org/protocol#The_Messages_OffsetCommit); v8 is
 * flexible. kafkajs sends v5, one partition per request; librdkafka v7 with all partitions
 * (WIRE-FACTS.md §4.3, §4.4). The retention time (v2–v4) is ignored, as Kafka ≥ 2.1 does for
 * group members; a null metadata is stored as "".
 *
 * Partitions of unknown topics get UNKNOWN_TOPIC_OR_PARTITION and oversized metadata
 * OFFSET_METADATA_TOO_LARGE; the rest share the coordinator's membership verdict. The commit is
 * on disk before the response is written.
 */
export function offsetCommitHandler(coordinator: GroupCoordinator): ApiHandler {
  return {
    apiKey: ApiKey.OffsetCommit,
    minVersion: 2,
    maxVersion: 7,
    flexibleFrom: 8,
    handle(ctx, body: Reader) {
      const version = ctx.header.apiVersion;
      const groupId = body.readString();
      const generationId = body.readInt32();
      const memberId = body.readString();
      if (version >= 7) body.readNullableString(); // group_instance_id
      if (version <= 4) body.readInt64(); // retention_time_ms
      const topics = body.readArray(
        topicReader((pr): PartitionCommit => {
          const partition = pr.readInt32();
          const offset = pr.readInt64Number();
          if (version >= 6) pr.readInt32(); // committed_leader_epoch
          return { partition, offset, metadata: pr.readNullableString() };
        }),
      );

      const screened = screenCommits(ctx.broker, topics);
      const verdict =
        groupId === ''
          ? KafkaErrorCode.INVALID_GROUP_ID
          : coordinator.commitOffsets({ groupId, generationId, memberId }, screened.accepted);

      const w = new Writer(64);
      if (version >= 3) w.writeInt32(0); // throttle_time_ms
      return screened.answer(w, verdict);
    },
  };
}
