import type { ApiHandler } from '../../api-registry.js';
import { ApiKey } from '../../protocol/api-keys.js';
import { KafkaErrorCode } from '../../protocol/errors.js';
import type { Reader } from '../../protocol/reader.js';
import { topicReader, topicWriter } from '../../protocol/topic-partitions.js';
import { Writer } from '../../protocol/writer.js';
import type { GroupCoordinator } from '../coordinator.js';
import type { OffsetCommitEntry } from '../offset-store.js';
import { MAX_METADATA_BYTES } from './offset-commit.js';

/**
 * TxnOffsetCommit v0–v2 (https://kafka.apache.org/protocol#The_Messages_TxnOffsetCommit); v3 is
 * flexible. kafkajs's `sendOffsets` sends v1 after AddOffsetsToTxn. The offsets stay pending
 * (OffsetFetch does not see them) until the transaction commits; an abort drops them.
 *
 * The transaction coordinator is asked first whether the producer id and epoch still hold the
 * transactional id and its ongoing transaction added the group, so a fenced producer gets
 * INVALID_PRODUCER_EPOCH here too. Unknown partitions get UNKNOWN_TOPIC_OR_PARTITION, oversized
 * metadata OFFSET_METADATA_TOO_LARGE, as OffsetCommit does.
 */
export function txnOffsetCommitHandler(coordinator: GroupCoordinator): ApiHandler {
  return {
    apiKey: ApiKey.TxnOffsetCommit,
    minVersion: 0,
    maxVersion: 2,
    flexibleFrom: 3,
    handle(ctx, body: Reader) {
      const version = ctx.header.apiVersion;
      const transactionalId = body.readString();
      const groupId = body.readString();
      const producerId = body.readInt64Number();
      const producerEpoch = body.readInt16();
      const topics = body.readArray(
        topicReader((pr) => {
          const partition = pr.readInt32();
          const offset = pr.readInt64Number();
          if (version >= 2) pr.readInt32(); // committed_leader_epoch
          return { partition, offset, metadata: pr.readNullableString() };
        }),
      );

      const errors = new Map<string, number>();
      const key = (topic: string, partition: number): string => `${partition}:${topic}`;
      const accepted: OffsetCommitEntry[] = [];
      for (const t of topics) {
        const partitionCount = ctx.broker.topics.partitionCount(t.name);
        for (const p of t.partitions) {
          if (partitionCount === undefined || p.partition < 0 || p.partition >= partitionCount) {
            errors.set(key(t.name, p.partition), KafkaErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
          } else if (p.metadata !== null && Buffer.byteLength(p.metadata) > MAX_METADATA_BYTES) {
            errors.set(key(t.name, p.partition), KafkaErrorCode.OFFSET_METADATA_TOO_LARGE);
          } else {
            accepted.push({ topic: t.name, partition: p.partition, offset: p.offset, metadata: p.metadata ?? '' });
          }
        }
      }
      let verdict: number = ctx.broker.transactions.checkOffsetCommit(transactionalId, producerId, producerEpoch, groupId);
      if (groupId === '') verdict = KafkaErrorCode.INVALID_GROUP_ID;
      else if (verdict === KafkaErrorCode.NONE) verdict = coordinator.commitTxnOffsets(groupId, producerId, accepted);

      const answers = topics.map((t) => ({
        name: t.name,
        partitions: t.partitions.map((p) => ({ partition: p.partition, errorCode: errors.get(key(t.name, p.partition)) ?? verdict })),
      }));
      const w = new Writer(64);
      w.writeInt32(0); // throttle_time_ms
      return w.writeArray(answers, topicWriter((pw, p) => pw.writeInt32(p.partition).writeInt16(p.errorCode)));
    },
  };
}
