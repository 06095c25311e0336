import type { ApiHandler } from '../api-registry.js';
import type { BrokerState } from '../broker-state.js';
import { ApiKey } from '../protocol/api-keys.js';
import { KafkaErrorCode } from '../protocol/errors.js';
import type { Reader } from '../protocol/reader.js';
import { Writer } from '../protocol/writer.js';

/**
 * InitProducerId v0–v1 (https://kafka.apache.org/protocol#The_Messages_InitProducerId); v2 is
 * flexible and not advertised, so librdkafka falls back to v1 (WIRE-FACTS.md §3.3).
 *
 * Idempotent producers (transactional_id null) get a fresh id (epoch 0), persisted before the
 * answer so a restarted broker never hands it out again; a failed write answers
 * COORDINATOR_NOT_AVAILABLE, which clients retry. A transactional id goes to the transaction
 * coordinator (`txn/coordinator.ts`), which bumps the id's epoch and so fences older instances.
 */
export function initProducerIdHandler(state: BrokerState): ApiHandler {
  return {
    apiKey: ApiKey.InitProducerId,
    minVersion: 0,
    maxVersion: 1,
    async handle(ctx, body: Reader) {
      const transactionalId = body.readNullableString();
      const transactionTimeoutMs = body.readInt32();
      const w = new Writer(24);
      w.writeInt32(0); // throttle_time_ms
      if (transactionalId !== null) {
        const result = await state.transactions.initProducerId(transactionalId, transactionTimeoutMs);
        return w.writeInt16(result.errorCode).writeInt64(result.producerId).writeInt16(result.producerEpoch);
      }
      let producerId: number;
      try {
        producerId = state.store.allocateProducerId();
      } catch (err) {
        // The id could not be persisted (disk full, failing): answer a retriable error rather than
        // drop the connection; kafkajs and librdkafka back off and ask again.
        ctx.broker.logger.error({ err }, 'producer id not persisted; answering COORDINATOR_NOT_AVAILABLE');
        return w.writeInt16(KafkaErrorCode.COORDINATOR_NOT_AVAILABLE).writeInt64(-1).writeInt16(-1);
      }
      return w.writeInt16(KafkaErrorCode.NONE).writeInt64(producerId).writeInt16(0);
    },
  };
}
