import type { ApiHandler } from '../../api-registry.js';
import { ApiKey } from '../../protocol/api-keys.js';
import { KafkaErrorCode } from '../../protocol/errors.js';
import type { Reader } from '../../protocol/reader.js';
import { Writer } from '../../protocol/writer.js';

const KEY_TYPE_GROUP = 0;
const KEY_TYPE_TRANSACTION = 1;

/**
 * FindCoordinator v0–v2 (https://kafka.apache.org/protocol#The_Messages_FindCoordinator); v3 is
 * flexible. A single node is every group's coordinator, so the answer is always this broker's
 * advertised endpoint (WIRE-FACTS.md §6). Kafka 2.4 filled `error_message` with "NONE" on
 * success (WIRE-FACTS.md §4.1), so this does too. The node is also every transactional id's coordinator (the
 * broker's built-in `txn/coordinator.ts`), so key_type 1 gets the same answer; an empty
 * transactional id is INVALID_REQUEST, as in Kafka, and so is any other key type.
 */
export function findCoordinatorHandler(): ApiHandler {
  return {
    apiKey: ApiKey.FindCoordinator,
    minVersion: 0,
    maxVersion: 2,
    flexibleFrom: 3,
    handle(ctx, body: Reader) {
      const version = ctx.header.apiVersion;
      const key = body.readString(); // the group or transactional id; one node coordinates all
      const keyType = version >= 1 ? body.readInt8() : KEY_TYPE_GROUP;
      const w = new Writer(48);
      if (version >= 1) w.writeInt32(0); // throttle_time_ms
      const refusal =
        keyType === KEY_TYPE_TRANSACTION ? (key === '' ? 'empty transactional id' : null) : keyType === KEY_TYPE_GROUP ? null : `unknown key type ${keyType}`;
      if (refusal !== null) {
        w.writeInt16(KafkaErrorCode.INVALID_REQUEST);
        if (version >= 1) w.writeNullableString(refusal);
        return w.writeInt32(-1).writeString('').writeInt32(-1);
      }
      const { host, port } = ctx.broker.endpoint();
      w.writeInt16(KafkaErrorCode.NONE);
      if (version >= 1) w.writeNullableString('NONE');
      return w.writeInt32(ctx.broker.nodeId).writeString(host).writeInt32(port);
    },
  };
}
