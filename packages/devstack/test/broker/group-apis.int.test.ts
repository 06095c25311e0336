import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startBroker, type BrokerHandle } from '../../src/broker/index.js';
import { ApiKey } from '../../src/broker/protocol/api-keys.js';
import type { Reader } from '../../src/broker/protocol/reader.js';
import { Writer } from '../../src/broker/protocol/writer.js';
import { uniqueName } from '../helpers/unique.js';
import { call, joinGroupV5, subscriptionMetadata } from './group-wire.js';
import { kafkaClient } from './kafkajs-helpers.js';
import { RawConnection } from './raw-client.js';

/**
 * Response layouts of the group APIs per version, read field by field as the protocol guide
 * defines them — the versions librdkafka and kafkajs pick depend on what ApiVersions advertises.
 */

let broker: BrokerHandle;
let conn: RawConnection;
beforeAll(async () => {
  broker = await startBroker({ port: 0 });
});
afterAll(async () => {
  await broker.close();
});
beforeEach(async () => {
  conn = await RawConnection.open(broker.port);
});
afterEach(() => {
  conn.close();
});

async function createTopic(partitions: number): Promise<string> {
  const topic = uniqueName('gapi');
  const admin = kafkaClient(broker.address).admin();
  await admin.connect();
  try {
    await admin.createTopics({ topics: [{ topic, numPartitions: partitions }] });
  } finally {
    await admin.disconnect();
  }
  return topic;
}

interface FetchedOffset {
  topic: string;
  partition: number;
  offset: number;
  leaderEpoch?: number;
  metadata: string | null;
  errorCode: number;
}

function readOffsetFetch(r: Reader, version: number): { topics: FetchedOffset[]; errorCode: number } {
  if (version >= 3) r.readInt32(); // throttle_time_ms
  const topics = r
    .readArray((tr) => {
      const topic = tr.readString();
      return tr.readArray((pr): FetchedOffset => {
        const partition = pr.readInt32();
        const offset = pr.readInt64Number();
        const leaderEpoch = version >= 5 ? pr.readInt32() : undefined;
        return { topic, partition, offset, ...(leaderEpoch === undefined ? {} : { leaderEpoch }), metadata: pr.readNullableString(), errorCode: pr.readInt16() };
      });
    })
    .flat();
  const errorCode = version >= 2 ? r.readInt16() : 0;
  expect(r.remaining).toBe(0);
  return { topics, errorCode };
}

