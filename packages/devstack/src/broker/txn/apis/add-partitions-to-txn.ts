import type { ApiHandler } from '../../api-registry.js';
import { ApiKey } from '../../protocol/api-keys.js';
import type { Reader } from '../../protocol/reader.js';
import { topicReader, topicWriter } from '../../protocol/topic-partitions.js';
import { Writer } from '../../protocol/writer.js';
import type { TransactionCoordinator } from '../coordinator.js';

/**
 * AddPartitionsToTxn v0–v1 (https://kafka.apache.org/protocol#The_Messages_AddPartitionsToTxn);
 * v2 only adds PRODUCER_FENCED and v3 is flexible. kafkajs 2.2.4 sends v1 before the first
 * Produce of each partition in a transaction.
 */
export function addPartitionsToTxnHandler(coordinator: TransactionCoordinator): ApiHandler {
  return {
    apiKey: ApiKey.AddPartitionsToTxn,
    minVersion: 0,
    maxVersion: 1,
    flexibleFrom: 3,
    handle(_ctx, body: Reader) {
      const transactionalId = body.readString();
      const producerId = body.readInt64Number();
      const producerEpoch = body.readInt16();
      const topics = body.readArray(topicReader((pr) => pr.readInt32()));
      const flat = topics.flatMap((t) => t.partitions.map((p) => [t.name, p] as const));
      const errors = coordinator.addPartitions(transactionalId, producerId, producerEpoch, flat);
      let i = 0;
      const answers = topics.map((t) => ({ name: t.name, partitions: t.partitions.map((p) => ({ index: p, errorCode: errors[i++] as number })) }));
      const w = new Writer(64);
      w.writeInt32(0); // throttle_time_ms
      return w.writeArray(answers, topicWriter((pw, p) => pw.writeInt32(p.index).writeInt16(p.errorCode)));
    },
  };
}
