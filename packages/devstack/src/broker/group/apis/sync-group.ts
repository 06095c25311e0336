import type { ApiHandler } from '../../api-registry.js';
import { ApiKey } from '../../protocol/api-keys.js';
import type { Reader } from '../../protocol/reader.js';
import { Writer } from '../../protocol/writer.js';
import type { GroupCoordinator } from '../coordinator.js';

/**
 * SyncGroup v0–v3 (https://kafka.apache.org/protocol#The_Messages_SyncGroup); v4 is flexible.
 * The leader sends every member's assignment; a follower's request is held until it arrives (or
 * the leader's session expires, which answers REBALANCE_IN_PROGRESS). As with JoinGroup, a closed
 * connection does not end the wait early; the answer is then simply not written.
 */
export function syncGroupHandler(coordinator: GroupCoordinator): ApiHandler {
  return {
    apiKey: ApiKey.SyncGroup,
    minVersion: 0,
    maxVersion: 3,
    flexibleFrom: 4,
    async handle(ctx, body: Reader) {
      const version = ctx.header.apiVersion;
      const groupId = body.readString();
      const generationId = body.readInt32();
      const memberId = body.readString();
      if (version >= 3) body.readNullableString(); // group_instance_id: static membership is not implemented
      const assignments = new Map<string, Buffer>();
      body.readArray((r) => {
        const member = r.readString();
        // Assignments outlive this request (a member may sync later); copy them out of the frame.
        assignments.set(member, Buffer.from(r.readBytes()));
      });

      const result = await coordinator.sync({ groupId, generationId, memberId, assignments });

      const w = new Writer(64);
      if (version >= 1) w.writeInt32(0); // throttle_time_ms
      return w.writeInt16(result.errorCode).writeBytes(result.assignment);
    },
  };
}
