import type { ApiHandler } from '../../api-registry.js';
import { ApiKey } from '../../protocol/api-keys.js';
import type { Reader } from '../../protocol/reader.js';
import { Writer } from '../../protocol/writer.js';
import type { GroupCoordinator } from '../coordinator.js';

/**
 * Heartbeat v0–v3 (https://kafka.apache.org/protocol#The_Messages_Heartbeat); v4 is flexible.
 * REBALANCE_IN_PROGRESS is how members learn they must rejoin (WIRE-FACTS.md §4.3).
 */
export function heartbeatHandler(coordinator: GroupCoordinator): ApiHandler {
  return {
    apiKey: ApiKey.Heartbeat,
    minVersion: 0,
    maxVersion: 3,
    flexibleFrom: 4,
    handle(ctx, body: Reader) {
      const version = ctx.header.apiVersion;
      const groupId = body.readString();
      const generationId = body.readInt32();
      const memberId = body.readString();
      if (version >= 3) body.readNullableString(); // group_instance_id
      const errorCode = coordinator.heartbeat({ groupId, generationId, memberId });
      const w = new Writer(8);
      if (version >= 1) w.writeInt32(0); // throttle_time_ms
      return w.writeInt16(errorCode);
    },
  };
}
