import type { ApiHandler } from '../../api-registry.js';
import { ApiKey } from '../../protocol/api-keys.js';
import type { Reader } from '../../protocol/reader.js';
import { Writer } from '../../protocol/writer.js';
import type { GroupCoordinator } from '../coordinator.js';
import { clientHost } from './client-host.js';

/**
 * JoinGroup v0–v5 (https://kafka.apache.org/protocol#The_Messages_JoinGroup); v6 is flexible.
 * Both clients use v5 (WIRE-FACTS.md §2). From v4 a first join is answered with
 * MEMBER_ID_REQUIRED (KIP-394); the response may be held until the group's rebalance completes,
 * which only delays this connection.
 *
 * A held join deliberately ignores `ctx.connection.closed`: like Kafka, which cannot see the
 * disconnect of a muted channel either, the member stays in the rebalance, and the rebalance
 * timeout and then its session timeout remove it if it never comes back.
 */
export function joinGroupHandler(coordinator: GroupCoordinator): ApiHandler {
  return {
    apiKey: ApiKey.JoinGroup,
    minVersion: 0,
    maxVersion: 5,
    flexibleFrom: 6,
    async handle(ctx, body: Reader) {
      const version = ctx.header.apiVersion;
      const groupId = body.readString();
      const sessionTimeoutMs = body.readInt32();
      // v0 has no rebalance timeout; Kafka then uses the session timeout.
      const rebalanceTimeoutMs = version >= 1 ? body.readInt32() : sessionTimeoutMs;
      const memberId = body.readString();
      const groupInstanceId = version >= 5 ? body.readNullableString() : null;
      const protocolType = body.readString();
      const protocols = body.readArray((r) => ({
        name: r.readString(),
        // The coordinator keeps metadata past this request; copy it out of the frame buffer.
        metadata: Buffer.from(r.readBytes()),
      }));

      const result = await coordinator.join({
        groupId,
        memberId,
        groupInstanceId,
        clientId: ctx.header.clientId ?? '',
        clientHost: clientHost(ctx),
        sessionTimeoutMs,
        rebalanceTimeoutMs,
        protocolType,
        protocols,
        requireKnownMemberId: version >= 4,
      });

      const w = new Writer(128);
      if (version >= 2) w.writeInt32(0); // throttle_time_ms
      w.writeInt16(result.errorCode)
        .writeInt32(result.generationId)
        .writeString(result.protocolName)
        .writeString(result.leaderId)
        .writeString(result.memberId)
        .writeArray(result.members, (mw, m) => {
          mw.writeString(m.memberId);
          if (version >= 5) mw.writeNullableString(m.groupInstanceId);
          mw.writeBytes(m.metadata);
        });
      return w;
    },
  };
}
