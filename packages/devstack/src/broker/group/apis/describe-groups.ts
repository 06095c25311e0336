import type { ApiHandler } from '../../api-registry.js';
import { ApiKey } from '../../protocol/api-keys.js';
import type { Reader } from '../../protocol/reader.js';
import { Writer } from '../../protocol/writer.js';
import type { GroupCoordinator } from '../coordinator.js';

/** "Not requested" value of `authorized_operations` (Integer.MIN_VALUE). */
const OPERATIONS_NOT_REQUESTED = -2147483648;
/**
 * Without an authorizer Kafka 2.4 reports every operation a group supports: READ (3), DELETE (6)
 * and DESCRIBE (8), as a bit field.
 */
const ALL_GROUP_OPERATIONS = (1 << 3) | (1 << 6) | (1 << 8);

/**
 * DescribeGroups v0–v4 (https://kafka.apache.org/protocol#The_Messages_DescribeGroups); v5 is
 * flexible. An unknown group is answered with error 0 and state "Dead" (WIRE-FACTS.md §4.1).
 */
export function describeGroupsHandler(coordinator: GroupCoordinator): ApiHandler {
  return {
    apiKey: ApiKey.DescribeGroups,
    minVersion: 0,
    maxVersion: 4,
    flexibleFrom: 5,
    handle(ctx, body: Reader) {
      const version = ctx.header.apiVersion;
      const groupIds = body.readArray((r) => r.readString());
      const includeOperations = version >= 3 ? body.readBoolean() : false;

      const w = new Writer(256);
      if (version >= 1) w.writeInt32(0); // throttle_time_ms
      return w.writeArray(groupIds, (gw, groupId) => {
        const g = coordinator.describe(groupId);
        gw.writeInt16(g.errorCode)
          .writeString(g.groupId)
          .writeString(g.state)
          .writeString(g.protocolType)
          .writeString(g.protocolData)
          .writeArray(g.members, (mw, m) => {
            mw.writeString(m.memberId);
            if (version >= 4) mw.writeNullableString(m.groupInstanceId);
            mw.writeString(m.clientId).writeString(m.clientHost).writeBytes(m.metadata).writeBytes(m.assignment);
          });
        if (version >= 3) gw.writeInt32(includeOperations ? ALL_GROUP_OPERATIONS : OPERATIONS_NOT_REQUESTED);
      });
    },
  };
}
