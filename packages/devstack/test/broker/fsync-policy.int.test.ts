import { mkdtempSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type * as NodeFs from 'node:fs';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { BrokerPlugin } from '../../src/broker/broker-plugin.js';
import type { FsyncPolicy } from '../../src/broker/fsync-policy.js';
import { groupCoordinatorPlugin } from '../../src/broker/group/plugin.js';
import { startBroker, type StartBrokerOptions } from '../../src/broker/index.js';
import { ApiKey } from '../../src/broker/protocol/api-keys.js';
import { KafkaErrorCode } from '../../src/broker/protocol/errors.js';
import { Writer } from '../../src/broker/protocol/writer.js';
import { uniqueName } from '../helpers/unique.js';
import { call } from './group-wire.js';
import { kafkaClient } from './kafkajs-helpers.js';
import { RawConnection } from './raw-client.js';

/** Paths of the files fdatasync was called on, in call order (resolved through /proc/self/fd). */
const synced = vi.hoisted(() => [] as string[]);
/** The same for fsync, which is what directories get. */
const fsynced = vi.hoisted(() => [] as string[]);

// Spy on the real fdatasync and fsync (they still run) to see what the broker forced to disk.
vi.mock('node:fs', async (importOriginal) => {
  const fs = await importOriginal<typeof NodeFs>();
  const fdatasyncSync = (fd: number): void => {
    synced.push(fs.readlinkSync(`/proc/self/fd/${fd}`));
    fs.fdatasyncSync(fd);
  };
  const fsyncSync = (fd: number): void => {
    fsynced.push(fs.readlinkSync(`/proc/self/fd/${fd}`));
    fs.fsyncSync(fd);
  };
  return { ...fs, default: { ...fs, fdatasyncSync, fsyncSync }, fdatasyncSync, fsyncSync };
});

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  synced.length = 0;
  fsynced.length = 0;
});

/** A plugin that only records the fsync policy its context carries. */
function policyProbe(seen: FsyncPolicy[]): BrokerPlugin {
  return {
    name: 'fsync-probe',
    start(ctx) {
      seen.push(ctx.fsync);
      return { handlers: [] };
    },
  };
}

/**
 * Starts a broker with `fsync` on a fresh data dir, commits offsets for a group and deletes the
 * topic (both go through the offset log); returns the offset log's path and the policy a plugin saw.
 */
async function commitAndDelete(fsync: StartBrokerOptions['fsync']): Promise<{ offsetLog: string; topicsDir: string; topic: string; seen: FsyncPolicy[] }> {
  const dataDir = mkdtempSync(join(tmpdir(), 'broker-fsync-'));
  cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
  const seen: FsyncPolicy[] = [];
  const broker = await startBroker({ port: 0, dataDir, ...(fsync === undefined ? {} : { fsync }), plugins: [groupCoordinatorPlugin(), policyProbe(seen)] });
  cleanups.push(() => broker.close());
  const admin = kafkaClient(broker.address).admin();
  await admin.connect();
  cleanups.push(() => admin.disconnect());
  const [topic, groupId] = [uniqueName('fsync-t'), uniqueName('fsync-g')];
  await admin.createTopics({ topics: [{ topic, numPartitions: 1 }] });

  // A "simple" commit (generation -1, no member), as admin tools send it; raw, because kafkajs's
  // admin.setOffsets first waits out a consumer join.
  const conn = await RawConnection.open(broker.port);
  cleanups.push(() => void conn.socket.destroy());
  const commit = new Writer().writeString(groupId).writeInt32(-1).writeString('').writeInt64(-1n);
  commit.writeArray([topic], (w, t) => w.writeString(t).writeArray([0], (pw, p) => pw.writeInt32(p).writeInt64(5n).writeString('')));
  const r = await call(conn, ApiKey.OffsetCommit, 2, commit);
  const answer = r.readArray((tr) => [tr.readString(), tr.readArray((pr) => [pr.readInt32(), pr.readInt16()] as const)] as const);
  expect(answer).toEqual([[topic, [[0, KafkaErrorCode.NONE]]]]);
  const [committed] = await admin.fetchOffsets({ groupId, topics: [topic] });
  expect(committed?.partitions.map((p) => p.offset)).toEqual(['5']);
  await admin.deleteTopics({ topics: [topic] });
  return { offsetLog: join(realpathSync(dataDir), 'groups', 'offsets.jsonl'), topicsDir: join(realpathSync(dataDir), 'topics'), topic, seen };
}