describe('group APIs on the wire', () => {
  it('advertises every group API below its first flexible version', async () => {
    const r = await call(conn, ApiKey.ApiVersions, 0, new Writer());
    expect(r.readInt16()).toBe(0);
    const ranges = new Map(r.readArray((a) => [a.readInt16(), [a.readInt16(), a.readInt16()]] as const));
    expect(ranges.get(ApiKey.OffsetCommit)).toEqual([2, 7]);
    expect(ranges.get(ApiKey.OffsetFetch)).toEqual([1, 5]);
    expect(ranges.get(ApiKey.FindCoordinator)).toEqual([0, 2]);
    expect(ranges.get(ApiKey.JoinGroup)).toEqual([0, 5]);
    expect(ranges.get(ApiKey.Heartbeat)).toEqual([0, 3]);
    expect(ranges.get(ApiKey.LeaveGroup)).toEqual([0, 3]);
    expect(ranges.get(ApiKey.SyncGroup)).toEqual([0, 3]);
    expect(ranges.get(ApiKey.DescribeGroups)).toEqual([0, 4]);
    expect(ranges.get(ApiKey.ListGroups)).toEqual([0, 2]);
  });

  it('FindCoordinator names this broker (v0 and v2), for groups and transactional ids', async () => {
    const v0 = await call(conn, ApiKey.FindCoordinator, 0, new Writer().writeString('g'));
    expect([v0.readInt16(), v0.readInt32(), v0.readString(), v0.readInt32(), v0.remaining]).toEqual([0, 0, broker.host, broker.port, 0]);

    const v2 = await call(conn, ApiKey.FindCoordinator, 2, new Writer().writeString('g').writeInt8(0));
    expect([v2.readInt32(), v2.readInt16(), v2.readNullableString(), v2.readInt32(), v2.readString(), v2.readInt32()]).toEqual([
      0,
      0,
      'NONE',
      0,
      broker.host,
      broker.port,
    ]);

    const txn = await call(conn, ApiKey.FindCoordinator, 2, new Writer().writeString('tx').writeInt8(1));
    expect([txn.readInt32(), txn.readInt16(), txn.readNullableString(), txn.readInt32(), txn.readString(), txn.readInt32()]).toEqual([
      0,
      0,
      'NONE',
      0,
      broker.host,
      broker.port,
    ]);

    const emptyTxn = await call(conn, ApiKey.FindCoordinator, 2, new Writer().writeString('').writeInt8(1));
    emptyTxn.readInt32();
    expect(emptyTxn.readInt16()).toBe(42); // INVALID_REQUEST
  });

  it('OffsetCommit v2 and v7 store offsets that OffsetFetch v1 and v5 return; unknown partitions are refused', async () => {
    const topic = await createTopic(3);
    const groupId = uniqueName('gapi-g');

    // v2: generation -1 and no member (a "simple" commit), with retention_time; one partition does not exist.
    const commitV2 = new Writer()
      .writeString(groupId)
      .writeInt32(-1)
      .writeString('')
      .writeInt64(-1)
      .writeArray([topic], (w, t) =>
        w.writeString(t).writeArray([0, 7], (pw, p) => pw.writeInt32(p).writeInt64(100 + p).writeNullableString(null)),
      );
    const r2 = await call(conn, ApiKey.OffsetCommit, 2, commitV2);
    expect(r2.readArray((t) => [t.readString(), t.readArray((p) => [p.readInt32(), p.readInt16()])])).toEqual([
      [topic, [[0, 0], [7, 3]]],
    ]);

    // v7: group_instance_id and committed_leader_epoch present.
    const commitV7 = new Writer()
      .writeString(groupId)
      .writeInt32(-1)
      .writeString('')
      .writeNullableString(null)
      .writeArray([topic], (w, t) =>
        w.writeString(t).writeArray([1], (pw, p) => pw.writeInt32(p).writeInt64(42).writeInt32(-1).writeNullableString('kcat-meta')),
      );
    const r7 = await call(conn, ApiKey.OffsetCommit, 7, commitV7);
    expect(r7.readInt32()).toBe(0);
    expect(r7.readArray((t) => [t.readString(), t.readArray((p) => [p.readInt32(), p.readInt16()])])).toEqual([[topic, [[1, 0]]]]);

    const fetchV1 = new Writer().writeString(groupId).writeArray([topic], (w, t) => w.writeString(t).writeArray([0, 1, 2], (pw, p) => pw.writeInt32(p)));
    expect(readOffsetFetch(await call(conn, ApiKey.OffsetFetch, 1, fetchV1), 1).topics).toEqual([
      { topic, partition: 0, offset: 100, metadata: '', errorCode: 0 },
      { topic, partition: 1, offset: 42, metadata: 'kcat-meta', errorCode: 0 },
      // Never committed: -1 and "" (not null), no error, as Kafka 2.4 answers.
      { topic, partition: 2, offset: -1, metadata: '', errorCode: 0 },
    ]);

    const fetchAllV5 = new Writer().writeString(groupId).writeInt32(-1);
    expect(readOffsetFetch(await call(conn, ApiKey.OffsetFetch, 5, fetchAllV5), 5)).toEqual({
      topics: [
        { topic, partition: 0, offset: 100, leaderEpoch: -1, metadata: '', errorCode: 0 },
        { topic, partition: 1, offset: 42, leaderEpoch: -1, metadata: 'kcat-meta', errorCode: 0 },
      ],
      errorCode: 0,
    });
  });

  it('OffsetCommit with a generation for a group that has none is ILLEGAL_GENERATION', async () => {
    const topic = await createTopic(1);
    const commit = new Writer()
      .writeString(uniqueName('gapi-nogen'))
      .writeInt32(5)
      .writeString('someone')
      .writeArray([topic], (w, t) => w.writeString(t).writeArray([0], (pw, p) => pw.writeInt32(p).writeInt64(1).writeNullableString(null)));
    const r = await call(conn, ApiKey.OffsetCommit, 5, commit);
    r.readInt32();
    expect(r.readArray((t) => [t.readString(), t.readArray((p) => [p.readInt32(), p.readInt16()])])).toEqual([[topic, [[0, 22]]]]);
  });

  it('DescribeGroups: an unknown group is Dead with error 0; a joined group shows its member (v0 and v4)', async () => {
    const unknown = uniqueName('gapi-none');
    const r0 = await call(conn, ApiKey.DescribeGroups, 0, new Writer().writeArray([unknown], (w, g) => w.writeString(g)));
    expect(
      r0.readArray((g) => [g.readInt16(), g.readString(), g.readString(), g.readString(), g.readString(), g.readArray(() => null)]),
    ).toEqual([[0, unknown, 'Dead', '', '', []]]);
    expect(r0.remaining).toBe(0);

    const topic = await createTopic(1);
    const groupId = uniqueName('gapi-joined');
    const protocols = [{ name: 'range', metadata: subscriptionMetadata([topic]) }];
    const join = { groupId, sessionTimeoutMs: 6_000, rebalanceTimeoutMs: 6_000, protocols };
    const { memberId } = await joinGroupV5(conn, { ...join, memberId: '' });
    const joined = await joinGroupV5(conn, { ...join, memberId });
    expect(joined).toMatchObject({ errorCode: 0, generationId: 1, leader: memberId, protocolName: 'range' });

    const r4 = await call(conn, ApiKey.DescribeGroups, 4, new Writer().writeArray([groupId], (w, g) => w.writeString(g)).writeBoolean(true));
    r4.readInt32();
    const [described] = r4.readArray((g) => ({
      errorCode: g.readInt16(),
      groupId: g.readString(),
      state: g.readString(),
      protocolType: g.readString(),
      protocolData: g.readString(),
      members: g.readArray((m) => ({
        memberId: m.readString(),
        groupInstanceId: m.readNullableString(),
        clientId: m.readString(),
        clientHost: m.readString(),
        metadata: m.readBytes().length,
        assignment: m.readBytes().length,
      })),
      authorizedOperations: g.readInt32(),
    }));
    expect(described).toEqual({
      errorCode: 0,
      groupId,
      state: 'CompletingRebalance',
      protocolType: 'consumer',
      protocolData: '',
      members: [{ memberId, groupInstanceId: null, clientId: 'raw-test', clientHost: '/127.0.0.1', metadata: 0, assignment: 0 }],
      authorizedOperations: (1 << 3) | (1 << 6) | (1 << 8),
    });
  });

  it('LeaveGroup v1 answers with the member\'s own error; v3 answers per member', async () => {
    const topic = await createTopic(1);
    const groupId = uniqueName('gapi-leave');
    const protocols = [{ name: 'range', metadata: subscriptionMetadata([topic]) }];
    const join = { groupId, sessionTimeoutMs: 6_000, rebalanceTimeoutMs: 6_000, protocols };
    const { memberId } = await joinGroupV5(conn, { ...join, memberId: '' });
    await joinGroupV5(conn, { ...join, memberId });

    const v1 = await call(conn, ApiKey.LeaveGroup, 1, new Writer().writeString(groupId).writeString('not-a-member'));
    expect([v1.readInt32(), v1.readInt16(), v1.remaining]).toEqual([0, 25, 0]);

    const v3 = await call(
      conn,
      ApiKey.LeaveGroup,
      3,
      new Writer().writeString(groupId).writeArray([memberId, 'not-a-member'], (w, id) => w.writeString(id).writeNullableString(null)),
    );
    expect(v3.readInt32()).toBe(0);
    expect(v3.readInt16()).toBe(0);
    expect(v3.readArray((m) => [m.readString(), m.readNullableString(), m.readInt16()])).toEqual([
      [memberId, null, 0],
      ['not-a-member', null, 25],
    ]);

    const list = await call(conn, ApiKey.ListGroups, 2, new Writer());
    expect(list.readInt32()).toBe(0);
    expect(list.readInt16()).toBe(0);
    expect(list.readArray((g) => [g.readString(), g.readString()])).toContainEqual([groupId, 'consumer']);
  });

  it('JoinGroup v0 admits a member without the KIP-394 round trip', async () => {
    const groupId = uniqueName('gapi-v0');
    const body = new Writer()
      .writeString(groupId)
      .writeInt32(6_000)
      .writeString('')
      .writeString('consumer')
      .writeArray([{ name: 'range', metadata: Buffer.from('m') }], (w, p) => w.writeString(p.name).writeBytes(p.metadata));
    const r = await call(conn, ApiKey.JoinGroup, 0, body);
    const errorCode = r.readInt16();
    const generationId = r.readInt32();
    const protocolName = r.readString();
    const leader = r.readString();
    const memberId = r.readString();
    const members = r.readArray((m) => [m.readString(), m.readBytes().toString()]);
    expect({ errorCode, generationId, protocolName }).toEqual({ errorCode: 0, generationId: 1, protocolName: 'range' });
    expect(memberId).toMatch(/^raw-test-/);
    expect(leader).toBe(memberId);
    expect(members).toEqual([[memberId, 'm']]);
  });
});
