import type { ApiHandler } from '../../api-registry.js';
import { ApiKey } from '../../protocol/api-keys.js';
import { KafkaErrorCode } from '../../protocol/errors.js';
import { Writer } from '../../protocol/writer.js';
import type { GroupCoordinator } from '../coordinator.js';

/**
 * ListGroups v0–v2 (https://kafka.apache.org/protocol#The_Messages_ListGroups); v3 is flexible.
 * The request has no fields below v4.
 */
export function listGroupsHandler(coordinator: GroupCoordinator): ApiHandler {
  return {
    apiKey: ApiKey.ListGroups,
    minVersion: 0,
    maxVersion: 2,
    flexibleFrom: 3,
    handle(ctx) {
      const w = new Writer(128);
      if (ctx.header.apiVersion >= 1) w.writeInt32(0); // throttle_time_ms
      w.writeInt16(KafkaErrorCode.NONE);
      return w.writeArray(coordinator.list(), (gw, g) => gw.writeString(g.groupId).writeString(g.protocolType));
    },
  };
}
