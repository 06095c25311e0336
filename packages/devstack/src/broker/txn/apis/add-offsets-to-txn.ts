import type { ApiHandler } from '../../api-registry.js';
import { ApiKey } from '../../protocol/api-keys.js';
import type { Reader } from '../../protocol/reader.js';
import { Writer } from '../../protocol/writer.js';
import type { TransactionCoordinator } from '../coordinator.js';

/**
 * AddOffsetsToTxn v0–v1 (https://kafka.apache.org/protocol#The_Messages_AddOffsetsToTxn); v3 is
 * flexible. kafkajs's `sendOffsets` sends it before the TxnOffsetCommit to the group coordinator.
 */
export function addOffsetsToTxnHandler(coordinator: TransactionCoordinator): ApiHandler {
  return {
    apiKey: ApiKey.AddOffsetsToTxn,
    minVersion: 0,
    maxVersion: 1,
    flexibleFrom: 3,
    handle(_ctx, body: Reader) {
      const transactionalId = body.readString();
      const producerId = body.readInt64Number();
      const producerEpoch = body.readInt16();
      const groupId = body.readString();
      const errorCode = coordinator.addOffsets(transactionalId, producerId, producerEpoch, groupId);
      return new Writer(8).writeInt32(0).writeInt16(errorCode); // throttle_time_ms, error_code
    },
  };
}
