import type { ApiHandler } from '../../api-registry.js';
import { ApiKey } from '../../protocol/api-keys.js';
import type { Reader } from '../../protocol/reader.js';
import { Writer } from '../../protocol/writer.js';
import type { TransactionCoordinator } from '../coordinator.js';

/**
 * EndTxn v0–v1 (https://kafka.apache.org/protocol#The_Messages_EndTxn); v3 is flexible. Answered
 * once the markers are in every partition of the transaction and its offsets are committed (Kafka
 * answers after PrepareCommit is written and sends the markers afterwards; a consumer cannot tell
 * the difference, since the last stable offset moves only with the markers either way).
 */
export function endTxnHandler(coordinator: TransactionCoordinator): ApiHandler {
  return {
    apiKey: ApiKey.EndTxn,
    minVersion: 0,
    maxVersion: 1,
    flexibleFrom: 3,
    async handle(_ctx, body: Reader) {
      const transactionalId = body.readString();
      const producerId = body.readInt64Number();
      const producerEpoch = body.readInt16();
      const committed = body.readBoolean();
      const errorCode = await coordinator.endTxn(transactionalId, producerId, producerEpoch, committed);
      return new Writer(8).writeInt32(0).writeInt16(errorCode); // throttle_time_ms, error_code
    },
  };
}