describe("broker option fsync reaches the group offset log", () => {
  it("under 'always' the commit and the topic deletion are each fdatasync'ed", async () => {
    const { offsetLog, seen } = await commitAndDelete('always');
    expect(seen).toEqual(['always']);
    expect(synced.filter((p) => p === offsetLog)).toHaveLength(2);
  });

  it("under the default 'never' the offset log is not fdatasync'ed", async () => {
    const { offsetLog, seen } = await commitAndDelete(undefined);
    expect(seen).toEqual(['never']);
    expect(synced.filter((p) => p === offsetLog)).toEqual([]);
  });
});

describe("broker option fsync reaches the topic directories (regression: a power cut could unname a synced segment or resurrect a deleted topic)", () => {
  it("under 'always' creating a topic fsyncs its partition directories and topics/, deleting it fsyncs topics/ again", async () => {
    const { topicsDir, topic } = await commitAndDelete('always');
    expect(fsynced.filter((p) => p === join(topicsDir, topic, '0'))).toHaveLength(1);
    // Three: the group coordinator's __consumer_offsets created on start, the topic, its deletion.
    expect(fsynced.filter((p) => p === join(topicsDir, '__consumer_offsets', '0'))).toHaveLength(1);
    expect(fsynced.filter((p) => p === topicsDir)).toHaveLength(3);
  });

  it("under the default 'never' only topic.json's own replacement is fsync'ed", async () => {
    const { topicsDir, topic } = await commitAndDelete(undefined);
    expect(fsynced.filter((p) => p === join(topicsDir, topic, '0') || p === topicsDir)).toEqual([]);
    expect(fsynced.filter((p) => p === join(topicsDir, topic))).toHaveLength(1);
  });
});

/**
 * Starts a broker with `fsync` on a fresh data dir and runs one committed transaction (records and
 * offsets); returns the paths of transactions.json's temp file and of the data dir, resolved.
 */
async function oneTransaction(fsync: StartBrokerOptions['fsync']): Promise<{ tmp: string; dataDir: string }> {
  const dataDir = mkdtempSync(join(tmpdir(), 'broker-fsync-txn-'));
  cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
  const broker = await startBroker({ port: 0, dataDir, ...(fsync === undefined ? {} : { fsync }), plugins: [groupCoordinatorPlugin()] });
  cleanups.push(() => broker.close());
  const kafka = kafkaClient(broker.address);
  const admin = kafka.admin();
  await admin.connect();
  cleanups.push(() => admin.disconnect());
  const topic = uniqueName('fsync-txn');
  await admin.createTopics({ topics: [{ topic, numPartitions: 1 }] });
  const producer = kafka.producer({ transactionalId: uniqueName('fsync-tid'), idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  cleanups.push(() => producer.disconnect());
  const txn = await producer.transaction();
  await txn.send({ topic, messages: [{ key: 'k', value: 'v' }] });
  await txn.sendOffsets({ consumerGroupId: uniqueName('fsync-txn-g'), topics: [{ topic, partitions: [{ partition: 0, offset: '1' }] }] });
  await txn.commit();
  const resolved = realpathSync(dataDir);
  return { tmp: join(resolved, 'transactions.json.tmp'), dataDir: resolved };
}

describe('broker option fsync reaches the transaction state (regression: four fsyncs per transaction blocked the broker ~40 ms each transaction)', () => {
  it("under 'always' every change of the transaction state is fsync'ed, file and directory", async () => {
    const { tmp, dataDir } = await oneTransaction('always');
    // InitProducerId, AddPartitionsToTxn, AddOffsetsToTxn, PrepareCommit, CompleteCommit.
    expect(fsynced.filter((p) => p === tmp)).toHaveLength(5);
    expect(fsynced.filter((p) => p === dataDir).length).toBeGreaterThanOrEqual(5);
  });

  it("under the default 'never' the transaction state is written but not fsync'ed", async () => {
    const { tmp, dataDir } = await oneTransaction(undefined);
    expect(fsynced.filter((p) => p === tmp)).toEqual([]);
    // producer-ids.json (a new producer id) is still replaced durably: rare, once per new id.
    expect(fsynced.filter((p) => p === dataDir).length).toBeLessThanOrEqual(2);
    const file = JSON.parse(readFileSync(join(dataDir, 'transactions.json'), 'utf8')) as { transactions: Array<{ state: string }> };
    expect(file.transactions.map((t) => t.state)).toEqual(['CompleteCommit']);
  });
});
