import type { ApiHandler } from '../../api-registry.js';
import { ApiKey } from '../../protocol/api-keys.js';
import type { Reader } from '../../protocol/reader.js';
import { Writer } from '../../protocol/writer.js';
import type { GroupCoordinator } from '../coordinator.js';

/**
 * LeaveGroup v0–v3 (https://kafka.apache.org/protocol#The_Messages_LeaveGroup); v4 is flexible.
 * librdkafka sends v1 (one member_id), kafkajs v3 (a `members` batch, KIP-345) and reads a
 * per-member error (WIRE-FACTS.md §4.3, §4.4).
 */
export function leaveGroupHandler(coordinator: GroupCoordinator): ApiHandler {
  return {
    apiKey: ApiKey.LeaveGroup,
    minVersion: 0,
    maxVersion: 3,
    flexibleFrom: 4,
    handle(ctx, body: Reader) {
      const version = ctx.header.apiVersion;
      const groupId = body.readString();
      const w = new Writer(64);
      if (version >= 1) w.writeInt32(0); // throttle_time_ms

      if (version < 3) {
        const result = coordinator.leave(groupId, [body.readString()]);
        // Before v3 the one member's error is the response's error.
        return w.writeInt16(result.members[0]?.errorCode ?? result.errorCode);
      }

      const leaving = body.readArray((r) => ({ memberId: r.readString(), groupInstanceId: r.readNullableString() }));
      const result = coordinator.leave(groupId, leaving.map((m) => m.memberId));
      w.writeInt16(result.errorCode);
      // One answer per leaving member, in request order; the instance id is echoed back.
      const answers = result.members.map((m, i) => ({ ...m, groupInstanceId: leaving[i]?.groupInstanceId ?? null }));
      return w.writeArray(answers, (mw, m) => {
        mw.writeString(m.memberId).writeNullableString(m.groupInstanceId).writeInt16(m.errorCode);
      });
    },
  };
}
