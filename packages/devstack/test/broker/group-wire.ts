import { ApiKey } from '../../src/broker/protocol/api-keys.js';
import { Reader } from '../../src/broker/protocol/reader.js';
import { Writer } from '../../src/broker/protocol/writer.js';
import { type RawConnection, requestFrame } from './raw-client.js';

/**
 * Group API requests written by hand, field by field as in the protocol guide, so tests can act
 * as a group member that kafkajs and kcat would never be (one that joins and then goes silent)
 * and check response layouts per version.
 */

let correlation = 1000;

/** Sends one request and returns a Reader positioned after the response's correlation id. */
export async function call(conn: RawConnection, apiKey: number, version: number, body: Writer, timeoutMs = 20_000): Promise<Reader> {
  const id = correlation++;
  conn.write(requestFrame(apiKey, version, id, body.toBuffer()));
  const frame = await conn.nextFrame(timeoutMs);
  if (frame === null) throw new Error(`no response to api ${apiKey} v${version}`);
  const r = new Reader(frame);
  const got = r.readInt32();
  if (got !== id) throw new Error(`correlation id ${got}, expected ${id}`);
  return r;
}

/** Consumer protocol subscription (ConsumerProtocolSubscription v0): what kafkajs puts in JoinGroup. */
export function subscriptionMetadata(topics: string[]): Buffer {
  return new Writer()
    .writeInt16(0)
    .writeArray(topics, (w, t) => w.writeString(t))
    .writeBytes(Buffer.alloc(0))
    .toBuffer();
}

/** Decodes a ConsumerProtocolAssignment v0 into topic → partitions. */
export function decodeAssignment(bytes: Buffer): Map<string, number[]> {
  const out = new Map<string, number[]>();
  if (bytes.length === 0) return out;
  const r = new Reader(bytes);
  r.readInt16();
  for (const t of r.readArray((tr) => ({ topic: tr.readString(), partitions: tr.readArray((pr) => pr.readInt32()) }))) {
    out.set(t.topic, t.partitions);
  }
  return out;
}

export interface JoinResponseV5 {
  readonly errorCode: number;
  readonly generationId: number;
  readonly protocolName: string;
  readonly leader: string;
  readonly memberId: string;
  readonly members: { memberId: string; groupInstanceId: string | null; metadata: Buffer }[];
}

export async function joinGroupV5(
  conn: RawConnection,
  opts: { groupId: string; memberId: string; sessionTimeoutMs: number; rebalanceTimeoutMs: number; protocols: { name: string; metadata: Buffer }[] },
): Promise<JoinResponseV5> {
  const body = new Writer()
    .writeString(opts.groupId)
    .writeInt32(opts.sessionTimeoutMs)
    .writeInt32(opts.rebalanceTimeoutMs)
    .writeString(opts.memberId)
    .writeNullableString(null)
    .writeString('consumer')
    .writeArray(opts.protocols, (w, p) => w.writeString(p.name).writeBytes(p.metadata));
  const r = await call(conn, ApiKey.JoinGroup, 5, body);
  r.readInt32(); // throttle_time_ms
  return {
    errorCode: r.readInt16(),
    generationId: r.readInt32(),
    protocolName: r.readString(),
    leader: r.readString(),
    memberId: r.readString(),
    members: r.readArray((m) => ({ memberId: m.readString(), groupInstanceId: m.readNullableString(), metadata: Buffer.from(m.readBytes()) })),
  };
}

export async function syncGroupV3(
  conn: RawConnection,
  opts: { groupId: string; generationId: number; memberId: string; assignments: { memberId: string; assignment: Buffer }[] },
): Promise<{ errorCode: number; assignment: Buffer }> {
  const body = new Writer()
    .writeString(opts.groupId)
    .writeInt32(opts.generationId)
    .writeString(opts.memberId)
    .writeNullableString(null)
    .writeArray(opts.assignments, (w, a) => w.writeString(a.memberId).writeBytes(a.assignment));
  const r = await call(conn, ApiKey.SyncGroup, 3, body);
  r.readInt32(); // throttle_time_ms
  return { errorCode: r.readInt16(), assignment: Buffer.from(r.readBytes()) };
}

export async function heartbeatV3(conn: RawConnection, opts: { groupId: string; generationId: number; memberId: string }): Promise<number> {
  const body = new Writer().writeString(opts.groupId).writeInt32(opts.generationId).writeString(opts.memberId).writeNullableString(null);
  const r = await call(conn, ApiKey.Heartbeat, 3, body);
  r.readInt32(); // throttle_time_ms
  return r.readInt16();
}
