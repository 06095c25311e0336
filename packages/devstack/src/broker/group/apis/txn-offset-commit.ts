import type { ApiHandler } from '../../api-registry.js';
import { ApiKey } from '../../protocol/api-keys.js';
import { KafkaErrorCode } from '../../protocol/errors.js';
import type { Reader } from '../../protocol/reader.js';
import { topicReader } from '../../protocol/topic-partitions.js';
import { Writer } from '../../protocol/writer.js';
import type { GroupCoordinator } from '../coordinator.js';
import { screenCommits } from './commit-screen.js';

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

      const screened = screenCommits(ctx.broker, topics);
      let verdict: number = ctx.broker.transactions.checkOffsetCommit(transactionalId, producerId, producerEpoch, groupId);
      if (groupId === '') verdict = KafkaErrorCode.INVALID_GROUP_ID;
      else if (verdict === KafkaErrorCode.NONE) verdict = coordinator.commitTxnOffsets(groupId, producerId, screened.accepted);

      const w = new Writer(64);
      w.writeInt32(0); // throttle_time_ms
      return screened.answer(w, verdict);
    },
  };
}
