import type { ApiHandler } from '../api-registry.js';
import type { BrokerState } from '../broker-state.js';
import { ApiKey } from '../protocol/api-keys.js';
import { KafkaErrorCode } from '../protocol/errors.js';
import type { Reader } from '../protocol/reader.js';
import { topicReader, topicWriter } from '../protocol/topic-partitions.js';
import { Writer } from '../protocol/writer.js';

const LATEST = -1;
const EARLIEST = -2;
const READ_COMMITTED = 1;

interface PartitionAnswer {
  readonly index: number;
  readonly errorCode: KafkaErrorCode;
  readonly timestamp: number;
  readonly offset: number;
}

/**
 * ListOffsets v0–v5 (https://kafka.apache.org/protocol#The_Messages_ListOffsets): latest (−1) is
 * the high watermark, or the last stable offset under isolation_level 1 (READ_COMMITTED, v2+, what
 * both clients send), earliest (−2) the log start, any other timestamp the first record at or
 * after it (offset −1 when there is none; under READ_COMMITTED only below the last stable offset).
 */
export function listOffsetsHandler(state: BrokerState): ApiHandler {
  return {
    apiKey: ApiKey.ListOffsets,
    minVersion: 0,
    maxVersion: 5,
    handle(ctx, body: Reader) {
      const version = ctx.header.apiVersion;
      body.readInt32(); // replica_id
      const readCommitted = version >= 2 && body.readInt8() === READ_COMMITTED;
      const topics = body.readArray(
        topicReader((pr) => {
          const index = pr.readInt32();
          if (version >= 4) pr.readInt32(); // current_leader_epoch
          const timestamp = pr.readInt64Number();
          if (version === 0) pr.readInt32(); // max_num_offsets
          return { index, timestamp };
        }),
      );

      const answers = topics.map((t) => ({
        name: t.name,
        partitions: t.partitions.map((p): PartitionAnswer => {
          const log = state.store.partition(t.name, p.index);
          if (log === undefined) return { index: p.index, errorCode: KafkaErrorCode.UNKNOWN_TOPIC_OR_PARTITION, timestamp: -1, offset: -1 };
          const upper = readCommitted ? log.lastStableOffset : log.highWatermark;
          if (p.timestamp === LATEST) return { index: p.index, errorCode: KafkaErrorCode.NONE, timestamp: -1, offset: upper };
          if (p.timestamp === EARLIEST) return { index: p.index, errorCode: KafkaErrorCode.NONE, timestamp: -1, offset: log.logStartOffset };
          const found = log.offsetForTimestamp(p.timestamp);
          const hit = found !== null && found.offset < upper ? found : null;
          return { index: p.index, errorCode: KafkaErrorCode.NONE, timestamp: hit?.timestamp ?? -1, offset: hit?.offset ?? -1 };
        }),
      }));

      const w = new Writer(128);
      if (version >= 2) w.writeInt32(0); // throttle_time_ms
      w.writeArray(
        answers,
        topicWriter((pw, p: PartitionAnswer) => {
          pw.writeInt32(p.index).writeInt16(p.errorCode);
          if (version === 0) {
            // old_style_offsets: v0 answers a list; one entry, or none when there is no offset.
            if (p.offset >= 0) pw.writeInt32(1).writeInt64(p.offset);
            else pw.writeInt32(0);
          } else {
            pw.writeInt64(p.timestamp).writeInt64(p.offset);
            if (version >= 4) pw.writeInt32(0); // leader_epoch
          }
        }),
      );
      return w;
    },
  };
}
